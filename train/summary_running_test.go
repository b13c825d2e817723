package train

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gptctl/report"
)

// runningSummary reads dir/summary.json as a running session's, failing
// the test where it cannot.
func runningSummary(t *testing.T, dir string) Summary {
	t.Helper()
	var s Summary
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, summaryFile))), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// A session replaces the summary.json of the session before it with one
// of status running, from its start to its end: a fresh run in the
// directory of a failed one, and a resume after a session that failed past
// its checkpoint, are not reported as failed while they run (or after a
// kill, which the hook's view stands for), and gptctl report says where
// the session started and how the one before ended.
func TestSessionSummaryRunning(t *testing.T) {
	dir := t.TempDir()
	bad := tinyConfig(t, "lr=1e30", "min_lr=0", "warmup_steps=0", "max_steps=3", "eval_interval=1", "log_interval=1", "checkpoint_interval=0")
	if _, err := Pretrain(context.Background(), bad, Options{OutDir: dir, Log: io.Discard}); err == nil {
		t.Fatal("a run at lr 1e30 did not fail")
	}
	var seen []Summary
	var status []string
	look := func(step int) {
		if step == 1 {
			seen = append(seen, runningSummary(t, dir))
			run, err := report.LoadRun(dir)
			if err != nil {
				t.Fatal(err)
			}
			status = append(status, run.Status)
		}
	}
	cfg := tinyConfig(t, "max_steps=10", "log_interval=1", "checkpoint_interval=5")
	ctx, cancel := context.WithCancelCause(context.Background())
	sum, err := Pretrain(ctx, cfg, Options{OutDir: dir, Log: io.Discard, AfterStep: func(step int) {
		look(step)
		if step == 5 {
			cancel(errors.New("received terminated"))
		}
	}})
	if err != nil || sum.Status != "interrupted" {
		t.Fatalf("the fresh run: %v, %+v", err, sum)
	}
	if len(seen) != 1 {
		t.Fatalf("the hook saw %d summaries", len(seen))
	}
	if s := seen[0]; s.Status != "running" || s.Step != 0 || s.Previous == nil || s.Previous.Status != "failed" || !strings.Contains(s.Previous.Error, "not finite") && !strings.Contains(s.Previous.Error, "NaN") {
		t.Errorf("summary.json as the fresh run ran: %+v, previous %+v", s, s.Previous)
	}
	if want := "running, or killed: started at step 0 after: failed: "; !strings.HasPrefix(status[0], want) {
		t.Errorf("report's status as the fresh run ran: %q, want it to begin %q", status[0], want)
	}
	if s := readFile(t, filepath.Join(dir, summaryFile)); !strings.Contains(s, `"status": "interrupted"`) || strings.Contains(s, "previous") {
		t.Errorf("summary.json of the interrupted run:\n%s", s)
	}

	// A resume that fails past its checkpoint, then one that goes on.
	seen, status = nil, nil
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=10", "lr=1e30", "min_lr=0", "warmup_steps=0", "log_interval=1", "checkpoint_interval=5"), Options{OutDir: dir, Resume: true, Log: io.Discard}); err == nil {
		t.Fatal("a resume at lr 1e30 did not fail")
	}
	if st, step := readSummary(dir, nil); st != "failed" || step <= 5 {
		t.Fatalf("summary.json after the failed resume: %s at step %d, want failed past step 5", st, step)
	}
	sum, err = Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: io.Discard, AfterStep: func(step int) {
		if step == 6 {
			look(1)
		}
	}})
	if err != nil || sum.Status != "completed" {
		t.Fatalf("the resume: %v, %+v", err, sum)
	}
	if s := seen[0]; s.Status != "running" || s.Step != 5 || s.Previous == nil || s.Previous.Status != "failed" || s.Previous.Step <= 5 {
		t.Errorf("summary.json as the resume ran: %+v, previous %+v", s, s.Previous)
	}
	if want := "running, or killed: resumed at step 5 after: failed: "; !strings.HasPrefix(status[0], want) {
		t.Errorf("report's status as the resume ran: %q, want it to begin %q", status[0], want)
	}
	if s := readFile(t, filepath.Join(dir, summaryFile)); !strings.Contains(s, `"status": "completed"`) || strings.Contains(s, "previous") {
		t.Errorf("summary.json of the completed run:\n%s", s)
	}
}

// A resume refused before it trains (exit 2: a config refused, or a time
// limit spent as it set up) leaves the summary of the session before it as
// it was: it is still the run's outcome.
func TestRefusedResumeKeepsSummary(t *testing.T) {
	dir := t.TempDir()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=10"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(dir, summaryFile))
	for _, c := range []struct {
		what string
		cfg  Config
		opt  Options
	}{
		{"max_steps below the run's step", tinyConfig(t, "max_steps=5"), Options{}},
		{"max_time spent before the first step", tinyConfig(t, "max_steps=20"), Options{MaxTime: 30 * time.Minute, Started: time.Now().Add(-time.Hour)}},
	} {
		c.opt.OutDir, c.opt.Resume, c.opt.Log = dir, true, io.Discard
		_, err := Pretrain(context.Background(), c.cfg, c.opt)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("a resume with %s: %v, want a ConfigError", c.what, err)
		}
		if after := readFile(t, filepath.Join(dir, summaryFile)); after != before {
			t.Errorf("the resume with %s changed summary.json:\n%s\nwas:\n%s", c.what, after, before)
		}
	}
}

// The running summary a killed session leaves neither holds a directory
// against a new run (when the session before it held nothing either) nor
// stops --resume; it is never taken for a completed run.
func TestKilledRunningSummary(t *testing.T) {
	cases := []struct {
		summary  string
		held     bool // a new run is refused
		resumeOK bool // --resume without a checkpoint starts from step 0
	}{
		{`{"status": "running", "step": 0}`, false, true},
		{`{"status": "running", "step": 0, "previous": {"status": "failed", "step": 3}}`, false, true},
		{`{"status": "running", "step": 0, "previous": {"status": "running", "step": 0}}`, false, true},
		{`{"status": "running", "step": 0, "previous": {"status": "interrupted", "step": 0}}`, true, true},
		{`{"status": "running", "step": 20, "previous": {"status": "completed", "step": 20}}`, true, false},
	}
	cfg := tinyConfig(t, "max_steps=2", "checkpoint_interval=0", "eval_interval=2")
	for _, c := range cases {
		for _, resume := range []bool{false, true} {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, summaryFile), c.summary)
			writeFile(t, filepath.Join(dir, metricsName), `{"step": 1, "train_loss": 3}`+"\n")
			if got := HeldRun(dir) != ""; got != c.held {
				t.Errorf("%s: HeldRun %q, want held %v", c.summary, HeldRun(dir), c.held)
			}
			sum, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: resume, Log: io.Discard})
			want := !c.held
			if resume {
				want = c.resumeOK
			}
			if ok := err == nil && sum.Status == "completed"; ok != want {
				t.Errorf("%s, resume %v: %v, %+v; want a run: %v", c.summary, resume, err, sum, want)
			}
		}
	}
}

// A finetune writes its running summary too: a new run in the directory of
// a failed one is not reported as failed while it runs.
func TestFinetuneSummaryRunning(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "lr: 1.0e+30\nwarmup_fraction: 0\nmax_steps: 2\neval_interval: 1\nlog_interval: 1\ncheckpoint_interval: 0\n")
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err == nil {
		t.Fatal("a finetune at lr 1e30 did not fail")
	}
	cfg.LR = 1e-3
	var seen string
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard, AfterStep: func(step int) {
		if step == 1 {
			seen = readFile(t, filepath.Join(out, summaryFile))
		}
	}})
	if err != nil || sum.Status != "completed" {
		t.Fatalf("the new finetune: %v, %+v", err, sum)
	}
	var s FinetuneSummary
	if err := json.Unmarshal([]byte(seen), &s); err != nil {
		t.Fatal(err)
	}
	if s.Status != "running" || s.Step != 0 || s.Previous == nil || s.Previous.Status != "failed" || s.Task != "classification" || s.MaxSteps != 2 || s.Params == 0 {
		t.Errorf("summary.json as the new finetune ran:\n%s", seen)
	}
	if s := readFile(t, filepath.Join(out, summaryFile)); !strings.Contains(s, `"status": "completed"`) || strings.Contains(s, "previous") {
		t.Errorf("summary.json of the completed finetune:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(out, "best")); err != nil {
		t.Errorf("the completed finetune has no best/: %v", err)
	}
}
