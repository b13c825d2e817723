package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gptctl/data"
)

// Formats are the outputs Render can write.
var Formats = []string{"png", "svg", "html"}

// Render writes into outDir, for each chart (loss, lr, then one per other
// metric), <chart>.png and/or <chart>.svg, and report.html: one page with the
// charts inlined as base64 SVG (its text drawn by the browser, in any
// script: a PNG's font lacks CJK, whose run names vanished from the
// legends) and a table of final and best values per run.
// formats is a subset of Formats; nil means all. It returns the paths written.
func Render(runs []*Run, outDir string, formats []string) ([]string, error) {
	if len(runs) == 0 {
		return nil, errors.New("report: no runs to render")
	}
	want, err := checkFormats(formats)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	labels := runLabels(runs)
	page := htmlPage{Runs: summaries(runs, labels)}
	var written []string
	for _, c := range charts(runs) {
		p, err := c.plot(runs, labels)
		if err != nil {
			return written, err
		}
		sec := htmlSection{Title: c.title, Rows: values(runs, labels, c)}
		if written, err = writeChart(p, c, outDir, want, &sec, written); err != nil {
			return written, err
		}
		page.Sections = append(page.Sections, sec)
	}
	if want["html"] {
		path, err := writePage(outDir, page)
		if err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, replaceManifest(outDir, written)
}

// writeChart encodes the figure p of chart c in the formats wanted: each
// of png and svg wanted is written into outDir, its path appended to
// written, which it returns; the SVG of a report.html wanted goes into
// sec, inlined.
func writeChart(p *figure, c chart, outDir string, want map[string]bool, sec *htmlSection, written []string) ([]string, error) {
	for _, f := range []string{"png", "svg"} {
		if !want[f] && (f != "svg" || !want["html"]) {
			continue
		}
		img, err := encode(p, f)
		if err != nil {
			return written, err
		}
		if f == "svg" && want["html"] {
			sec.Image = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(img))
		}
		if want[f] {
			path := filepath.Join(outDir, c.file+"."+f)
			if err := data.WriteFile(path, img); err != nil { // atomic: a viewer never reads half a chart
				return written, fmt.Errorf("report: %w", err)
			}
			written = append(written, path)
		}
	}
	return written, nil
}

// writePage writes page as outDir/report.html and returns its path.
func writePage(outDir string, page htmlPage) (string, error) {
	path := filepath.Join(outDir, "report.html")
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, page); err != nil {
		return "", fmt.Errorf("report: html: %w", err)
	}
	if err := data.WriteFile(path, buf.Bytes()); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}

// manifestFile lists, in a report's directory, the files the last report
// wrote there.
const manifestFile = ".report-files"

// replaceManifest removes the files an earlier report wrote into outDir
// that this one did not (the charts of metrics the runs now reported do not
// have), and records the ones it wrote. Files gptctl did not write stay.
func replaceManifest(outDir string, written []string) error {
	path := filepath.Join(outDir, manifestFile)
	names := make([]string, len(written))
	for i, w := range written {
		names[i] = filepath.Base(w)
	}
	if old, err := os.ReadFile(path); err == nil {
		for _, name := range strings.Fields(string(old)) {
			if !slices.Contains(names, name) && filepath.Base(name) == name {
				os.Remove(filepath.Join(outDir, name))
			}
		}
	}
	if err := data.WriteFile(path, []byte(strings.Join(names, "\n")+"\n")); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func checkFormats(formats []string) (map[string]bool, error) {
	if len(formats) == 0 {
		formats = Formats
	}
	want := map[string]bool{}
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("report: unknown format %q (want png, svg or html)", f)
		}
		want[f] = true
	}
	return want, nil
}

type htmlPage struct {
	Runs     []htmlRun
	Sections []htmlSection
}

type htmlRun struct {
	Label, Dir, Status, Records, LastStep, TrainLoss, ValLoss, Note string
}

type htmlSection struct {
	Title string
	Image template.URL
	Rows  []htmlValue
}

type htmlValue struct {
	Label, Metric, Final, Best string
}

func summaries(runs []*Run, labels []string) []htmlRun {
	out := make([]htmlRun, len(runs))
	for i, r := range runs {
		h := htmlRun{Label: labels[i], Dir: xmlText(r.Dir), Status: xmlText(r.Status), Records: strconv.Itoa(r.Records), LastStep: "-"}
		if h.Status == "" { // a Run built in memory
			h.Status = "-"
		}
		var last int64 = -1
		for _, s := range r.Series {
			last = max(last, s[len(s)-1].Step)
		}
		if last >= 0 {
			h.LastStep = strconv.FormatInt(last, 10)
		}
		train := lossChart.lines(r)[0] // a finetune run's task loss, like its val_loss
		h.TrainLoss = fmtPoint(r.Final(train))
		h.ValLoss = fmtPoint(r.Best("val_loss"))
		var notes []string
		if isFinetune(r) {
			notes = append(notes, "finetune: train loss is the task loss L2 ("+train+"), not train_loss (L3)")
		}
		if r.Truncated {
			notes = append(notes, "last line truncated")
		}
		if r.Skipped > 0 {
			notes = append(notes, plural(r.Skipped, "step")+" skipped for non-finite values")
		}
		notes = append(notes, r.Notes...)
		h.Note = xmlText(strings.Join(notes, "; "))
		out[i] = h
	}
	return out
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func values(runs []*Run, labels []string, c chart) []htmlValue {
	var out []htmlValue
	for i, r := range runs {
		for _, m := range c.lines(r) {
			if len(r.Series[m]) == 0 {
				continue
			}
			out = append(out, htmlValue{labels[i], xmlText(m), fmtPoint(r.Final(m)), fmtPoint(r.Best(m))})
		}
	}
	return out
}

func fmtPoint(p Point, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(p.Value, 'g', 5, 64) + " @ " + strconv.FormatInt(p.Step, 10)
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gptctl report</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f2f2f2; }
td.num { text-align: right; font-family: monospace; }
img { max-width: 100%; }
</style>
</head>
<body>
<h1>gptctl report</h1>
<table>
<tr><th>run</th><th>directory</th><th>status</th><th>records</th><th>last step</th><th>final train loss</th><th>best val loss</th><th></th></tr>
{{range .Runs}}<tr><td>{{.Label}}</td><td>{{.Dir}}</td><td>{{.Status}}</td><td class="num">{{.Records}}</td><td class="num">{{.LastStep}}</td><td class="num">{{.TrainLoss}}</td><td class="num">{{.ValLoss}}</td><td>{{.Note}}</td></tr>
{{end}}</table>
{{range .Sections}}
<h2>{{.Title}}</h2>
{{if .Image}}<img src="{{.Image}}" alt="{{.Title}} against step">{{end}}
<table>
<tr><th>run</th><th>metric</th><th>final @ step</th><th>best @ step</th></tr>
{{range .Rows}}<tr><td>{{.Label}}</td><td>{{.Metric}}</td><td class="num">{{.Final}}</td><td class="num">{{.Best}}</td></tr>
{{end}}</table>
{{end}}
</body>
</html>
`))
