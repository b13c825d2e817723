package report

// The charts of a report: which a set of runs gets (loss, the finetune
// objective, lr, then every other metric), the lines each draws for a run
// and their legend names, and the file name each is written under.

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// chart is one figure: the metrics it draws and the file name it gets.
type chart struct {
	file     string // base name without extension
	title    string
	ylabel   string
	metrics  []string // drawn solid, dashed, ... per run
	finetune []string // what a finetune run draws instead, if not nil
}

// A finetune run logs train_loss = L3 = L2 + lambda*L1, its parts l2_loss
// (the task loss, which val_loss also is) and l1_loss (the LM loss, when
// lambda > 0). Its loss chart compares l2_loss with val_loss, and L3 and L1
// get a chart of their own.
var (
	lossChart      = chart{"loss", "Loss", "loss", []string{"train_loss", "val_loss"}, []string{"l2_loss", "val_loss"}}
	objectiveChart = chart{"objective", "Finetune objective: L3 = L2 + lambda*L1", "loss", nil, []string{"train_loss", "l1_loss"}}
	lossNames      = map[string]string{"train_loss": "train", "val_loss": "val"}
	ftLossNames    = map[string]string{"l2_loss": "train L2", "val_loss": "val L2", "train_loss": "train L3", "l1_loss": "train L1"}
)

// isFinetune reports whether r is a finetune run: one that logs l2_loss.
func isFinetune(r *Run) bool { return len(r.Series["l2_loss"]) > 0 }

// lines returns the metrics c draws for r, in order: solid, dashed, ...
func (c chart) lines(r *Run) []string {
	if c.finetune != nil && isFinetune(r) {
		return c.finetune
	}
	return c.metrics
}

// legendName names metric m of r in a chart of several metrics.
func legendName(r *Run, m string) string {
	if isFinetune(r) {
		return ftLossNames[m]
	}
	return lossNames[m]
}

// charts lists the figures for runs: loss, lr, then every other metric.
func charts(runs []*Run) []chart {
	present := map[string]bool{}
	for _, r := range runs {
		for k := range r.Series {
			present[k] = true
		}
	}
	var out []chart
	if present["train_loss"] || present["val_loss"] || present["l2_loss"] {
		out = append(out, lossChart)
	}
	if present["l1_loss"] {
		out = append(out, objectiveChart)
	}
	if present["lr"] {
		out = append(out, chart{"lr", "Learning rate", "lr", []string{"lr"}, nil})
	}
	for _, k := range []string{"train_loss", "val_loss", "l2_loss", "l1_loss", "lr"} {
		present[k] = false // drawn above
	}
	var others []string
	for _, r := range runs {
		for _, k := range r.Metrics() {
			if present[k] {
				others = append(others, k)
				present[k] = false
			}
		}
	}
	files := fileNames(others)
	for i, k := range others {
		title := xmlText(k)
		if k == "" {
			title = `"" (a metric without a name)`
		}
		out = append(out, chart{files[i], title, title, []string{k}, nil})
	}
	return out
}

// fileNames gives each metric a file name of its own, told apart without
// regard to case (a.png and A.png are one file on macOS and Windows): its
// name where that is a plain file name not yet taken, else fileName's,
// then _2, _3, ... while taken. A metric keeps its name before another's
// that maps to it: a_b is a_b, and a/b a_b_2.
func fileNames(metrics []string) []string {
	taken := map[string]bool{}
	for _, name := range []string{"loss", "objective", "lr", "report"} { // the charts above, report.html
		taken[name] = true
	}
	names := make([]string, len(metrics))
	for i, m := range metrics { // first the names that are file names as they are
		if fileName(m) == m && !taken[strings.ToLower(m)] {
			names[i], taken[strings.ToLower(m)] = m, true
		}
	}
	for i, m := range metrics {
		if names[i] != "" {
			continue
		}
		base := fileName(m)
		name := base
		for n := 2; taken[strings.ToLower(name)]; n++ {
			name = base + "_" + strconv.Itoa(n)
		}
		names[i], taken[strings.ToLower(name)] = name, true
	}
	return names
}

// fileName is metric as a file name: its letters, digits, '-', '_' and '.',
// others '_', not hidden (a leading '.' is '_'), and not empty ("metric").
// A name of a chart above (loss, lr, ...), or of a Windows device (aux,
// nul, com1: no file can have it there), gets a prefix: metric_loss. A long
// name is cut to 100 bytes.
func fileName(metric string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, metric)
	if strings.HasPrefix(name, ".") {
		name = "_" + name[1:]
	}
	switch low := strings.ToLower(name); {
	case low == "":
		name = "metric"
	case low == "loss", low == "objective", low == "lr", low == "report", windowsDevice(low):
		name = "metric_" + name
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}

// windowsDevice reports whether name (lower case) is one Windows keeps for a
// device, with or without an extension: con, prn, aux, nul, com1-9, lpt1-9.
func windowsDevice(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	switch {
	case base == "con", base == "prn", base == "aux", base == "nul":
		return true
	case len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")):
		return base[3] >= '1' && base[3] <= '9'
	}
	return false
}

// xmlText is s, a title or label of a chart or report.html, with what XML
// cannot hold as U+FFFD: C0 controls but tab, LF and CR, U+FFFE and U+FFFF,
// and bytes that are not UTF-8 (a run directory's name may hold any). An
// SVG with one is not well-formed, and a viewer draws none of it.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0xFFFE, r == 0xFFFF:
			return utf8.RuneError
		}
		return r
	}, s)
}
