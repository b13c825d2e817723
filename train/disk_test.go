//go:build linux

package train

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of size bytes at a temporary directory. It needs
// root (CI runs as root); elsewhere the test is skipped.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("a full-disk test mounts a small tmpfs, which needs root")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs for the full-disk test: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	return dir
}

// fillDisk writes a file that leaves about free bytes on dir's filesystem.
func fillDisk(t *testing.T, dir string, free int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	n := int64(st.Bavail)*int64(st.Bsize) - free
	path := filepath.Join(dir, "filler")
	if err := os.WriteFile(path, make([]byte, max(n, 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A disk that fills up during a run fails the next checkpoint with a clear
// error, keeps the previous checkpoint whole, leaves no half-written one
// behind, and once space is freed the run resumes and ends exactly where an
// undisturbed run ends.
func TestFullDiskKeepsCheckpoint(t *testing.T) {
	disk := smallDisk(t, "8m")
	cfg := tinyConfig(t, "max_steps=30", "checkpoint_interval=10", "log_interval=5")
	straight := t.TempDir()
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}

	run := filepath.Join(disk, "run")
	var filler string
	fill := func(step int) {
		if step == 10 {
			// Room for metrics lines, not for a checkpoint (~250 KB).
			filler = fillDisk(t, disk, 64<<10)
		}
	}
	_, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Log: io.Discard, AfterStep: fill})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") ||
		!strings.Contains(err.Error(), "kept as it was") {
		t.Fatalf("on a full disk: %v, want an error saying the disk is full and the checkpoint is kept", err)
	}
	t.Logf("error: %v", err)
	if sum := readFile(t, filepath.Join(run, "summary.json")); !strings.Contains(sum, `"status": "failed"`) || !strings.Contains(sum, "no space left") {
		t.Errorf("summary.json of the failed run:\n%s", sum)
	}
	if _, err := os.Stat(filepath.Join(run, ".checkpoint.tmp")); !os.IsNotExist(err) {
		t.Error("the half-written checkpoint was left behind")
	}
	ck, dir, err := loadCheckpoint(run)
	if err != nil || ck.State.Step != 10 || filepath.Base(dir) != "checkpoint" {
		t.Fatalf("after the failed write: checkpoint %v at step %v, %v; want checkpoint/ at step 10", dir, ck, err)
	}

	os.Remove(filler)
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard})
	if err != nil || sum.Step != 30 {
		t.Fatalf("resume after freeing space: %+v, %v", sum, err)
	}
	a := readFile(t, filepath.Join(straight, "checkpoint", "model.safetensors"))
	b := readFile(t, filepath.Join(run, "checkpoint", "model.safetensors"))
	if a != b {
		t.Error("the resumed run's weights differ from an undisturbed run's")
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(run, "metrics.jsonl"))), "\n")
	if len(lines) != 6 {
		t.Errorf("metrics.jsonl has %d lines, want 6 (every 5 steps, no duplicates)", len(lines))
	}
}

// A run stopped by a signal whose last checkpoint cannot be written has
// failed: exit 1, and summary.json says "failed" with the error, not
// "interrupted" (which says a checkpoint holds the run).
func TestFullDiskOnInterruption(t *testing.T) {
	disk := smallDisk(t, "8m")
	cfg := tinyConfig(t, "max_steps=30", "checkpoint_interval=10", "log_interval=5")
	run := filepath.Join(disk, "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := func(step int) {
		if step == 12 {
			fillDisk(t, disk, 64<<10)
			cancel()
		}
	}
	_, err := Pretrain(ctx, cfg, Options{OutDir: run, Log: io.Discard, AfterStep: stop})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("interrupted on a full disk: %v, want the checkpoint's error", err)
	}
	if sum := readFile(t, filepath.Join(run, "summary.json")); !strings.Contains(sum, `"status": "failed"`) {
		t.Errorf("summary.json of a run whose last checkpoint failed:\n%s", sum)
	}
}

// A run whose first best/ cannot be written (a full disk) fails, and its
// summary names no best/, best_step or best_val_loss: there is none.
func TestFullDiskFirstBest(t *testing.T) {
	disk := smallDisk(t, "8m")
	cfg := tinyConfig(t, "max_steps=20", "checkpoint_interval=0", "log_interval=5")
	run := filepath.Join(disk, "run")
	fill := func(step int) {
		if step == 9 {
			fillDisk(t, disk, 16<<10) // room for metrics lines and the summary, not for a model
		}
	}
	_, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Log: io.Discard, AfterStep: fill})
	if err == nil || !strings.Contains(err.Error(), "was not written, and there was none before it") {
		t.Fatalf("on a full disk at the first best/: %v", err)
	}
	sum := readFile(t, filepath.Join(run, "summary.json"))
	if !strings.Contains(sum, `"status": "failed"`) || strings.Contains(sum, `"best"`) || strings.Contains(sum, "best_step") || !strings.Contains(sum, `"val_loss"`) {
		t.Errorf("summary.json of a run whose first best/ failed:\n%s", sum)
	}
}

// A run whose later best/ cannot be written keeps the earlier one, and its
// summary reports that one: the step and loss best/ holds.
func TestFullDiskLaterBest(t *testing.T) {
	disk := smallDisk(t, "8m")
	cfg := tinyConfig(t, "max_steps=30", "checkpoint_interval=0", "log_interval=5", "dropout=0", "lr=3e-3")
	run := filepath.Join(disk, "run")
	fill := func(step int) {
		if step == 15 {
			fillDisk(t, disk, 16<<10)
		}
	}
	_, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Log: io.Discard, AfterStep: fill})
	if err == nil || !strings.Contains(err.Error(), "best model at step 20") || !strings.Contains(err.Error(), "is kept as it was") {
		t.Fatalf("on a full disk at the second best/: %v", err)
	}
	var sum struct {
		BestStep int     `json:"best_step"`
		BestVal  float64 `json:"best_val_loss"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(run, "summary.json"))), &sum); err != nil {
		t.Fatal(err)
	}
	rec, err := readBest(run)
	if err != nil || rec == nil || rec.Step != 10 || sum.BestStep != 10 || sum.BestVal != rec.Value {
		t.Errorf("summary best_step %d, best_val_loss %v; best/ holds %+v (%v): want step 10 in both", sum.BestStep, sum.BestVal, rec, err)
	}
}

// A session that fails on a disk too full for its summary removes the
// summary.json of the session before it ("interrupted": a script would
// requeue the run, gptctl report would show it) and says so: its outcome
// is the summary it returns, which gptctl prints on stdout.
func TestFullDiskRemovesEarlierSummary(t *testing.T) {
	disk := smallDisk(t, "8m")
	for _, job := range []string{"pretrain", "finetune"} {
		run := filepath.Join(disk, job)
		pre := tinyConfig(t, "max_steps=30", "checkpoint_interval=10", "log_interval=5")
		fine := synthClassifier(t, t.TempDir(), 60, "batch_size: 8\nepochs: 10\n")
		session := func(ctx context.Context, resume bool, after func(int), log io.Writer) (string, int, error) {
			opt := Options{OutDir: run, Resume: resume, Log: log, AfterStep: after}
			if job == "pretrain" {
				sum, err := Pretrain(ctx, pre, opt)
				if sum == nil {
					return "", 0, err
				}
				return sum.Status, sum.Step, err
			}
			sum, err := Finetune(ctx, fine, opt)
			if sum == nil {
				return "", 0, err
			}
			return sum.Status, sum.Step, err
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := func(step int) {
			if step == 7 {
				cancel(errors.New("test interruption"))
			}
		}
		if status, step, err := session(ctx, false, stop, io.Discard); err != nil || status != "interrupted" || step != 7 {
			t.Fatalf("%s: interrupted session: %s at step %d, %v", job, status, step, err)
		}
		var filler string
		fill := func(step int) {
			if step == 9 {
				filler = fillDisk(t, disk, 0)
			}
		}
		var log strings.Builder
		status, _, err := session(context.Background(), true, fill, &log)
		os.Remove(filler)
		if !errors.Is(err, syscall.ENOSPC) || status != "failed" {
			t.Fatalf("%s: resumed on a full disk: %s, %v; want it failed", job, status, err)
		}
		if _, err := os.Stat(filepath.Join(run, "summary.json")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the interrupted session's summary.json is still there after the failed one (%v)", job, err)
		}
		want := "note: write " + filepath.Join(run, "summary.json") + ": no space left on device: the outcome of this session is the summary on stdout (the summary.json of an earlier session is removed)\n"
		if !strings.Contains(log.String(), want) {
			t.Errorf("%s: the log of the failed session says\n%s\nwant %q", job, log.String(), want)
		}
	}
}

// A new run on a disk too full for its job config fails before it writes
// anything else: the directory it made is removed, not left with a lock and
// empty metrics that --resume would call "not a gptctl run directory".
func TestFullDiskAtJobConfig(t *testing.T) {
	disk := smallDisk(t, "8m")
	for _, job := range []string{"pretrain", "finetune"} {
		run := filepath.Join(disk, job)
		fine := synthClassifier(t, t.TempDir(), 60, "batch_size: 8\n")
		filler := fillDisk(t, disk, 0)
		var err error
		if job == "pretrain" {
			_, err = Pretrain(context.Background(), tinyConfig(t), Options{OutDir: run, Log: io.Discard})
		} else {
			_, err = Finetune(context.Background(), fine, Options{OutDir: run, Log: io.Discard})
		}
		os.Remove(filler)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s on a full disk: %v; want no space left", job, err)
		}
		if entries, err := os.ReadDir(run); !errors.Is(err, fs.ErrNotExist) {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s: the run directory of a job that wrote no job config is left, with %v (%v)", job, names, err)
		}
	}
}
