package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// memRun is a run built in memory: metric: values at steps 10, 20, ...
func memRun(name string, series map[string][]float64) *Run {
	r := &Run{Name: name, Dir: "runs/" + name, Series: map[string][]Point{}, Records: 1}
	for m, values := range series {
		for i, v := range values {
			r.Series[m] = append(r.Series[m], Point{int64(10 * (i + 1)), v})
		}
	}
	return r
}

// One diverged run (a loss of 5.9e12) puts its chart on a log axis, where
// the other runs' curves keep their shape; a chart whose values span three
// decades or less, or that has a zero or a negative value, stays linear.
func TestReportLogScaleForDivergedRun(t *testing.T) {
	a := memRun("a", map[string][]float64{"train_loss": {4.0, 3.5, 3.1}, "lr": {1e-4, 2e-4, 3e-4}})
	b := memRun("b", map[string][]float64{"train_loss": {4.1, 3.6, 3.2}, "grad_norm": {0, 1, 2e6}})
	div := memRun("div", map[string][]float64{"train_loss": {5.9e12}, "grad_norm": {6.2e9}, "lr": {200}})
	var lr, elapsed []float64 // a finetune's linear decay to 0, logged every 10 of 5,683 steps; its clock from 0.5 s
	for step := 10; step < 5683; step += 10 {
		lr, elapsed = append(lr, 6.25e-5*float64(5683-step)/5683), append(elapsed, 0.5*float64(step)/10)
	}
	decay := memRun("decay", map[string][]float64{"lr": lr, "elapsed_s": elapsed})
	cases := []struct {
		name string
		runs []*Run
		c    chart
		log  bool
	}{
		{"loss with a diverged run", []*Run{a, b, div}, lossChart, true},
		{"lr with a diverged run", []*Run{a, div}, chart{"lr", "Learning rate", "lr", []string{"lr"}, nil}, true},
		{"loss without", []*Run{a, b}, lossChart, false},
		{"an lr decayed linearly to 0", []*Run{decay}, chart{"lr", "Learning rate", "lr", []string{"lr"}, nil}, false},
		{"hours of elapsed_s", []*Run{decay}, chart{"elapsed_s", "elapsed_s", "elapsed_s", []string{"elapsed_s"}, nil}, false},
		{"a zero among the values", []*Run{b, div}, chart{"grad_norm", "grad_norm", "grad_norm", []string{"grad_norm"}, nil}, false},
	}
	for _, c := range cases {
		f, err := c.c.plot(c.runs, runLabels(c.runs))
		if err != nil {
			t.Fatal(err)
		}
		_, isLog := f.p.Y.Scale.(plot.LogScale)
		if isLog != c.log || strings.Contains(f.p.Y.Label.Text, "(log scale)") != c.log {
			t.Errorf("%s: y scale %T, label %q; want log %v, said in the label", c.name, f.p.Y.Scale, f.p.Y.Label.Text, c.log)
		}
		if c.name == "loss with a diverged run" {
			// Run a's curve, 4.0 to 3.1, takes a share of the axis, not
			// 1e-13 of it.
			if span := f.p.Y.Norm(4.0) - f.p.Y.Norm(3.1); span < 0.005 {
				t.Errorf("run a's loss takes %.2g of the axis", span)
			}
		}
		if _, err := encode(f, "svg"); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	out := t.TempDir()
	if _, err := Render([]*Run{a, b, div}, out, []string{"svg"}); err != nil {
		t.Fatal(err)
	}
	if svg, _ := os.ReadFile(filepath.Join(out, "loss.svg")); !strings.Contains(string(svg), "loss (log scale)") {
		t.Error("loss.svg does not say its axis is logarithmic")
	}
}

// Log ticks: the powers of ten on the axis, labelled plainly near 1 and
// as 1eN beyond, at most about 12 labels over any span, none outside the
// range; none for a range a log axis cannot take.
func TestReportLogTicks(t *testing.T) {
	cases := []struct {
		min, max float64
		labels   string
	}{
		{3.1, 5.9e12, "10 1000 1e5 1e7 1e9 1e11"},
		{0.0002, 0.5, "0.001 0.01 0.1"},
		{1, 1e4, "1 10 100 1000 10000"},
		{5e-324, math.MaxFloat64, ""}, // checked for count only
	}
	for _, c := range cases {
		ticks := logTicks(c.min, c.max)
		var labels []string
		for _, tk := range ticks {
			if tk.Value < c.min || tk.Value > c.max {
				t.Errorf("%g..%g: tick %g outside", c.min, c.max, tk.Value)
			}
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if len(labels) < 2 || len(labels) > 13 {
			t.Errorf("%g..%g: %d labels %v", c.min, c.max, len(labels), labels)
		}
		if c.labels != "" && strings.Join(labels, " ") != c.labels {
			t.Errorf("%g..%g: labels %v, want %s", c.min, c.max, labels, c.labels)
		}
	}
	for _, r := range [][2]float64{{0, 10}, {-1, 10}, {5, 5}, {10, 1}, {1, math.Inf(1)}} {
		if ticks := logTicks(r[0], r[1]); len(ticks) != 0 {
			t.Errorf("%g..%g: ticks %v, want none", r[0], r[1], ticks)
		}
	}
}

// Metrics whose names map to one file name get one each, told apart
// without regard to case (one file on macOS and Windows); none is hidden
// or empty, and a name that is a file name keeps it.
func TestReportChartFileNames(t *testing.T) {
	series := map[string][]float64{"train_loss": {3, 2}}
	for _, m := range []string{"a/b", "a_b", "Loss", "loss", "", ".report-files", "..", "LR", "Report", "X", "x", "x_2", "aux", "COM1.x", "com10"} {
		series[m] = []float64{1, 2}
	}
	run := memRun("r", series)
	seen := map[string]string{}
	var files []string
	for _, c := range charts([]*Run{run}) {
		key := strings.ToLower(c.file)
		if prev, ok := seen[key]; ok {
			t.Errorf("%q and %q share the file name %s", prev, c.metrics[0], c.file)
		}
		seen[key] = c.metrics[0]
		if c.file == "" || strings.HasPrefix(c.file, ".") || strings.ContainsAny(c.file, `/\`) {
			t.Errorf("metric %q: file name %q", c.metrics[0], c.file)
		}
		files = append(files, c.file)
	}
	for m, want := range map[string]string{"a_b": "a_b", "a/b": "a_b_2", "X": "X", "x_2": "x_2", "x": "x_3", "": "metric", ".report-files": "_report-files",
		"aux": "metric_aux", "COM1.x": "metric_COM1.x", "com10": "com10"} {
		for _, c := range charts([]*Run{run}) {
			if c.metrics[0] == m && c.file != want {
				t.Errorf("metric %q: file %s, want %s", m, c.file, want)
			}
		}
	}
	out := t.TempDir()
	paths, err := Render([]*Run{run}, out, []string{"svg"})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(out)
	var visible int
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			visible++
		}
	}
	if len(paths) != len(files) || visible != len(files) {
		t.Errorf("%d charts, %d paths written, %d files in the report: %v", len(files), len(paths), visible, files)
	}
}
