package report

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// writeRun fabricates a run directory: a loss that decays, evaluations every
// 50 steps, a warmup-then-decay lr and, if finetune, an accuracy.
func writeRun(t *testing.T, root, name string, scale float64, finetune bool, tail string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for step := 0; step <= 500; step += 10 {
		loss := 1.5 + 3*scale*100/float64(step+100)
		lr := 6e-4 * min(1, float64(step+10)/100) * (1 - float64(step)/600)
		fmt.Fprintf(&b, `{"step": %d, "train_loss": %.4f, "lr": %.3g, "tokens_per_s": %d`, step, loss, lr, 9000+step)
		if step%50 == 0 {
			fmt.Fprintf(&b, `, "val_loss": %.4f`, loss+0.1)
			if finetune {
				fmt.Fprintf(&b, `, "val_accuracy": %.3f, "split": "val"`, 0.5+float64(step)/1200)
			}
		}
		b.WriteString("}\n")
	}
	b.WriteString(tail)
	if err := os.WriteFile(filepath.Join(dir, MetricsFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRun(t *testing.T) {
	root := t.TempDir()
	run, err := LoadRun(writeRun(t, root, "ft", 1, true, `{"step": 510, "train_lo`))
	if err != nil {
		t.Fatal(err)
	}
	if run.Name != "ft" || run.Records != 51 || !run.Truncated {
		t.Errorf("name %q records %d truncated %v, want ft 51 true", run.Name, run.Records, run.Truncated)
	}
	want := []string{"lr", "tokens_per_s", "train_loss", "val_accuracy", "val_loss"}
	if got := run.Metrics(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
	if p, _ := run.Final("train_loss"); p.Step != 500 {
		t.Errorf("final train_loss at step %d, want 500", p.Step)
	}
	if p, _ := run.Best("val_accuracy"); p.Step != 500 {
		t.Errorf("best val_accuracy at step %d, want 500 (higher is better)", p.Step)
	}
	if p, _ := run.Best("val_loss"); p.Step != 500 {
		t.Errorf("best val_loss at step %d, want 500", p.Step)
	}
	if _, ok := run.Best("lr"); ok {
		t.Error("lr has a best value")
	}
	// Correlations are better higher; time and gradient norms have no best.
	r := &Run{Series: map[string][]Point{}}
	for _, m := range []string{"val_pearson", "val_spearman", "val_mcc", "elapsed_s", "grad_norm", "val_mse"} {
		r.Series[m] = []Point{{10, 0.2}, {20, 0.8}, {30, 0.5}}
	}
	for m, want := range map[string]int64{"val_pearson": 20, "val_spearman": 20, "val_mcc": 20, "val_mse": 10, "elapsed_s": 0, "grad_norm": 0} {
		p, ok := r.Best(m)
		if want == 0 && ok || want != 0 && p.Step != want {
			t.Errorf("best %s: step %d (%v), want %d (0: none)", m, p.Step, ok, want)
		}
	}
}

func TestLoadRunErrors(t *testing.T) {
	root := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"bad-middle", "{\"step\": 1, \"train_loss\": 2}\n{\"step\": 2, oops}\n{\"step\": 3, \"train_loss\": 1}\n", "metrics.jsonl: line 2: not a whole JSON object"},
		{"no-step", "{\"train_loss\": 2}\n", `line 1: no numeric "step"`},
		{"float-step", "{\"step\": 1.5}\n", "step 1.5 is not an integer"},
		{"truncated-with-newline", "{\"step\": 1, \"train_loss\": 2}\n{\"step\": 2, \"tr\n", "line 2"},
		{"empty", "\n", "no metrics records"},
	}
	for _, tt := range tests {
		dir := filepath.Join(root, tt.name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, MetricsFile), []byte(tt.content), 0o644)
		if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := LoadRun(filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "missing: no such directory") {
		t.Errorf("missing dir: err = %v", err)
	}
	empty := filepath.Join(root, "empty-dir")
	os.MkdirAll(empty, 0o755)
	if _, err := LoadRun(empty); err == nil || !strings.Contains(err.Error(), "empty-dir: it has no metrics.jsonl") {
		t.Errorf("a directory without metrics: err = %v", err)
	}
}

func TestRender(t *testing.T) {
	root := t.TempDir()
	var runs []*Run
	for i, name := range []string{"gpt-small", "gpt-wide"} {
		run, err := LoadRun(writeRun(t, root, name, 1+float64(i)/2, i == 1, ""))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	out := filepath.Join(root, "report")
	paths, err := Render(runs, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range []string{"loss", "lr", "tokens_per_s", "val_accuracy"} {
		want = append(want, filepath.Join(out, c+".png"), filepath.Join(out, c+".svg"))
	}
	want = append(want, filepath.Join(out, "report.html"))
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Fatalf("wrote\n%v\nwant\n%v", paths, want)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil || len(raw) == 0 {
			t.Fatalf("%s: %v, %d bytes", p, err, len(raw))
		}
		if filepath.Ext(p) == ".png" {
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
				t.Errorf("%s is %v", p, b)
			}
		}
	}
	raw, _ := os.ReadFile(filepath.Join(out, "report.html"))
	page := html.UnescapeString(string(raw)) // as a browser reads the attributes
	for _, s := range []string{"gpt-small", "gpt-wide", "data:image/svg+xml;base64,", "val_accuracy"} {
		if !strings.Contains(page, s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	for _, s := range []string{"http://", "https://"} {
		if strings.Contains(page, s) {
			t.Errorf("report.html refers to %q", s)
		}
	}
	if _, err := Render(runs, out, []string{"pdf"}); err == nil {
		t.Error("format pdf accepted")
	}
	paths, err = Render(runs[:1], filepath.Join(root, "svg"), []string{"svg"})
	if err != nil || len(paths) != 3 { // loss, lr, tokens_per_s
		t.Errorf("svg only: %v, %v", paths, err)
	}
	// A report into the same directory of runs without val_accuracy
	// removes that chart of the earlier report, and leaves a file of the
	// user's.
	mine := filepath.Join(out, "notes.png")
	os.WriteFile(mine, []byte("mine"), 0o644)
	if _, err := Render(runs[:1], out, nil); err != nil {
		t.Fatal(err)
	}
	for name, kept := range map[string]bool{"val_accuracy.png": false, "val_accuracy.svg": false, "loss.png": true, "notes.png": true} {
		if _, err := os.Stat(filepath.Join(out, name)); (err == nil) != kept {
			t.Errorf("after a report without val_accuracy, %s: %v, want kept %v", name, err, kept)
		}
	}
}

// render calls Render, turning a panic, or no answer in a minute, into an error.
func render(runs []*Run, out string, formats []string) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if e := recover(); e != nil {
				done <- fmt.Errorf("panic: %v", e)
			}
		}()
		_, err := Render(runs, out, formats)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		return errors.New("Render did not return in a minute")
	}
}

// A diverged or degenerate run still renders: constant series at any
// magnitude (gonum pads a constant with +-1, which vanishes past 2^53, and its
// ticks then panic), one record, values near MaxFloat64, a span wider than
// MaxFloat64 (DefaultTicks never returns), subnormals, and NaN and infinities
// in a Run built in memory.
func TestReportExtremeValues(t *testing.T) {
	big := math.MaxFloat64
	run := func(name string, values ...float64) *Run {
		r := &Run{Name: name, Dir: name, Series: map[string][]Point{}, Records: len(values)}
		for i, v := range values {
			step := int64(i + 1)
			r.Series["train_loss"] = append(r.Series["train_loss"], Point{step, 4 - float64(i)/10})
			r.Series["lr"] = append(r.Series["lr"], Point{step, 1e30})
			r.Series["grad_norm"] = append(r.Series["grad_norm"], Point{step, v})
			r.Series["val_loss"] = append(r.Series["val_loss"], Point{step, -v})
		}
		return r
	}
	cases := []*Run{
		run("constant-1e17", 1e17, 1e17),
		run("constant-1e16", 1e16, 1e16, 1e16),
		run("one-record", 1e17),
		run("one-record-zero", 0),
		run("constant-1e308", 1e308, 1e308),
		run("maxfloat", big, big),
		run("near-maxfloat", big, big*0.999),
		run("span-past-maxfloat", 1e308, -1e308, big),
		run("subnormal", 5e-324, 5e-324),
		run("tiny-range", 1e17, 1e17+16),
		run("non-finite", math.NaN(), math.Inf(1), math.Inf(-1)),
		run("some-non-finite", 1, math.NaN(), 2, math.Inf(1)),
		run("log-span-of-the-floats", 5e-324, 1, big), // a log axis: every decade of the floats
	}
	root := t.TempDir()
	for _, r := range cases {
		t.Run(r.Name, func(t *testing.T) {
			if err := render([]*Run{r}, filepath.Join(root, r.Name), []string{"png", "svg", "html"}); err != nil {
				t.Error(err)
			}
		})
	}
	if err := render(cases, filepath.Join(root, "all"), nil); err != nil {
		t.Errorf("all runs in one report: %v", err)
	}
}

func TestReportValueRange(t *testing.T) {
	big := math.MaxFloat64
	cases := []struct{ min, max, wantMin, wantMax float64 }{
		{1.5, 4, 1.5, 4}, // data with a range keeps it
		{1e17, 1e17, 0.95e17, 1.05e17},
		{-1e17, -1e17, -1.05e17, -0.95e17},
		{1e-3, 1e-3, 0.95e-3, 1.05e-3},
		{0, 0, -1, 1},
		{5e-324, 5e-324, -1, 1},
		{big, big, big * 0.95, big},
		{-big, -big, -big, -big * 0.95},
		{-1e308, 1e308, -big / 2, big / 2},
		{math.Inf(1), math.Inf(-1), -1, 1}, // no data
		{math.NaN(), math.NaN(), -1, 1},
	}
	for _, c := range cases {
		lo, hi := valueRange(c.min, c.max)
		if lo != c.wantMin || hi != c.wantMax {
			t.Errorf("valueRange(%g, %g) = %g, %g, want %g, %g", c.min, c.max, lo, hi, c.wantMin, c.wantMax)
		}
		if !(lo < hi) || math.IsInf(hi-lo, 0) {
			t.Errorf("valueRange(%g, %g) = %g, %g: not a range DefaultTicks can mark", c.min, c.max, lo, hi)
		}
	}
}

// Ticks never panic or hang, and their labels read differently, each its
// tick's value (the ticks of 1.07 to 1.1 at 1.075, 1.085, 1.095 were
// labelled 1.07, 1.08, 1.09).
func TestReportValueTicks(t *testing.T) {
	big := math.MaxFloat64
	for _, r := range [][2]float64{{0.95e17, 1.05e17}, {0.95 * big, big}, {0.00095, 0.00105}, {1e17, 1e17 + 16},
		{1.07132, 1.09996}, {3.01, 3.3}, {2.95, 3.35}, {1, 1}, {2, 1}, {-big, big}, {math.NaN(), 1}} {
		ticks := valueTicks(r[0], r[1])
		if !distinct(ticks) || !exact(ticks, (r[1]-r[0])*1e-6) {
			t.Errorf("ticks of %g..%g: %v", r[0], r[1], ticks)
		}
		if !(r[0] < r[1]) || math.IsInf(r[1]-r[0], 0) || math.IsNaN(r[0]) {
			if len(ticks) != 0 {
				t.Errorf("ticks of %g..%g: %v, want none", r[0], r[1], ticks)
			}
		} else if len(ticks) == 0 {
			t.Errorf("no ticks for %g..%g", r[0], r[1])
		}
	}
	if ticks := stepTicks(5, 5); len(ticks) != 0 {
		t.Errorf("step ticks of an empty range: %v", ticks)
	}
}

// writeFinetune writes the metrics.jsonl of a finetune run as train/finetune_loop.go
// does: train_loss is L3 = L2 + lambda*L1, beside l2_loss and, for lambda > 0,
// l1_loss; evaluations add val_loss (a task loss, like L2) and val_accuracy.
func writeFinetune(t *testing.T, root, name string, lambda float64) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for step := 10; step <= 100; step += 10 {
		l2, l1 := 0.7-float64(step)/500, 3.5-float64(step)/200
		fmt.Fprintf(&b, `{"step": %d, "epoch": %.2f, "lr": 6.25e-05, "grad_norm": 1.3, "train_loss": %.4f, "l2_loss": %.4f`,
			step, float64(step)/50, l2+lambda*l1, l2)
		if lambda > 0 {
			fmt.Fprintf(&b, `, "l1_loss": %.4f`, l1)
		}
		if step%50 == 0 {
			fmt.Fprintf(&b, `, "val_loss": %.4f, "val_accuracy": %.3f`, l2+0.05, 0.6+float64(step)/1000)
		}
		b.WriteString(`, "tokens_per_s": 1200}` + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, MetricsFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A finetune run's loss chart and run table put the task loss L2 beside
// val_loss, not train_loss (L3, which adds lambda times the LM loss); L3 and
// L1 get a chart of their own. A pretrain run in the same report is drawn as
// before.
func TestReportFinetuneLosses(t *testing.T) {
	root := t.TempDir()
	var runs []*Run
	for _, dir := range []string{writeRun(t, root, "pre", 1, false, ""), writeFinetune(t, root, "ft", 0.5), writeFinetune(t, root, "ft0", 0)} {
		run, err := LoadRun(dir)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	var files []string
	for _, c := range charts(runs) {
		files = append(files, c.file)
	}
	if want := "[loss objective lr tokens_per_s epoch grad_norm val_accuracy]"; fmt.Sprint(files) != want {
		t.Errorf("charts %v, want %s", files, want)
	}
	for i, want := range []string{"[train_loss val_loss]", "[l2_loss val_loss]", "[l2_loss val_loss]"} {
		if got := fmt.Sprint(lossChart.lines(runs[i])); got != want {
			t.Errorf("%s: loss chart draws %s, want %s", runs[i].Name, got, want)
		}
	}
	if got := fmt.Sprint(objectiveChart.lines(runs[0])); got != "[]" {
		t.Errorf("pre: objective chart draws %s", got)
	}

	out := filepath.Join(root, "report")
	if _, err := Render(runs, out, []string{"svg", "html"}); err != nil {
		t.Fatal(err)
	}
	svg, _ := os.ReadFile(filepath.Join(out, "loss.svg"))
	for _, s := range []string{"pre train", "pre val", "ft train L2", "ft val L2", "ft0 train L2"} {
		if !bytes.Contains(svg, []byte(s+"<")) {
			t.Errorf("loss.svg lacks the legend %q", s)
		}
	}
	svg, _ = os.ReadFile(filepath.Join(out, "objective.svg"))
	for _, s := range []string{"ft train L3", "ft train L1"} {
		if !bytes.Contains(svg, []byte(s+"<")) {
			t.Errorf("objective.svg lacks the legend %q", s)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	l2 := `<td class="num">0.5 @ 100</td>` // ft's final l2_loss
	l3 := `<td class="num">2 @ 100</td>`   // ft's final train_loss: 0.5 + 0.5*3
	pre := `<td class="num">2 @ 500</td>`  // pre's final train_loss: 1.5 + 300/600
	for _, s := range []string{l2, pre, "task loss L2 (l2_loss)"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	if i := bytes.Index(html, []byte("<h2>")); i < 0 || bytes.Contains(html[:i], []byte(l3)) {
		t.Errorf("the run table shows ft's train_loss L3 (%s) as its train loss", l3)
	}
}

// report.html draws its charts as SVG, whose text the browser renders in
// any script: a run named in Chinese keeps its legend (the PNG's font has
// no CJK glyphs, and such names vanished from it).
func TestRenderHTMLKeepsNonLatinNames(t *testing.T) {
	run := &Run{Name: "实验1", Dir: "runs/实验1", Series: map[string][]Point{"train_loss": {{1, 4.1}, {2, 4.0}}}, Records: 2}
	out := t.TempDir()
	if _, err := Render([]*Run{run}, out, []string{"html"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "report.html"))
	page := html.UnescapeString(string(raw))
	i := strings.Index(page, "data:image/svg+xml;base64,")
	if i < 0 {
		t.Fatal("no SVG chart in report.html")
	}
	b64 := page[i+len("data:image/svg+xml;base64,"):]
	b64 = b64[:strings.IndexByte(b64, '"')]
	svg, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !strings.Contains(string(svg), "实验1") {
		t.Errorf("the chart does not name the run 实验1 (%v)", err)
	}
}

// Twenty runs get twenty line styles, a run's metrics alike in colour.
func TestLineStyles(t *testing.T) {
	seen := map[string]int{}
	for i := range 20 {
		for j := range 2 {
			col, dash := lineStyle(i, j)
			key := fmt.Sprint(col, dash)
			if prev, ok := seen[key]; ok {
				t.Errorf("runs %d and %d share the style %s", prev, i, key)
			}
			seen[key] = i
			if first, _ := lineStyle(i, 0); col != first {
				t.Errorf("run %d's metrics in two colours", i)
			}
		}
	}
}

// A legend of more entries than fit over the lines (20 runs, train and val
// each) goes in columns below the plot: the chart keeps its width (the
// report's page would shrink a wider one) and grows taller, every entry
// drawn below the plot's area, none over the lines; a few runs keep theirs
// over the plot, at its size.
func TestReportLegendBelow(t *testing.T) {
	root := t.TempDir()
	var runs []*Run
	for i := range 20 {
		run, err := LoadRun(writeRun(t, root, fmt.Sprintf("sweep-lr-%02d", i), 1+float64(i)/10, false, ""))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	f, err := lossChart.plot(runs, runLabels(runs))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.below) < 2 || len(f.below) > 8 {
		t.Errorf("40 legend entries in %d columns", len(f.below))
	}
	svg, err := encode(f, "svg")
	if err != nil {
		t.Fatal(err)
	}
	w, h := svgSize(t, svg)
	if w != float64(plotW) || h <= float64(plotH) || h > 3*float64(plotH) {
		t.Errorf("the chart with its legend below is %.0f x %.0f pt, the plot %.0f x %.0f", w, h, float64(plotW), float64(plotH))
	}
	for i := range 20 {
		for _, m := range []string{"train", "val"} {
			label := fmt.Sprintf("sweep-lr-%02d %s", i, m)
			x, y, ok := textAt(t, svg, label)
			if !ok {
				t.Fatalf("the legend lacks %q", label)
			}
			if y < float64(plotH) || x < 0 || x > float64(plotW) { // SVG's y runs down the page
				t.Errorf("%q is drawn at (%.0f, %.0f), not below the plot (%.0f pt tall)", label, x, y, float64(plotH))
			}
		}
	}

	few, err := lossChart.plot(runs[:3], runLabels(runs[:3]))
	if err != nil {
		t.Fatal(err)
	}
	svg, err = encode(few, "svg")
	if err != nil {
		t.Fatal(err)
	}
	if w, h := svgSize(t, svg); len(few.below) != 0 || w != float64(plotW) || h != float64(plotH) {
		t.Errorf("3 runs: %d columns below, %.0f x %.0f pt", len(few.below), w, h)
	}
	if _, y, ok := textAt(t, svg, "sweep-lr-00 train"); !ok || y >= float64(plotH) {
		t.Errorf("3 runs: the legend entry is at y=%.0f (found %v), want over the plot", y, ok)
	}
}

// svgSize is the width and height attributes of an SVG's root element,
// in points.
func svgSize(t *testing.T, svg []byte) (w, h float64) {
	t.Helper()
	m := regexp.MustCompile(`<svg[^>]* width="([0-9.]+)pt" height="([0-9.]+)pt"`).FindSubmatch(svg)
	if m == nil {
		t.Fatalf("no width and height in %.200s", svg)
	}
	w, _ = strconv.ParseFloat(string(m[1]), 64)
	h, _ = strconv.ParseFloat(string(m[2]), 64)
	return w, h
}

// textAt is where on the page, y running down from the top, the text
// element that reads label is drawn. The SVG draws in gonum's coordinates
// (y up from the bottom) flipped by its root group, a text flipped back by
// its own scale(1, -1): its y attribute is the page's y less the height.
func textAt(t *testing.T, svg []byte, label string) (x, y float64, ok bool) {
	m := regexp.MustCompile(`<text x="([-0-9.]+)" y="([-0-9.]+)" transform="scale\(1, -1\)"[^>]*>` + regexp.QuoteMeta(label) + `<`).FindSubmatch(svg)
	if m == nil {
		return 0, 0, false
	}
	_, h := svgSize(t, svg)
	x, _ = strconv.ParseFloat(string(m[1]), 64)
	y, _ = strconv.ParseFloat(string(m[2]), 64)
	return x, h + y, true
}

// A metric key with a control character (a hand-made metrics.jsonl), a run
// directory whose name holds one or a byte that is not UTF-8, and a status
// with one still give SVGs that parse as XML, in their files and inlined in
// report.html, whose text holds none either.
func TestRenderTextXMLCannotHold(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "run\x01\xff")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, MetricsFile), []byte(`{"step":1,"a\u0001b":1,"train_loss":3,"c\ufffed":1}`+"\n"+`{"step":2,"a\u0001b":2,"train_loss":2,"c\ufffed":2}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"status": "failed", "error": "x\u0002y", "step": 2}`), 0o644)
	run, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "report")
	paths, err := Render([]*Run{run}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var svgs [][]byte
	for _, p := range paths {
		if filepath.Ext(p) == ".svg" {
			b, _ := os.ReadFile(p)
			svgs = append(svgs, b)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, m := range regexp.MustCompile(`data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)`).FindAllSubmatch([]byte(html.UnescapeString(string(page))), -1) {
		b, err := base64.StdEncoding.DecodeString(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		svgs = append(svgs, b)
	}
	if len(svgs) != 6 { // loss, a_b, c_d: files and inlined
		t.Fatalf("%d SVGs in %v and report.html, want 6", len(svgs), paths)
	}
	for i, b := range svgs {
		dec := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("SVG %d is not well-formed XML: %v", i, err)
				break
			}
		}
	}
	if i := bytes.IndexFunc(page, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE }); i >= 0 || !utf8.Valid(page) {
		t.Errorf("report.html holds a control character or bytes that are not UTF-8 (at %d)", i)
	}
}

// Metrics files given by names of their own, copies side by side in one
// directory, are runs apart: each named after its file, labelled apart
// from the others, its status not taken from the directory's run.
func TestLoadRunMetricsFiles(t *testing.T) {
	dir := writeRun(t, t.TempDir(), "pre", 1, false, "")
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"status": "completed", "step": 500}`), 0o644)
	raw, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	var runs []*Run
	for _, name := range []string{"m1.jsonl", "m2.jsonl", MetricsFile} {
		os.WriteFile(filepath.Join(dir, name), raw, 0o644)
		run, err := LoadRun(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	if got := runLabels(runs); got[0] != "m1" || got[1] != "m2" || got[2] != "pre" {
		t.Errorf("labels %q, want m1, m2 and pre", got)
	}
	if !strings.HasPrefix(runs[0].Status, "unknown: a metrics file apart from its run") || runs[2].Status != "completed" {
		t.Errorf("status %q and %q, want unknown for the copy and completed for the run", runs[0].Status, runs[2].Status)
	}
}
