package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// MetricsFile is the file LoadRun reads from a run directory.
const MetricsFile = "metrics.jsonl"

// Run is the metrics of one training run.
type Run struct {
	Name      string             // the run directory's base name
	Dir       string             // the directory given to LoadRun
	Series    map[string][]Point // every numeric key but "step", sorted by step
	Records   int                // lines read
	Truncated bool               // a partial last line (a killed run) was ignored
}

// Point is one value of a metric.
type Point struct {
	Step  int64
	Value float64
}

// NotRunError is a directory or file LoadRun cannot read as a run: no
// metrics file, or one that is not one. Other errors are the file
// system's.
type NotRunError struct{ Err error }

func (e *NotRunError) Error() string { return e.Err.Error() }
func (e *NotRunError) Unwrap() error { return e.Err }

// LoadRun reads dir/metrics.jsonl: one JSON object per line with an integer
// "step" and any numeric metrics ("train_loss", "val_loss", "lr", ...).
// Non-numeric values are ignored. dir may also name the file itself.
func LoadRun(dir string) (*Run, error) {
	path := filepath.Join(dir, MetricsFile)
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		path, dir = dir, filepath.Dir(dir)
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, &NotRunError{fmt.Errorf("report: %s: no such directory (pass a run directory or its metrics file)", dir)}
		}
		return nil, &NotRunError{fmt.Errorf("report: %s has no %s (pass a run directory or its metrics file)", dir, MetricsFile)}
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	name := filepath.Base(filepath.Clean(dir))
	if abs, err := filepath.Abs(dir); err == nil {
		name = filepath.Base(abs)
	}
	run := &Run{Name: name, Dir: dir, Series: map[string][]Point{}}
	lines := bytes.Split(raw, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		last := i == len(lines)-1 // only when the file lacks a final newline
		if err := run.addLine(line); err != nil {
			if last {
				run.Truncated = true
				break
			}
			return nil, &NotRunError{fmt.Errorf("report: %s line %d: %w", path, i+1, err)}
		}
	}
	if run.Records == 0 {
		return nil, &NotRunError{fmt.Errorf("report: %s: no metrics records", path)}
	}
	for _, s := range run.Series {
		sort.SliceStable(s, func(i, j int) bool { return s[i].Step < s[j].Step })
	}
	return run, nil
}

func (r *Run) addLine(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	num, ok := rec["step"].(json.Number)
	if !ok {
		return errors.New(`no numeric "step"`)
	}
	f, err := num.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return fmt.Errorf("step %s is not an integer", num)
	}
	step := int64(f)
	for k, v := range rec {
		n, ok := v.(json.Number)
		if !ok || k == "step" {
			continue
		}
		x, err := n.Float64()
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		r.Series[k] = append(r.Series[k], Point{step, x})
	}
	r.Records++
	return nil
}

// Metrics returns the names of the run's metrics, sorted.
func (r *Run) Metrics() []string {
	names := make([]string, 0, len(r.Series))
	for k := range r.Series {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Final returns the metric's value at the last step.
func (r *Run) Final(metric string) (Point, bool) {
	s := r.Series[metric]
	if len(s) == 0 {
		return Point{}, false
	}
	return s[len(s)-1], true
}

// Best returns the metric's best value: the highest for accuracies,
// correlations and throughput, the lowest otherwise. It is false for the
// series that have no better (learning rate, time, gradient norm, epoch).
func (r *Run) Best(metric string) (Point, bool) {
	s := r.Series[metric]
	if len(s) == 0 || slices.Contains([]string{"lr", "elapsed_s", "grad_norm", "epoch", "skipped"}, metric) {
		return Point{}, false
	}
	best := s[0]
	for _, p := range s[1:] {
		if HigherIsBetter(metric) && p.Value > best.Value || !HigherIsBetter(metric) && p.Value < best.Value {
			best = p
		}
	}
	return best, true
}

// HigherIsBetter reports whether larger values of metric are better.
func HigherIsBetter(metric string) bool {
	m := strings.ToLower(metric)
	for _, s := range []string{"acc", "tokens_per_s", "throughput", "f1", "score", "mfu", "mcc", "pearson", "spearman"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// runLabels returns a legend label per run: its name, or its directory
// where two runs share a name.
func runLabels(runs []*Run) []string {
	count := map[string]int{}
	for _, r := range runs {
		count[r.Name]++
	}
	labels := make([]string, len(runs))
	for i, r := range runs {
		labels[i] = r.Name
		if count[r.Name] > 1 {
			labels[i] = filepath.ToSlash(filepath.Clean(r.Dir))
		}
	}
	return labels
}
