//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"gptctl/internal/testpipe"
	"gptctl/train"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles gptctl once for the tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "gptctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// defaultStopSignals makes the runs a test starts begin with SIGHUP and
// SIGINT at their defaults: under nohup, or as a background job of a
// script, the test process has them ignored, which a child inherits (and
// gptctl keeps, as nohup asks); a signal the parent catches starts at its
// default in a child.
func defaultStopSignals(t *testing.T) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGINT)
	t.Cleanup(func() { signal.Stop(ch) })
}

var tinyRun = []string{"pretrain", "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2", "--set", "n_ctx=16",
	"--set", "batch_size=4", "--set", "max_steps=300", "--set", "eval_interval=100", "--set", "eval_batches=4",
	"--set", "log_interval=1", "--set", "checkpoint_interval=0", "--set", "dropout=0.1"}

// A run stopped with SIGTERM writes a checkpoint and exits 0; --resume then
// finishes it with exactly the weights and validation loss of a run that was
// never stopped.
func TestSIGTERMThenResume(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	straight, stopped := filepath.Join(dir, "straight"), filepath.Join(dir, "stopped")
	if out, err := exec.Command(bin, append(tinyRun, "--out", straight)...).CombinedOutput(); err != nil {
		t.Fatalf("straight run: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, append(tinyRun, "--out", stopped)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForSteps(t, filepath.Join(stopped, "metrics.jsonl"), 20)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM gptctl exited with %v, want status 0\n%s", err, stderr.String())
	}
	sum := readSummary(t, stopped)
	if sum.Status != "interrupted" || sum.Step >= 300 {
		t.Fatalf("summary after SIGTERM: %+v", sum)
	}
	t.Logf("stopped at step %d", sum.Step)

	if out, err := exec.Command(bin, "pretrain", "--resume", "--out", stopped).CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	a, b := readSummary(t, straight), readSummary(t, stopped)
	if b.Status != "completed" || b.Step != 300 || a.ValLoss != b.ValLoss {
		t.Errorf("resumed run %+v, uninterrupted %+v: want the same final val_loss", b, a)
	}
	wa, _ := os.ReadFile(filepath.Join(straight, "checkpoint", "model.safetensors"))
	wb, _ := os.ReadFile(filepath.Join(stopped, "checkpoint", "model.safetensors"))
	if len(wa) == 0 || !bytes.Equal(wa, wb) {
		t.Error("the resumed run's weights differ from the uninterrupted run's")
	}
	lines, _ := os.ReadFile(filepath.Join(stopped, "metrics.jsonl"))
	if n := strings.Count(string(lines), "\n"); n != 300 {
		t.Errorf("metrics.jsonl has %d lines, want one per step (300)", n)
	}
}

type summary struct {
	Status  string  `json:"status"`
	Step    int     `json:"step"`
	ValLoss float64 `json:"val_loss"`
}

func readSummary(t *testing.T, dir string) summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitForSteps(t *testing.T, metrics string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(metrics)
		if strings.Count(string(b), "\n") >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %d steps in time", metrics, n)
}

// SIGINT, SIGUSR1 (a scheduler's warning) and SIGHUP (the terminal
// closed) stop a run as SIGTERM does: a checkpoint, status 0,
// "interrupted" in summary.json.
func TestStopSignals(t *testing.T) {
	bin := buildBinary(t)
	defaultStopSignals(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP} {
		dir := filepath.Join(t.TempDir(), "run")
		cmd := exec.Command(bin, append(tinyRun, "--set", "max_steps=100000", "--out", dir)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForSteps(t, filepath.Join(dir, "metrics.jsonl"), 5)
		cmd.Process.Signal(sig)
		if err := cmd.Wait(); err != nil {
			t.Errorf("after %v gptctl exited with %v, want status 0", sig, err)
			continue
		}
		if s := readSummary(t, dir); s.Status != "interrupted" {
			t.Errorf("after %v: summary %+v", sig, s)
		}
		if _, err := os.Stat(filepath.Join(dir, "checkpoint", "state.json")); err != nil {
			t.Errorf("after %v: no checkpoint", sig)
		}
	}
}

// waitForText waits until w holds text.
func waitForText(t *testing.T, w *syncBuilder, text string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(w.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in time:\n%s", text, w.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowRun's steps take long enough (about three seconds on 2 cores) that a
// clean stop cannot finish within the tests' waits between signals.
var slowRun = []string{"pretrain", "--set", "n_layer=3", "--set", "n_embd=256", "--set", "n_head=4", "--set", "n_ctx=256",
	"--set", "batch_size=24", "--set", "max_steps=1000", "--set", "log_interval=1"}

// startRun starts the command name with args, --out a new run directory
// (returned), its stderr kept, and waits for its first steps logged.
func startRun(t *testing.T, steps int, name string, args ...string) (cmd *exec.Cmd, dir string, stderr *syncBuilder) {
	t.Helper()
	dir, stderr = filepath.Join(t.TempDir(), "run"), &syncBuilder{}
	cmd = exec.Command(name, append(args, "--out", dir)...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForSteps(t, filepath.Join(dir, "metrics.jsonl"), steps)
	return cmd, dir, stderr
}

// A second SIGINT does not wait for the clean stop the first began: it
// ends the process at once, by the signal.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	defaultStopSignals(t)
	cmd, _, stderr := startRun(t, 1, buildBinary(t), slowRun...)
	cmd.Process.Signal(syscall.SIGINT)
	// The window for copies opens when gptctl takes the first signal, which
	// on a loaded machine can be a while after it was sent: wait for its
	// notice, then past the window.
	waitForText(t, stderr, "stopping cleanly")
	time.Sleep(repeatWindow + 200*time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("after two SIGINTs gptctl exited with %v, want to be ended by the second\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "a second SIGINT (Ctrl-C), SIGTERM or SIGHUP stops at once") {
		t.Errorf("stderr does not say what a second signal does:\n%s", stderr.String())
	}
}

// One stop delivered twice, as GNU timeout delivers it (to the process,
// then to its group), stops the run once, cleanly: a checkpoint, status 0.
// Taken as a second signal, the copy lost the checkpoint.
func TestRepeatedSignalIsOneStop(t *testing.T) {
	cmd, dir, stderr := startRun(t, 1, buildBinary(t), slowRun...)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after a SIGTERM and its copy gptctl exited with %v, want status 0\n%s", err, stderr.String())
	}
	if s := readSummary(t, dir); s.Status != "interrupted" {
		t.Errorf("summary %+v, want interrupted", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint", "state.json")); err != nil {
		t.Errorf("no checkpoint: %v", err)
	}
}

// A job started with SIGHUP ignored (nohup) keeps it ignored: a hangup
// does not stop it.
func TestNohupKeepsSIGHUPIgnored(t *testing.T) {
	cmd, dir, stderr := startRun(t, 5, "sh", append([]string{"-c", `trap "" HUP; exec "$@"`, "sh", buildBinary(t)}, tinyRun...)...)
	cmd.Process.Signal(syscall.SIGHUP)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gptctl under nohup exited with %v after SIGHUP, want status 0\n%s", err, stderr.String())
	}
	if s := readSummary(t, dir); s.Status != "completed" {
		t.Errorf("summary %+v, want completed: SIGHUP is ignored under nohup", s)
	}
}

// A job whose log reader goes away (| tee, | head, a closed terminal)
// trains on to the end: a write to the closed pipe is an error, not a kill.
func TestClosedLogPipe(t *testing.T) {
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, append(tinyRun, "--set", "max_steps=200", "--out", dir)...)
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForSteps(t, filepath.Join(dir, "metrics.jsonl"), 5)
	logs.Close() // the reader is gone; gptctl logs a line every step
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gptctl exited with %v after its log pipe closed, want status 0", err)
	}
	if s := readSummary(t, dir); s.Status != "completed" {
		t.Errorf("summary %+v, want completed", s)
	}
}

var resumedFrom = regexp.MustCompile(`resuming from \S+ at step \d+`)

// SIGKILL at random instants, most of them inside a checkpoint write (one
// is written every step), never leaves a run that cannot resume: each
// resume finds a good checkpoint, and the run ends bit for bit where an
// uninterrupted run ends, with one metrics line per step.
func TestSIGKILLAnywhere(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	args := append(append([]string{}, tinyRun...), "--set", "max_steps=120", "--set", "checkpoint_interval=1")
	straight, killed := filepath.Join(dir, "straight"), filepath.Join(dir, "killed")
	if out, err := exec.Command(bin, append(args, "--out", straight)...).CombinedOutput(); err != nil {
		t.Fatalf("straight run: %v\n%s", err, out)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("kill delays from seed %d", seed)

	cmd := exec.Command(bin, append(args, "--out", killed)...)
	for kills := 0; ; kills++ {
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if kills == 0 {
			waitForSteps(t, filepath.Join(killed, "metrics.jsonl"), 3) // train.yaml exists
		}
		// stderr is read only once the process has exited: until then the
		// copying goroutine of os/exec writes to it.
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		if kills < 8 {
			select {
			case err = <-done:
			case <-time.After(time.Duration(rng.IntN(150)) * time.Millisecond):
				cmd.Process.Kill()
				<-done
				if m := resumedFrom.FindString(stderr.String()); m != "" {
					t.Logf("killed after %s", m)
				}
				cmd = exec.Command(bin, "pretrain", "--resume", "--out", killed)
				continue
			}
		} else {
			err = <-done
		}
		if err != nil {
			t.Fatalf("after %d kills, gptctl pretrain --resume: %v\n%s", kills, err, stderr.String())
		}
		t.Logf("finished after %d kills (%s)", kills, resumedFrom.FindString(stderr.String()))
		break
	}
	if s := readSummary(t, killed); s.Status != "completed" || s.Step != 120 {
		t.Fatalf("summary %+v", s)
	}
	for _, f := range []string{"model.safetensors", "optimizer.safetensors"} {
		wa, _ := os.ReadFile(filepath.Join(straight, "checkpoint", f))
		wb, _ := os.ReadFile(filepath.Join(killed, "checkpoint", f))
		if len(wa) == 0 || !bytes.Equal(wa, wb) {
			t.Errorf("the killed and resumed run's %s differs from the uninterrupted run's", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(killed, "metrics.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		var m struct{ Step int }
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Step != i+1 {
			t.Fatalf("metrics.jsonl line %d is %q, want step %d", i+1, l, i+1)
		}
	}
	if len(lines) != 120 {
		t.Errorf("metrics.jsonl has %d lines, want 120", len(lines))
	}
}

// The exit statuses of a job script's resumes: a finished run exits 0 and
// is left as it was; a max_steps below the run's step, a changed
// tokenizer, or an --out that cannot be a directory exit 2 naming the
// problem.
func TestResumeExitStatuses(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	args := append(append([]string{}, tinyRun...), "--set", "max_steps=20", "--set", "eval_interval=10", "--set", "log_interval=5", "--out", run)
	if code, _, stderr := runCLI(t, args...); code != 0 {
		t.Fatalf("tiny run: exit %d\n%s", code, stderr)
	}
	summary, _ := os.ReadFile(filepath.Join(run, "summary.json"))
	events, _ := filepath.Glob(filepath.Join(run, "events.out.tfevents.*"))
	code, stdout, stderr := runCLI(t, "pretrain", "--resume", "--out", run)
	if code != 0 || !strings.Contains(stderr, "is complete at step 20") || !strings.Contains(stdout, `"status": "completed"`) {
		t.Errorf("--resume of a finished run: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	after, _ := os.ReadFile(filepath.Join(run, "summary.json"))
	if events2, _ := filepath.Glob(filepath.Join(run, "events.out.tfevents.*")); !bytes.Equal(after, summary) || len(events2) != len(events) {
		t.Errorf("--resume of a finished run changed summary.json or the event files:\n%s", after)
	}
	file := filepath.Join(dir, "notes.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pretrain", "--resume", "--out", run, "--set", "max_steps=5"}, "the run is at step 20"},
		{[]string{"pretrain", "--resume", "--out", run, "--set", "tokenizer=byte"}, "tokenizer"},
		{[]string{"pretrain", "--out", run}, "already holds a run"},
		{[]string{"pretrain", "--set", "max_steps=1", "--out", filepath.Join(file, "run")}, file},
	} {
		if code, _, stderr := runCLI(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// A train.yaml cut at a line's end reads as YAML: the keys it lost
	// are named, with the copy to restore, rather than taken as defaults.
	saved, _ := os.ReadFile(filepath.Join(run, "train.yaml"))
	cut := saved[:bytes.Index(saved, []byte("\nmax_steps:"))+1]
	os.WriteFile(filepath.Join(run, "train.yaml"), cut, 0o644)
	want := "lacks " + fmt.Sprint(bytes.Count(saved, []byte("\n"))-bytes.Count(cut, []byte("\n"))) + " keys that the copy in the run's checkpoint holds (max_steps, "
	if code, _, stderr := runCLI(t, "pretrain", "--resume", "--out", run); code != 2 || !strings.Contains(stderr, want) ||
		!strings.Contains(stderr, "cp "+filepath.Join(run, "checkpoint", "train.yaml")) {
		t.Errorf("--resume with a train.yaml cut short: exit %d, %q; want 2 and %q", code, stderr, want)
	}
	// An emptied train.yaml is named, with the copy to restore, rather
	// than read as every default (which refused changes no one made).
	os.WriteFile(filepath.Join(run, "train.yaml"), nil, 0o644)
	want = "train.yaml is empty (damaged); the run's checkpoint holds a copy: cp " + filepath.Join(run, "checkpoint", "train.yaml")
	if code, _, stderr := runCLI(t, "pretrain", "--resume", "--out", run, "--set", "max_steps=25"); code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("--resume with an empty train.yaml: exit %d, %q; want 2 and %q", code, stderr, want)
	}
	os.RemoveAll(filepath.Join(run, "checkpoint.prev")) // only checkpoint.prev left
	os.Rename(filepath.Join(run, "checkpoint"), filepath.Join(run, "checkpoint.prev"))
	want = "cp " + filepath.Join(run, "checkpoint.prev", "train.yaml")
	if code, _, stderr := runCLI(t, "pretrain", "--resume", "--out", run, "--set", "max_steps=25"); code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("--resume with an empty train.yaml and no checkpoint/: exit %d, %q; want 2 and %q", code, stderr, want)
	}
}

// The first signal's notice goes to the command's log (through termLog on
// a terminal), and the context ends with the signal as its cause.
func TestSignalContextNotice(t *testing.T) {
	var out syncBuilder
	ctx, stop := signalContext(&out)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Skip(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGUSR1 did not cancel the context")
	}
	if got := context.Cause(ctx).Error(); !strings.Contains(got, "user defined signal 1") {
		t.Errorf("cause %q", got)
	}
	if got := out.String(); !strings.HasPrefix(got, "gptctl: user defined signal 1: stopping cleanly") {
		t.Errorf("notice %q", got)
	}
}

// A stop signal that comes before the job handles signals (while the
// process starts and reads its config) is held for it: the run stops
// cleanly before its first step, status 0, where it was killed (SIGTERM)
// or went unheard (SIGUSR1).
func TestEarlySignalStopsJob(t *testing.T) {
	catchEarlySignals([]string{"pretrain"})
	defer releaseEarlySignals()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Skip(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(earlySignals) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("SIGUSR1 was not caught")
		}
	}
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "pretrain", "--set", "max_steps=50", "--out", dir)
	if code != 0 || !strings.Contains(stdout, `"status": "interrupted"`) || !strings.Contains(stderr, "stopped before step 1") {
		t.Errorf("exit %d, stdout %s, stderr %s; want 0, a run interrupted before step 1", code, stdout, stderr)
	}
	if earlySignals != nil {
		t.Error("the job did not take the early signals over")
	}
}

// A signal stops predict between batches: status 1, and --out neither
// written nor left as a temporary file.
func TestPredictStoppedBySignal(t *testing.T) {
	if testing.Short() {
		t.Skip("pretrains and finetunes a small model")
	}
	dir := t.TempDir()
	pre, ft := tinyPretrained(t, dir, 2), filepath.Join(dir, "ft")
	var rows strings.Builder
	rows.WriteString("text\tlabel\n")
	for i := range 100_000 {
		fmt.Fprintf(&rows, "The %s was here, %d times.\t%d\n", []string{"cat", "dog"}[i%2], i, i%2)
	}
	task := writeTemp(t, dir, "task.tsv", rows.String())
	cfg := writeTemp(t, dir, "ft.yaml", fmt.Sprintf("task: {type: classification, train: %s, val_fraction: 0.001, header: true, columns: {text: text, label: label}, labels: [\"0\", \"1\"]}\nmax_steps: 1\nbatch_size: 4\n", task))
	if code, _, stderr := runCLI(t, "finetune", "-c", cfg, "--init", pre, "--out", ft); code != 0 {
		t.Fatalf("finetune: %s", stderr)
	}
	out := filepath.Join(dir, "preds.jsonl")
	done := make(chan struct{})
	var log syncBuilder
	go func() { // the signal, once predict writes --out: its first log line (the rows' digits are outside the vocabulary) comes from its reading of the rows
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if strings.Contains(log.String(), "outside the model's vocabulary") {
				syscall.Kill(os.Getpid(), syscall.SIGUSR1)
				return
			}
		}
	}()
	err := predictRun(&PredictOptions{ModelDir: ft, DataPath: task, OutPath: out,
		InferOptions: train.InferOptions{Batch: 32, Threads: 1, Log: &log}, Out: io.Discard})
	close(done)
	if err == nil || exitCode(err) != exitError || !strings.Contains(err.Error(), "predict stopped (received user defined signal 1)") || !strings.Contains(err.Error(), "--out "+out+" is not written") {
		t.Fatalf("predict stopped by a signal: %v (status %d); log %s", err, exitCode(err), log.String())
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--out %s: %v, want not written", out, err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".preds.jsonl.tmp-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	// A task file from a pipe that stays open with nothing in it (standard
	// input from a stalled link): the signal stops the read.
	fifo := filepath.Join(dir, "rows.tsv")
	testpipe.Idle(t, fifo, "text\tlabel\nThe cat\t1\n")
	time.AfterFunc(300*time.Millisecond, func() { syscall.Kill(os.Getpid(), syscall.SIGUSR1) })
	stopped := make(chan error, 1)
	go func() {
		stopped <- predictRun(&PredictOptions{ModelDir: ft, DataPath: fifo, OutPath: out,
			InferOptions: train.InferOptions{Batch: 32, Threads: 1, Log: io.Discard}, Out: io.Discard})
	}()
	select {
	case err := <-stopped:
		if exitCode(err) != exitError || !strings.Contains(err.Error(), "stopped while reading "+fifo) {
			t.Errorf("predict of an idle pipe stopped by a signal: %v (status %d)", err, exitCode(err))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("predict of an idle pipe did not stop on a signal")
	}
}

// SIGTERM stops generate after the step at hand: the samples started are
// written as they stand, each ending its line, and the status is 1 with
// a message saying so.
func TestGenerateSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	model := filepath.Join(t.TempDir(), "m")
	if out, err := exec.Command(bin, append(tinyRun, "--set", "max_steps=2", "--out", model)...).CombinedOutput(); err != nil {
		t.Fatalf("pretrain: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "generate", "--model", model, "--prompt", "The", "--num-samples", "5", "--batch-size", "2",
		"--max-new-tokens", "10000000", "--ignore-eot", "--threads", "1")
	var stdout, stderr syncBuilder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Two tokens of the first sample printed: both samples, drawn
	// together, have some.
	for deadline := time.Now().Add(60 * time.Second); len(stdout.String()) < len("The")+2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no sample in time: %q", stdout.String())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("after SIGTERM generate exited with %v, want status 1\n%s", err, stderr.String())
	}
	if want := "generate stopped (received terminated): 0 of 5 samples written whole, 2 cut short"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	samples := strings.Split(stdout.String(), "---------------\n")
	if len(samples) != 2 || !strings.HasPrefix(samples[0], "The") || !strings.HasPrefix(samples[1], "The") ||
		!strings.HasSuffix(samples[0], "\n") || !strings.HasSuffix(samples[1], "\n") || len(samples[1]) < 5 {
		t.Errorf("stdout %q, want the two samples started, each cut short on its own line", stdout.String())
	}
}

// generate (and predict) into a pipe whose reader goes away (| head) stop
// quietly with SIGPIPE's status, 141, as any command would, not with a
// "broken pipe" error.
func TestGenerateClosedStdout(t *testing.T) {
	bin := buildBinary(t)
	model := filepath.Join(t.TempDir(), "m")
	if out, err := exec.Command(bin, append(tinyRun, "--set", "max_steps=2", "--out", model)...).CombinedOutput(); err != nil {
		t.Fatalf("pretrain: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "generate", "--model", model, "--prompt", "The", "--num-samples", "1000", "--max-new-tokens", "200", "--threads", "1")
	var stderr syncBuilder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(out, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	out.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 141 || strings.Contains(stderr.String(), "gptctl:") {
		t.Errorf("generate into a closed pipe: %v, stderr %q; want status 141 and no error", err, stderr.String())
	}
}
