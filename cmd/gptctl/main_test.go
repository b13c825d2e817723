package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/spf13/cobra"

	"gptctl/train"
)

// runCLI runs gptctl in-process and returns its exit status, stdout and
// stderr. The writers take writes from more than one goroutine, as
// os.Stderr does (a signal's notice comes from its own).
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuilder
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPretrainFlags(t *testing.T) {
	cases := []struct {
		args []string
		want PretrainOptions
	}{
		{nil, PretrainOptions{}},
		{[]string{"-c", "x.yaml", "--set", "a=1", "--set", "b=2", "--data", "d.txt", "-o", "out", "--resume", "--device", "cpu"},
			PretrainOptions{ConfigPath: "x.yaml", Sets: []string{"a=1", "b=2"}, Data: "d.txt", OutDir: "out", Resume: true, Device: "cpu"}},
		{[]string{"--init", "runs/pre", "--out", "runs/more"}, PretrainOptions{InitDir: "runs/pre", OutDir: "runs/more"}},
	}
	for _, c := range cases {
		var got *PretrainOptions
		cmd := NewCmdPretrain(func(o *PretrainOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.ConfigPath != c.want.ConfigPath || strings.Join(got.Sets, ",") != strings.Join(c.want.Sets, ",") ||
			got.Data != c.want.Data || got.InitDir != c.want.InitDir || got.OutDir != c.want.OutDir || got.Resume != c.want.Resume || got.Device != c.want.Device {
			t.Errorf("args %v parsed to %+v", c.args, got)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.Contains(out, "gptctl") || !strings.Contains(out, "cuda:") || !strings.Contains(out, "blas:") {
		t.Errorf("version: status %d, output %q", code, out)
	}
	for _, flag := range []string{"--version", "-v"} { // as most tools take it
		if c, o, _ := runCLI(t, flag); c != 0 || o != out {
			t.Errorf("gptctl %s: status %d, output %q; want version's %q", flag, c, o, out)
		}
	}
}

func TestCompletion(t *testing.T) {
	code, out, _ := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "gptctl") {
		t.Errorf("completion bash: status %d", code)
	}
	// Flags that take one of a few words complete them.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--device", ""}, "auto\ncpu\ncuda\n"},
		{[]string{"pretrain", "--device", ""}, "auto\ncpu\ncuda\n"},
		{[]string{"eval", "--format", ""}, "tsv\ncsv\njsonl\n"},
		{[]string{"report", "--format", ""}, "png\nsvg\nhtml\n"},
		{[]string{"report", "--format", "png,"}, "png,svg\npng,html\n"},
		{[]string{"report", "--format", "svg,png,h"}, "svg,png,html\n:"},
		{[]string{"eval", "--split", ""}, "val\ntrain\n"},
	} {
		code, out, _ := runCLI(t, append([]string{"__complete"}, c.args...)...)
		if code != 0 || !strings.HasPrefix(out, c.want) {
			t.Errorf("completion of %v: status %d, %q; want %q first", c.args, code, out, c.want)
		}
	}
}

// --max-time stops a run cleanly, with a checkpoint and status 0, before
// the wall-time limit of a batch job.
func TestMaxTimeFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, out, stderr := runCLI(t, "pretrain", "--max-time", "500ms", "--set", "max_steps=1000000", "--set", "n_layer=1",
		"--set", "n_embd=16", "--set", "n_head=2", "--set", "n_ctx=16", "--out", dir)
	if code != 0 || !strings.Contains(out, `"status": "interrupted"`) || !strings.Contains(out, "max_time 500ms reached") {
		t.Fatalf("status %d, stdout %s, stderr %s", code, out, stderr)
	}
	// --max-time is that job's: it is not written into the run's config, so
	// a --resume without it has the config's max_time (none here); a
	// max_time set in the config stays the run's.
	var sum struct{ Step int }
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{nil, `max_time: ""`},
		{[]string{"--max-time", "1h"}, `max_time: ""`},
		{[]string{"--set", "max_time=1h"}, "max_time: 1h"},
		{nil, "max_time: 1h"},
	} {
		sum.Step++
		args := append([]string{"pretrain", "--resume", "--out", dir, "--set", fmt.Sprintf("max_steps=%d", sum.Step)}, c.flags...)
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: status %d, %s", args, code, stderr)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "train.yaml")); !strings.Contains(string(b), c.want) {
			t.Errorf("%v: train.yaml lacks %q:\n%s", args, c.want, b)
		}
	}
}

// gptctl help WORDS prints the help of the command they name.
func TestHelpCommand(t *testing.T) {
	code, out, errs := runCLI(t, "help", "data", "prepare")
	if code != 0 || !strings.Contains(out, "gptctl data prepare") || errs != "" {
		t.Errorf("help data prepare: exit %d, stdout %.80q, stderr %q", code, out, errs)
	}
}

// Every command's --help has examples (the README promises it).
func TestEveryCommandHasExamples(t *testing.T) {
	root := NewCmdRoot()
	finishTree(root)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.Hidden && c.Example == "" {
			t.Errorf("%s --help has no examples", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// Without --out a job names its run directory runs/KIND-TIME: a file named
// runs in the way is a usage error as it is under --out, and a job that
// fails before writing into the directory it named leaves none behind.
func TestDefaultRunDir(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("runs", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "pretrain", "--set", "max_steps=1"); code != exitUsage || !strings.Contains(stderr, "runs") {
		t.Errorf("a file named runs: exit %d, %s; want exit %d naming it", code, stderr, exitUsage)
	}
	if err := os.Remove("runs"); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "pretrain", "--set", "batch_size=100000000"); code != exitUsage {
		t.Fatalf("batch_size 1e8: exit %d, %s; want %d", code, stderr, exitUsage)
	}
	if left, _ := os.ReadDir("runs"); len(left) > 0 {
		t.Errorf("a failed job left %s in runs/", left[0].Name())
	}
}

// --cpuprofile writes its profile when the command fails too.
func TestCPUProfileOnFailure(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if code, _, _ := runCLI(t, "--cpuprofile", prof, "eval", "--model", filepath.Join(t.TempDir(), "none"), "--data", "x"); code != exitUsage {
		t.Fatalf("eval of a missing model: exit %d", code)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("the profile of a failed command: %v, %v; want it written", fi, err)
	}
}

// --init with --resume is one flag too many, said without naming an --out
// that was not given.
func TestInitWithResume(t *testing.T) {
	code, _, stderr := runCLI(t, "pretrain", "--init", "runs/pre", "--resume")
	if code != exitUsage || !strings.Contains(stderr, "pass one of them") || strings.Contains(stderr, "saved in ;") {
		t.Errorf("--init with --resume: exit %d, %s", code, stderr)
	}
}

// A flag's bad number or boolean is named with what it should be, not
// with strconv's words; exit status 2.
// --init with several --set of the model's keys names each of them, on a
// line of its own, not the first alone.
func TestInitModelSetsAllNamed(t *testing.T) {
	err := modelSetsWithInit([]string{"vocab_size=0", "lr=1e-4", "arch=gpt1"})
	want := "--set vocab_size=0 with init_from: the model's architecture and tokenizer come from init_from, which replaces vocab_size; leave it out, or train a new model without init_from\n" +
		"--set arch=gpt1 with init_from: the model's architecture and tokenizer come from init_from, which replaces arch; leave it out, or train a new model without init_from"
	if err == nil || err.Error() != want || exitCode(err) != 2 {
		t.Errorf("modelSetsWithInit: %v (exit %d), want\n%s", err, exitCode(err), want)
	}
}

func TestFlagValueErrors(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"generate --seed -1", "gptctl: --seed -1 is not a whole number, 0 or more\n"},
		{"generate --seed 99999999999999999999999", "gptctl: --seed 99999999999999999999999 is out of range (want a whole number, 0 or more)\n"},
		{"generate --top-k x", "gptctl: --top-k x is not an integer\n"},
		{"generate --temperature abc", "gptctl: --temperature abc is not a number\n"},
		{"generate --ignore-eot=maybe", "gptctl: --ignore-eot maybe is not true or false\n"},
		{"pretrain --max-time 5x", `--max-time "5x" is not a positive duration such as 3h50m`},
	} {
		code, _, stderr := runCLI(t, strings.Fields(c.args)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("gptctl %s: status %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// A run that fails once started (here its loss stops being finite, exit
// status 3) prints its summary on stdout as a completed one does: status
// failed and the error, as in DIR/summary.json.
func TestFailedRunPrintsSummary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI(t, "pretrain", "--out", out, "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2",
		"--set", "n_ctx=16", "--set", "max_steps=20", "--set", "lr=1e30", "--set", "warmup_steps=0")
	var sum struct{ Status, Error string }
	if code != exitNaN || json.Unmarshal([]byte(stdout), &sum) != nil || sum.Status != "failed" || sum.Error == "" {
		t.Fatalf("status %d, stdout %q, stderr %q; want 3 and a summary with status failed", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil || !strings.Contains(string(b), `"status": "failed"`) {
		t.Errorf("summary.json: %v\n%s", err, b)
	}
}

// A job whose summary cannot be printed (stdout on a full disk) exits 1
// saying that the job ended as its summary.json says, not with the write
// error alone, which read as the run failing.
func TestJobSummaryNotPrinted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	full := failWriter{syscall.ENOSPC}
	err := runJob("pretrain", out, false, 0, full, io.Discard, func(context.Context, train.Options) (*train.Summary, error) {
		return &train.Summary{}, nil
	})
	want := "the pretrain job ended as " + filepath.Join(out, "summary.json") + " says; printing its summary failed"
	if err == nil || !strings.Contains(err.Error(), want) || exitCode(err) != exitError {
		t.Errorf("got %v (exit %d), want exit 1 with %q", err, exitCode(err), want)
	}
}

// failWriter fails every write with its error.
type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// A panic of the command's goroutine is a bug: exit status 1 with the
// message and stack, not Go's 2 (a config error's).
func TestPanicIsExitError(t *testing.T) {
	var stderr strings.Builder
	code := func() (code int) {
		defer recoverCrash(&stderr, &code)
		panic("a bug")
	}()
	if code != exitError || !strings.Contains(stderr.String(), "gptctl: internal error (a bug; please report it with this output): a bug") || !strings.Contains(stderr.String(), "TestPanicIsExitError") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
