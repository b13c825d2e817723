package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Usage errors exit 2: no run directory, and a --format that Render would
// refuse, caught before any run is loaded.
func TestReportUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "report needs one or more run directories"},
		{[]string{"report", missing, "--format", "pdf"}, `--format "pdf" is not png, svg or html`},
		{[]string{"report", missing, "--format", "png,pdf"}, `--format "pdf"`},
		{[]string{"report", missing, "--format", "pdf"}, "the flag takes a comma-separated list of png, svg and html"},
		{[]string{"report", missing, "--format", ""}, "--format is empty: the flag takes a comma-separated list"},
		{[]string{"report", missing, "--format="}, "--format is empty"},
		{[]string{"report", missing, "--format", "png,"}, `--format "png," has an empty entry`},
		{[]string{"report", missing, "--format", "png,,svg"}, `--format "png,,svg" has an empty entry`},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "metrics.jsonl") {
			t.Errorf("gptctl %s: status %d, stderr %q; want status %d and %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
	}
	called := false
	cmd := newCmdReport(func(*ReportOptions) error { called = true; return nil })
	cmd.SetArgs([]string{missing, "--format", "html,jpeg"})
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	if err := cmd.Execute(); exitCode(err) != exitUsage || called {
		t.Errorf("--format jpeg: err %v (status %d), run called %v", err, exitCode(err), called)
	}
}

func TestReportFlags(t *testing.T) {
	var got *ReportOptions
	cmd := newCmdReport(func(o *ReportOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"runs/a", "runs/b", "--out", "rep", "--format", "svg,html"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Dirs, " ") != "runs/a runs/b" || got.OutDir != "rep" || strings.Join(got.Formats, ",") != "svg,html" {
		t.Errorf("options %+v", got)
	}
	// By default the report goes beside the runs (runs/ is not source).
	cmd = newCmdReport(func(o *ReportOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"runs/a"})
	if err := cmd.Execute(); err != nil || got.OutDir != filepath.Join("runs", "report") {
		t.Errorf("default --out %q (%v), want runs/report", got.OutDir, err)
	}
}

// The tester's run: a grad_norm constant at 1e17 made gonum's ticks panic.
func TestReportConstantHugeSeries(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "huge")
	os.Mkdir(run, 0o755)
	metrics := `{"step":1,"train_loss":4.1,"lr":0.001,"grad_norm":1e17}` + "\n" + `{"step":2,"train_loss":4.0,"lr":0.001,"grad_norm":1e17}` + "\n"
	if err := os.WriteFile(filepath.Join(run, "metrics.jsonl"), []byte(metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rep")
	code, stdout, stderr := runCLI(t, "report", run, "--out", out)
	if code != exitOK || !strings.Contains(stdout, filepath.Join(out, "grad_norm.png")) {
		t.Fatalf("status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// A report whose list of files cannot be printed (stdout on a full disk)
// fails, as eval and bench do there, where it exited 0.
func TestReportListNotPrinted(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	os.Mkdir(runDir, 0o755)
	metrics := `{"step":1,"train_loss":4.1,"lr":0.001}` + "\n" + `{"step":2,"train_loss":4.0,"lr":0.001}` + "\n"
	if err := os.WriteFile(filepath.Join(runDir, "metrics.jsonl"), []byte(metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run([]string{"report", runDir, "--out", filepath.Join(dir, "rep")}, failWriter{syscall.ENOSPC}, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "no space left on device") {
		t.Errorf("status %d, stderr %q; want %d and the write error", code, stderr.String(), exitError)
	}
}

// report runs/* a second time, when runs/report holds the first report,
// skips that directory (it was refused as a run without metrics, exit 2),
// and a run named twice is one run of the report.
func TestReportRunsGlobTwice(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	for _, name := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(runs, name), 0o755)
		os.WriteFile(filepath.Join(runs, name, "metrics.jsonl"), []byte(`{"step":1,"train_loss":4.1}`+"\n"+`{"step":2,"train_loss":4.0}`+"\n"), 0o644)
	}
	out := filepath.Join(runs, "report")
	for i := range 2 {
		dirs, _ := filepath.Glob(filepath.Join(runs, "*"))
		args := append(append([]string{"report"}, dirs...), filepath.Join(runs, "a")+"/", filepath.Join(runs, "a", "metrics.jsonl"), "--out", out, "--format", "html")
		code, _, stderr := runCLI(t, args...)
		if code != exitOK || (i == 1) != strings.Contains(stderr, "is where the report goes") {
			t.Fatalf("report %d: status %d, stderr %q", i+1, code, stderr)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if n := strings.Count(string(page), "<td>"+filepath.Join(runs, "a")+"</td>"); n != 1 {
		t.Errorf("run a is %d rows of the report's table, want 1", n)
	}
}

// A directory among the runs that is not one (yet: a run that has just
// started has an empty metrics.jsonl; or shards beside the runs) is
// skipped with a note, and the others are reported; with none left, the
// report fails naming them.
func TestReportSkipsWhatIsNotARun(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	for name, body := range map[string]string{"a": `{"step":1,"train_loss":4.1}` + "\n", "starting": "", "shards": ""} {
		os.MkdirAll(filepath.Join(runs, name), 0o755)
		if name != "shards" {
			os.WriteFile(filepath.Join(runs, name, "metrics.jsonl"), []byte(body), 0o644)
		}
	}
	out := filepath.Join(t.TempDir(), "report")
	code, _, stderr := runCLI(t, "report", filepath.Join(runs, "a"), filepath.Join(runs, "starting"), filepath.Join(runs, "shards"), "--out", out, "--format", "html")
	if _, err := os.Stat(filepath.Join(out, "report.html")); code != exitOK || err != nil || strings.Count(stderr, "report: skipped ") != 2 || strings.Contains(stderr, "skipped report:") {
		t.Errorf("a run and two directories that are not: status %d, %v, stderr %q", code, err, stderr)
	}
	code, _, stderr = runCLI(t, "report", filepath.Join(runs, "starting"), filepath.Join(runs, "shards"), "--out", out)
	if code != exitUsage || strings.Count(stderr, "starting") != 1 || strings.Count(stderr, "shards") != 1 || strings.Contains(stderr, "skipped") {
		t.Errorf("no run at all: status %d, stderr %q", code, stderr)
	}
}

// What LoadRun noted of a run (values that are not numbers, steps out of
// order) is said on stderr, naming the run; a directory that is not a run
// is skipped with a sentence: "skipped DIR: it has no metrics.jsonl".
func TestReportNotes(t *testing.T) {
	runs := t.TempDir()
	strs := filepath.Join(runs, "strs")
	os.MkdirAll(strs, 0o755)
	os.WriteFile(filepath.Join(strs, "metrics.jsonl"), []byte(`{"step":1,"train_loss":"abc"}`+"\n"+`{"step":2,"train_loss":2}`+"\n"+`{"step":2,"train_loss":1.9}`+"\n"), 0o644)
	empty := filepath.Join(runs, "empty")
	os.MkdirAll(empty, 0o755)
	code, _, stderr := runCLI(t, "report", strs, empty, "--out", filepath.Join(runs, "report"), "--format", "html")
	for _, want := range []string{
		"report: " + strs + `: "train_loss" is not a number on line 1 ("abc"): not drawn`,
		"report: " + strs + ": line 3 repeats step 2 of line 2",
		"report: skipped " + empty + ": it has no metrics.jsonl (pass a run directory or its metrics file)",
	} {
		if code != exitOK || !strings.Contains(stderr, want) {
			t.Errorf("status %d, stderr %q; want it to say %q", code, stderr, want)
		}
	}
}

// A run stopped before its first step (summary.json and train.yaml, no
// metrics.jsonl) is a run with no logged steps yet: alone, the message says
// so with its status (exit 2, nothing to draw); beside other runs, it is in
// the table with its status, without curves.
func TestReportRunWithoutSteps(t *testing.T) {
	runs := t.TempDir()
	stopped := filepath.Join(runs, "stopped")
	os.MkdirAll(stopped, 0o755)
	os.WriteFile(filepath.Join(stopped, "summary.json"), []byte(`{"status": "interrupted", "interruption": "received terminated", "step": 0}`), 0o644)
	os.WriteFile(filepath.Join(stopped, "train.yaml"), []byte("n_layer: 2\n"), 0o644)
	good := filepath.Join(runs, "good")
	os.MkdirAll(good, 0o755)
	os.WriteFile(filepath.Join(good, "metrics.jsonl"), []byte(`{"step":1,"train_loss":3}`+"\n"+`{"step":2,"train_loss":2.5}`+"\n"), 0o644)
	const said = "it is a run with no logged steps yet (its status: interrupted (received terminated))"
	code, _, stderr := runCLI(t, "report", stopped, "--out", filepath.Join(runs, "r1"))
	if code != exitUsage || !strings.Contains(stderr, stopped+": "+said) || strings.Contains(stderr, "has no metrics.jsonl") {
		t.Errorf("report of the stopped run alone: status %d, stderr %q; want %d and %q", code, stderr, exitUsage, said)
	}
	out := filepath.Join(runs, "r2")
	code, _, stderr = runCLI(t, "report", good, stopped, "--out", out, "--format", "html")
	if code != exitOK || !strings.Contains(stderr, "report: "+stopped+": "+said+": in the table, without curves") {
		t.Errorf("report beside another run: status %d, stderr %q", code, stderr)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if row := "<tr><td>stopped</td><td>" + stopped + "</td><td>interrupted (received terminated)</td><td class=\"num\">0</td>"; !strings.Contains(string(page), row) {
		t.Errorf("report.html lacks the row %q", row)
	}
}
