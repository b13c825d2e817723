package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes each name: content into a new directory dir/name's
// parent and returns dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The messages of files that are not runs: a value beyond a float64 says
// so without strconv's words, a YAML file passed for the metrics says what
// a metrics.jsonl is, a directory without one reads as a sentence after
// "skipped".
func TestLoadRunMessages(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"big/metrics.jsonl":  "{\"step\": 1, \"train_loss\": 2}\n{\"step\": 2, \"train_loss\": 1.5}\n{\"step\": 3, \"train_loss\": 1e999}\n",
		"big2/metrics.jsonl": "{\"step\": 1, \"train_loss\": 2}\n{\"step\": 2, \"train_loss\": 1e999}",
		"cfg/train.yaml":     "# a tiny model\nn_layer: 2\nn_head: 2\n",
		"cfg1/train.yaml":    "n_layer: 2",
		"sum/summary.json":   "{\n  \"status\": \"completed\"\n}\n",
		"empty/.keep":        "",
	})
	cases := []struct {
		path string
		want []string
		not  []string
	}{
		{"big", []string{`metrics.jsonl: line 3: "train_loss" is 1e999, out of range for a number (the largest is about 1.8e308)`}, []string{"strconv", "ParseFloat"}},
		{"big2", []string{`line 2: "train_loss" is 1e999, out of range`}, []string{"strconv"}}, // a last line, but not a torn one
		{"cfg/train.yaml", []string{"train.yaml: it is not a metrics.jsonl file, which holds one JSON object per line", `line 1: it reads "# a tiny model"`}, []string{"invalid character"}},
		{"cfg1/train.yaml", []string{"it is not a metrics.jsonl file"}, []string{"no metrics records"}},
		{"sum/summary.json", []string{"summary.json: it is not a metrics.jsonl file"}, nil},
		{"empty", []string{"empty: it has no metrics.jsonl (pass a run directory or its metrics file)"}, []string{"empty has no"}},
	}
	for _, c := range cases {
		_, err := LoadRun(filepath.Join(dir, c.path))
		if err == nil {
			t.Errorf("%s: no error", c.path)
			continue
		}
		for _, s := range c.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q lacks %q", c.path, err, s)
			}
		}
		for _, s := range c.not {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q has %q", c.path, err, s)
			}
		}
	}
}

// Values that are not numbers are noted once per key, with the first line
// and the count; null is a missing value and gptctl's "skipped": true a
// skipped step, neither noted. Steps that go back or repeat are noted and
// put in order, a repeated step's last value kept.
func TestLoadRunNotes(t *testing.T) {
	dir := writeFiles(t, map[string]string{MetricsFile: `{"step":1,"train_loss":"abc","lr":null}
{"step":2,"train_loss":true}
{"step":4,"train_loss":2,"val_loss":null}
{"step":3,"train_loss":2.5,"note":"x"}
{"step":3,"train_loss":2.7}
{"step":5,"lr":0.1,"skipped":true}
`})
	run, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`"train_loss" is not a number on 2 lines, the first line 1 ("abc"): not drawn`,
		`"note" is not a number on line 4 ("x"): not drawn`,
		"line 4 goes back to step 3 after step 4: the curves are drawn in step order",
		"line 5 repeats step 3 of line 4: where a metric has two values at a step, its last line's is drawn",
	}
	if strings.Join(run.Notes, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes\n%s\nwant\n%s", strings.Join(run.Notes, "\n"), strings.Join(want, "\n"))
	}
	if got := fmt.Sprint(run.Series["train_loss"]); got != "[{3 2.7} {4 2}]" {
		t.Errorf("train_loss %s, want [{3 2.7} {4 2}]: in step order, step 3 from its last line", got)
	}
	if run.Records != 6 || run.Skipped != 1 || len(run.Series["lr"]) != 1 {
		t.Errorf("records %d skipped %d lr %v, want 6, 1, one point", run.Records, run.Skipped, run.Series["lr"])
	}

	// A clean run has no notes; one line of each kind among many is
	// counted.
	clean, err := LoadRun(writeRun(t, t.TempDir(), "clean", 1, false, ""))
	if err != nil || len(clean.Notes) != 0 {
		t.Errorf("a clean run: notes %q, %v", clean.Notes, err)
	}
	var b strings.Builder
	for _, step := range []int{10, 20, 30, 20, 10, 30, 40} {
		fmt.Fprintf(&b, "{\"step\": %d, \"train_loss\": 1, \"tag\": \"x\"}\n", step)
	}
	run, err = LoadRun(writeFiles(t, map[string]string{MetricsFile: b.String()}))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{`"tag" is not a number on 7 lines, the first line 1 ("x")`, "line 4 repeats step 20 of line 2 (3 lines in all)"} {
		if i >= len(run.Notes) || !strings.HasPrefix(run.Notes[i], s) {
			t.Errorf("notes %q, want [%d] to begin %q", run.Notes, i, s)
		}
	}
}

// The run table's status comes from summary.json: completed, interrupted
// and failed with their reasons, none (running or killed), and running
// (or killed) with the step the session started at and how the one before
// it ended.
func TestLoadRunStatus(t *testing.T) {
	metrics := "{\"step\": 10, \"train_loss\": 3}\n{\"step\": 20, \"train_loss\": 2.5}\n"
	cases := []struct{ summary, want string }{
		{`{"status": "completed", "step": 20}`, "completed"},
		{`{"status": "completed", "step": 20, "stopped_early": "no better val_loss in 5 evaluations"}`, "completed, stopped early: no better val_loss in 5 evaluations"},
		{`{"status": "interrupted", "interruption": "received hangup", "step": 20}`, "interrupted (received hangup)"},
		{`{"status": "failed", "error": "step 21: the training loss is NaN (lower lr, or check the data)", "step": 20}`, "failed: step 21: the training loss is NaN (lower lr, or check the data)"},
		{`{"status": "interrupted", "interruption": "received terminated", "step": 10}`, "interrupted (received terminated)"}, // an older gptctl's, with a session after it: no guess
		{`{"status": "running", "step": 0}`, "running, or killed: started at step 0"},
		{`{"status": "running", "step": 0, "previous": {"status": "failed", "error": "step 3: the training loss is NaN", "step": 2}}`, "running, or killed: started at step 0 after: failed: step 3: the training loss is NaN"},
		{`{"status": "running", "step": 10, "previous": {"status": "failed", "error": "step 23: the training loss is NaN", "step": 22}}`, "running, or killed: resumed at step 10 after: failed: step 23: the training loss is NaN"},
		{`{"status": "running", "step": 20, "previous": {"status": "completed", "step": 20}}`, "running, or killed: resumed at step 20 after: completed"},
		{`{"status": "running", "step": 10, "previous": {"status": "running", "step": 0}}`, "running, or killed: resumed at step 10 after: killed, after it started at step 0"},
		{`{"status": "running", "step": 10}`, "running, or killed: resumed at step 10"},
		{"", "no summary.json: running, or killed"},
		{`{"status": "comp`, "unknown: summary.json is cut short (unexpected end of JSON input)"},
		{`{"status": "completed", "step": 20} x`, "unknown: summary.json is not valid JSON (invalid character 'x' after top-level value)"},
		{`{"step": 20}`, "unknown: summary.json has no status"},
		{`{"status": "completed", "step": "20"}`, "unknown: summary.json: step is a JSON string, not a number"},
		{`[1]`, "unknown: summary.json holds a JSON array, not an object"},
	}
	for _, c := range cases {
		files := map[string]string{MetricsFile: metrics}
		if c.summary != "" {
			files[SummaryFile] = c.summary
		}
		dir := writeFiles(t, files)
		run, err := LoadRun(filepath.Join(dir, MetricsFile)) // the file named: its directory's summary
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != c.want {
			t.Errorf("summary %s: status %q, want %q", c.summary, run.Status, c.want)
		}
		if _, err := Render([]*Run{run}, filepath.Join(dir, "report"), []string{"html"}); err != nil {
			t.Fatal(err)
		}
		page, _ := os.ReadFile(filepath.Join(dir, "report", "report.html"))
		if !strings.Contains(string(page), "<th>status</th>") || !strings.Contains(string(page), "<td>"+htmlEscape(c.want)+"</td>") {
			t.Errorf("report.html lacks the status %q", c.want)
		}
	}
}

// htmlEscape escapes s as html/template writes text.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

// A run directory without logged steps (stopped before its first step: a
// summary and train.yaml but no metrics.jsonl; or an empty one) is said to
// be a run with no logged steps yet, with its status, and comes with a Run
// for the table; a directory without a run's files is not a run.
func TestLoadRunNotLogged(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"stopped/summary.json":   `{"status": "interrupted", "interruption": "received terminated", "step": 0}`,
		"stopped/train.yaml":     "n_layer: 2\n",
		"started/finetune.yaml":  "lr: 1.0e-3\n",
		"started/metrics.jsonl":  "",
		"running/summary.json":   `{"status": "running", "step": 0}`,
		"other/metrics.jsonl":    "",
		"other/notes.txt":        "",
		"notrun/summary.json/.x": "", // a directory of that name
	})
	cases := []struct{ path, status string }{
		{"stopped", "interrupted (received terminated)"},
		{"started", "no summary.json: running, or killed"},
		{"started/metrics.jsonl", "no summary.json: running, or killed"},
		{"running", "running, or killed: started at step 0"},
		{"other", ""},
		{"notrun", ""},
	}
	for _, c := range cases {
		_, err := LoadRun(filepath.Join(dir, c.path))
		var nr *NotRunError
		if !errors.As(err, &nr) {
			t.Fatalf("%s: %v, want a NotRunError", c.path, err)
		}
		if c.status == "" {
			if nr.Run != nil || strings.Contains(nr.Reason, "no logged steps") {
				t.Errorf("%s: %q, %+v: want it not taken for a run", c.path, err, nr.Run)
			}
			continue
		}
		if want := "it is a run with no logged steps yet (its status: " + c.status + ")"; nr.Reason != want {
			t.Errorf("%s: %q, want %q", c.path, nr.Reason, want)
		}
		if r := nr.Run; r == nil || r.Status != c.status || r.Records != 0 || len(r.Series) != 0 || r.Name != filepath.Base(strings.TrimSuffix(c.path, "/metrics.jsonl")) {
			t.Errorf("%s: run %+v", c.path, nr.Run)
		}
	}
}
