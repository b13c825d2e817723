package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchFlags(t *testing.T) {
	cases := []struct {
		args []string
		want BenchOptions
		err  string
	}{
		{[]string{"-c", "b.yaml"}, BenchOptions{ConfigPath: "b.yaml", Steps: 20, Warmup: 3}, ""},
		{[]string{"--config", "b.yaml", "--steps", "4", "--warmup", "0", "--threads", "2", "--set", "batch_size=2", "--set", "n_layer=1"},
			BenchOptions{ConfigPath: "b.yaml", Steps: 4, Threads: 2, Sets: []string{"batch_size=2", "n_layer=1"}}, ""},
		{nil, BenchOptions{}, "required flag --config"},
		{[]string{"-c", "b.yaml", "--steps", "0"}, BenchOptions{}, "--steps 0"},
		{[]string{"-c", "b.yaml", "--threads", "-1"}, BenchOptions{}, "--threads -1"},
	}
	for _, c := range cases {
		var got *BenchOptions
		cmd := NewCmdBench(func(o *BenchOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if c.err != "" {
			var ue *usageError
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &ue) {
				t.Errorf("args %v: error %v, want a usage error with %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.ConfigPath != c.want.ConfigPath || got.Steps != c.want.Steps || got.Warmup != c.want.Warmup ||
			got.Threads != c.want.Threads || strings.Join(got.Sets, ",") != strings.Join(c.want.Sets, ",") {
			t.Errorf("args %v parsed to %+v", c.args, got)
		}
	}
}

// benchRun on a shrunken bench-small prints one JSON line with the fields
// the README's comparison table uses.
func TestBenchRun(t *testing.T) {
	var out, log bytes.Buffer
	opts := &BenchOptions{ConfigPath: "../../configs/bench-small.yaml", Steps: 2, Warmup: 1, Threads: 1,
		Sets: []string{"n_layer=1", "n_embd=32", "n_head=2", "batch_size=2", "max_steps=5"}, Out: &out, Log: &log}
	if err := benchRun(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "bench: note: --set max_steps is not used (--steps sets the timed steps)") || strings.Contains(log.String(), "n_layer is not used") {
		t.Errorf("log %q: want a note on max_steps alone", log.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d lines of output, want one: %q", n, out.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tokens_per_s", "step_ms", "mfu", "sgemm_gflops", "flops_per_token", "params", "peak_rss_mb"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, res[k])
		}
	}
	if res["shape"] != "1/32/2/64/2/256" {
		t.Errorf("shape %v", res["shape"])
	}
	opts.ConfigPath = "../../configs/none.yaml"
	if err := benchRun(opts); err == nil || exitCode(err) != exitUsage {
		t.Errorf("missing config: error %v, exit code %d", err, exitCode(err))
	}
}

// writeTinyBench writes the reviewer's tiny bench config: one layer,
// C=32, T=16, B=2.
func writeTinyBench(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	yml := "n_layer: 1\nn_embd: 32\nn_head: 2\nn_ctx: 16\nvocab_size: 64\nbatch_size: 2\n"
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every --set of a key bench does not read gets a note, and is not
// validated; the keys it reads get none.
func TestBenchRunNotesUnreadKeys(t *testing.T) {
	var out, log bytes.Buffer
	unread := []string{"patience", "sample_tokens", "sample_prompt", "on_nonfinite", "max_steps", "min_lr", "lr_decay"}
	opts := &BenchOptions{ConfigPath: writeTinyBench(t), Steps: 1, Threads: 1, Out: &out, Log: &log,
		Sets: []string{"patience=3", "sample_tokens=5", "sample_prompt=hi", "on_nonfinite=skip", "max_steps=0", "min_lr=1", "lr_decay=step", "lr=1e-4", "n_layer=1"}}
	if err := benchRun(opts); err != nil {
		t.Fatalf("bench with unread keys set to values pretrain refuses: %v", err)
	}
	for _, k := range unread {
		if !strings.Contains(log.String(), "bench: note: --set "+k+" is not used (") {
			t.Errorf("no note on %s in %q", k, log.String())
		}
	}
	if n := strings.Count(log.String(), "note: --set"); n != len(unread) || strings.Contains(log.String(), "--set lr ") {
		t.Errorf("%d notes in %q, want %d: none on lr and n_layer", n, log.String(), len(unread))
	}
}

// A diverging bench exits with status 3, naming the step, and a
// --set on_nonfinite=skip is noted as not used.
func TestBenchRunDiverges(t *testing.T) {
	var out, log bytes.Buffer
	opts := &BenchOptions{ConfigPath: writeTinyBench(t), Steps: 20, Warmup: 3, Threads: 1, Out: &out, Log: &log,
		Sets: []string{"lr=1e9", "on_nonfinite=skip"}}
	err := benchRun(opts)
	if exitCode(err) != exitNaN || !strings.Contains(fmt.Sprint(err), "bench: step ") || strings.Contains(fmt.Sprint(err), "check the data") {
		t.Errorf("bench at lr 1e9: %v, exit status %d; want %d, naming the step", err, exitCode(err), exitNaN)
	}
	if !strings.Contains(log.String(), "note: --set on_nonfinite is not used") || out.Len() != 0 {
		t.Errorf("log %q, output %q: want a note on on_nonfinite and no JSON", log.String(), out.String())
	}
}
