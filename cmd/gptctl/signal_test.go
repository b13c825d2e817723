package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
