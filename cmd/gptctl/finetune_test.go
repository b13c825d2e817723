package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/train"
)

func TestFinetuneFlags(t *testing.T) {
	cases := []struct {
		args []string
		want FinetuneOptions
	}{
		{nil, FinetuneOptions{}},
		{[]string{"-c", "f.yaml", "--init", "runs/pre", "-o", "runs/ft", "--set", "lambda=0", "--set", "task.max_len=64", "--device", "cpu"},
			FinetuneOptions{ConfigPath: "f.yaml", InitDir: "runs/pre", OutDir: "runs/ft", Sets: []string{"lambda=0", "task.max_len=64"}, Device: "cpu"}},
		{[]string{"--resume", "--out", "runs/ft"}, FinetuneOptions{OutDir: "runs/ft", Resume: true}},
	}
	for _, c := range cases {
		var got *FinetuneOptions
		cmd := NewCmdFinetune(func(o *FinetuneOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.ConfigPath != c.want.ConfigPath || got.InitDir != c.want.InitDir || got.OutDir != c.want.OutDir ||
			strings.Join(got.Sets, ",") != strings.Join(c.want.Sets, ",") || got.Resume != c.want.Resume || got.Device != c.want.Device {
			t.Errorf("args %v parsed to %+v", c.args, got)
		}
	}
}

func TestPredictFlags(t *testing.T) {
	cases := []struct {
		args []string
		want PredictOptions
		err  string
	}{
		{[]string{"--model", "m", "--data", "d.tsv"}, PredictOptions{ModelDir: "m", DataPath: "d.tsv", InferOptions: train.InferOptions{Batch: 32, Device: "auto"}}, ""},
		{[]string{"-m", "m", "-d", "d.csv", "-o", "p.jsonl", "--batch-size", "8", "--device", "cpu", "--threads", "1"}, PredictOptions{ModelDir: "m", DataPath: "d.csv", OutPath: "p.jsonl",
			InferOptions: train.InferOptions{Batch: 8, Device: "cpu", Threads: 1}}, ""},
		{[]string{"--data", "d.tsv"}, PredictOptions{}, "--model is not set"},
		{[]string{"--model", "m"}, PredictOptions{}, "--data is not set"},
		{[]string{"--model", "m", "--data", "d", "--batch-size", "0"}, PredictOptions{}, "--batch-size 0"},
		{[]string{"--model", "m", "--data", "d", "--device", "gpu"}, PredictOptions{}, `--device "gpu" is not auto, cpu or cuda`},
		{[]string{"--model", "m", "--data", "d", "--threads", "-2"}, PredictOptions{}, "--threads -2 is not in [0, 1024]"},
	}
	for _, c := range cases {
		var got *PredictOptions
		_, err := runCmd(NewCmdPredict(func(o *PredictOptions) error { got = o; return nil }), "", c.args...)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || exitCode(err) != exitUsage {
				t.Errorf("args %v: error %v, want a usage error with %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || got.ModelDir != c.want.ModelDir || got.DataPath != c.want.DataPath || got.OutPath != c.want.OutPath ||
			got.Batch != c.want.Batch || got.Device != c.want.Device || got.Threads != c.want.Threads {
			t.Errorf("args %v parsed to %+v (%v)", c.args, got, err)
		}
	}
}

// gptctl pretrain, finetune, eval and predict end to end, in process, on a
// tiny model and a made-up TSV task; and the exit statuses of their misuse.
func TestFinetuneCLI(t *testing.T) {
	dir := t.TempDir()
	pre, ft := tinyPretrained(t, dir, 5), filepath.Join(dir, "ft")
	var rows strings.Builder
	rows.WriteString("text\tlabel\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&rows, "The %s was here.\t%d\n", []string{"cat", "dog"}[i%2], i%2)
	}
	task := writeTemp(t, dir, "task.tsv", rows.String())
	cfg := writeTemp(t, dir, "ft.yaml", fmt.Sprintf("task: {type: classification, train: %s, val_fraction: 0.25, header: true, columns: {text: text, label: label}, labels: [\"0\", \"1\"]}\nmax_steps: 3\nbatch_size: 8\n", task))
	code, out, stderr := runCLI(t, "finetune", "-c", cfg, "--init", pre, "--out", ft, "--set", "lr=1e-3")
	var sum map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || sum["status"] != "completed" {
		t.Fatalf("finetune: status %d, stdout %q, stderr %s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "eval", "--model", ft, "--data", task)
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res["examples"] != 40.0 || res["accuracy"] == nil || res["mcc"] == nil {
		t.Fatalf("eval: status %d, %q", code, out)
	}
	preds := filepath.Join(dir, "preds.jsonl")
	if code, _, stderr := runCLI(t, "predict", "--model", filepath.Join(ft, "best"), "--data", task, "--out", preds); code != 0 || !strings.Contains(stderr, "wrote 40 predictions") {
		t.Fatalf("predict: status %d, %s", code, stderr)
	}
	if b, _ := os.ReadFile(preds); strings.Count(string(b), "\n") != 40 || !strings.HasPrefix(string(b), `{"line":2,"label":`) {
		t.Errorf("predictions:\n%s", b)
	}
	inRun := filepath.Join(ft, "preds.jsonl") // earlier predictions beside the model may be replaced
	for range 2 {
		if code, _, stderr := runCLI(t, "predict", "--model", ft, "--data", task, "--out", inRun); code != 0 {
			t.Fatalf("predict --out %s: status %d, %s", inRun, code, stderr)
		}
	}
	bad := writeTemp(t, dir, "bad.tsv", "text\tlabel\nfine\t0\nnot fine\t2\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"finetune", "--init", pre}, "--config is required"},
		{[]string{"finetune", "--resume"}, "--resume needs --out"},
		{[]string{"finetune", "--resume", "--out", pre}, "is a pretrain run (it has train.yaml, not finetune.yaml)"},
		{[]string{"finetune", "--resume", "--out", dir}, "not a gptctl finetune run directory"},
		{[]string{"finetune", "-c", cfg, "--out", filepath.Join(dir, "x")}, "init_from is empty"},
		{[]string{"finetune", "-c", cfg, "--init", pre, "--set", "task.labels=[a, b]", "--out", filepath.Join(dir, "y")}, `label "0" is not one of ["a", "b"]`},
		{[]string{"finetune", "-c", cfg, "--init", pre, "--set", "task.max_len=99", "--out", filepath.Join(dir, "z")}, "exceeds the model's n_ctx 32"},
		{[]string{"eval", "--model", ft, "--data", bad}, "bad.tsv:3"},
		{[]string{"predict", "--model", pre, "--data", task}, "predict needs a finetuned model"},
		{[]string{"predict", "--model", ft, "--data", task, "--out", filepath.Join(dir, "none", "p.jsonl")}, "none is not a directory (create it first)"},
		{[]string{"predict", "--model", ft, "--data", task, "--out", dir}, "is a directory: name the file"},
		{[]string{"predict", "--model", ft, "--data", task, "--out", task}, "is the --data file"},
		{[]string{"predict", "--model", ft, "--data", task, "--out", filepath.Join(ft, "best", "model.safetensors")}, "would replace a file of the model directory"},
		{[]string{"predict", "--model", ft, "--data", task, "--out", filepath.Join(ft, "metrics.jsonl")}, "would replace a file of the model directory"},
		{[]string{"predict", "--model", filepath.Join(ft, "best"), "--data", task, "--out", filepath.Join(ft, "checkpoint", "model.safetensors")}, "would replace a file of the model directory"},
		{[]string{"predict", "--model", filepath.Join(ft, "best"), "--data", task, "--out", filepath.Join(ft, "summary.json")}, "would replace a file of the model directory"},
		{[]string{"predict", "--model", ft, "--data", task, "--out", "/sys/p.jsonl"}, "name a file in a directory you can write"}, // Linux: no file can be made in /sys
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("gptctl %s: status %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	// Zero-shot multiple choice with the language model: the task config
	// needs no train file (the one scored is --data).
	choices := writeTemp(t, dir, "choices.csv", "ctx,a,b,label\nThe cat was,here.,there.,0\nThe dog was,there.,here.,1\n")
	mc := writeTemp(t, dir, "mc.yaml", "task: {type: multiple_choice, header: true, columns: {context: ctx, option0: a, option1: b, label: label}}\n")
	code, out, stderr = runCLI(t, "eval", "--model", pre, "--task", mc, "--data", choices)
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res["zero_shot"] != true || res["examples"] != 2.0 {
		t.Errorf("eval --task: status %d, %q, %s", code, out, stderr)
	}
}

// tinyPretrained pretrains a one-layer model on the built-in corpus for
// steps steps into dir/pre, for the finetunes the tests make from it.
func tinyPretrained(t *testing.T, dir string, steps int) string {
	t.Helper()
	pre := filepath.Join(dir, "pre")
	if code, _, stderr := runCLI(t, "pretrain", "--out", pre, "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2",
		"--set", "n_ctx=32", "--set", fmt.Sprintf("max_steps=%d", steps), "--set", "eval_batches=1"); code != 0 {
		t.Fatalf("pretrain: %s", stderr)
	}
	return pre
}

func writeTemp(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
