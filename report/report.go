package report

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Run is the metrics of one training run.
type Run struct {
	Name      string             // the run directory's base name
	Dir       string             // the directory given to LoadRun
	Series    map[string][]Point // every numeric key but "step", sorted by step, one point a step
	Records   int                // lines read
	Truncated bool               // a partial last line (a killed run) was ignored
	Status    string             // how the run ended, from its summary.json (see runStatus)
	Skipped   int                // steps the run skipped for non-finite values ("skipped": true)
	Notes     []string           // what LoadRun dropped or reordered, a line each
}

// Point is one value of a metric.
type Point struct {
	Step  int64
	Value float64
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
// where two runs share a name (as xmlText writes them).
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
		labels[i] = xmlText(labels[i])
	}
	return labels
}
