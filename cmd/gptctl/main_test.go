package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs gptctl in-process and returns its exit status and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitStatuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.yaml", "n_layers: 3\n")
	bad := write("bad.yaml", "n_embd: 100\nn_head: 3\n")
	empty := write("empty.txt", "")
	noModel := filepath.Join(dir, "nomodel")
	os.Mkdir(noModel, 0o755)
	broken := filepath.Join(dir, "broken")
	os.Mkdir(broken, 0o755)
	write("broken/config.json", `{"model_type":"gpt2","vocab_size":10,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}`)
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"unknown command", []string{"pretrian"}, 2, "unknown command"},
		{"unknown flag", []string{"pretrain", "--lr", "1"}, 2, "unknown flag"},
		{"unknown config key", []string{"pretrain", "-c", typo}, 2, "n_layers"},
		{"invalid values", []string{"pretrain", "-c", bad}, 2, "n_embd 100 is not divisible by n_head 3"},
		{"missing config file", []string{"pretrain", "-c", filepath.Join(dir, "none.yaml")}, 2, "none.yaml"},
		{"bad --set", []string{"pretrain", "--set", "max_steps=-1"}, 2, "max_steps -1"},
		{"missing corpus", []string{"pretrain", "--data", filepath.Join(dir, "none.txt"), "--out", filepath.Join(dir, "r1")}, 2, "none.txt"},
		{"empty corpus", []string{"pretrain", "--data", empty, "--out", filepath.Join(dir, "r2")}, 2, "empty"},
		{"resume without run", []string{"pretrain", "--resume", "--out", noModel}, 2, "not a gptctl run directory"},
		{"resume without out", []string{"pretrain", "--resume"}, 2, "--resume needs --out"},
		{"cuda in a cpu build", []string{"pretrain", "--device", "cuda", "--out", filepath.Join(dir, "r3")}, 2, "built without CUDA"},
		{"model dir missing", []string{"eval", "--model", filepath.Join(dir, "nope"), "--data", empty}, 2, "not a directory"},
		{"model dir without config", []string{"generate", "--model", noModel}, 2, "no config.json"},
		{"model dir without weights", []string{"generate", "--model", broken}, 2, "model.safetensors"},
		{"eval needs flags", []string{"eval"}, 2, "required flag"},
		{"bad top-p", []string{"generate", "--model", broken, "--top-p", "0"}, 2, "--top-p"},
		{"extra args", []string{"version", "x"}, 2, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("gptctl %s: status %d, stderr %q; want status %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
			}
			if strings.Count(stderr, "gptctl: ") != 1 || strings.Count(stderr[strings.Index(stderr, "gptctl: "):], "\n") != 1 {
				t.Errorf("want a one-line error, got %q", stderr)
			}
		})
	}
}

func TestPretrainFlags(t *testing.T) {
	cases := []struct {
		args []string
		want PretrainOptions
	}{
		{nil, PretrainOptions{}},
		{[]string{"-c", "x.yaml", "--set", "a=1", "--set", "b=2", "--data", "d.txt", "-o", "out", "--resume", "--device", "cpu"},
			PretrainOptions{ConfigPath: "x.yaml", Sets: []string{"a=1", "b=2"}, Data: "d.txt", OutDir: "out", Resume: true, Device: "cpu"}},
	}
	for _, c := range cases {
		var got *PretrainOptions
		cmd := NewCmdPretrain(func(o *PretrainOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.ConfigPath != c.want.ConfigPath || strings.Join(got.Sets, ",") != strings.Join(c.want.Sets, ",") ||
			got.Data != c.want.Data || got.OutDir != c.want.OutDir || got.Resume != c.want.Resume || got.Device != c.want.Device {
			t.Errorf("args %v parsed to %+v", c.args, got)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.Contains(out, "gptctl") || !strings.Contains(out, "cuda:") || !strings.Contains(out, "blas:") {
		t.Errorf("version: status %d, output %q", code, out)
	}
}

func TestCompletion(t *testing.T) {
	code, out, _ := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "gptctl") {
		t.Errorf("completion bash: status %d", code)
	}
}
