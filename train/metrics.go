package train

import (
	"math"
	"sort"
)

// Finetuning metrics, as reported for GLUE and Story Cloze: accuracy, F1,
// Matthews correlation (CoLA), Pearson and Spearman correlation (STS-B).
// They agree with scikit-learn and SciPy on ordinary input. Degenerate input
// gives 0, never NaN or a panic: empty or different-length slices, a
// correlation with a constant side (where SciPy gives NaN), F1 with no
// positive in pred or gold (scikit-learn's zero_division=0), and any NaN
// among the values of Pearson or Spearman.

// Accuracy is the fraction of positions where pred equals gold.
func Accuracy(pred, gold []int) float64 {
	if len(pred) == 0 || len(pred) != len(gold) {
		return 0
	}
	right := 0
	for i := range pred {
		if pred[i] == gold[i] {
			right++
		}
	}
	return float64(right) / float64(len(pred))
}

// F1 is the binary F1 score of class positive: 2tp / (2tp + fp + fn).
func F1(pred, gold []int, positive int) float64 {
	if len(pred) != len(gold) {
		return 0
	}
	return f1Of(pred, gold, positive)
}

func f1Of(pred, gold []int, c int) float64 {
	var tp, fp, fn int
	for i := range pred {
		switch {
		case pred[i] == c && gold[i] == c:
			tp++
		case pred[i] == c:
			fp++
		case gold[i] == c:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn)
}

// MacroF1 is the unweighted mean of the per-class F1 over the classes in
// [0, k) that occur in pred or gold (scikit-learn's average="macro" when all
// labels lie in [0, k)).
func MacroF1(pred, gold []int, k int) float64 {
	if len(pred) == 0 || len(pred) != len(gold) {
		return 0
	}
	seen := map[int]bool{}
	for i := range pred {
		seen[pred[i]], seen[gold[i]] = true, true
	}
	var sum float64
	n := 0
	for c := 0; c < k; c++ {
		if seen[c] {
			sum += f1Of(pred, gold, c)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Matthews is the Matthews correlation coefficient, for any number of
// classes in Gorodkin's R_K form (as scikit-learn's matthews_corrcoef):
//
//	(c*s - sum_k p_k*t_k) / sqrt((s^2 - sum_k p_k^2) * (s^2 - sum_k t_k^2))
//
// with s samples, c correct, p_k predicted and t_k true counts of class k.
// For two classes it is the usual (tp*tn - fp*fn) / sqrt(...). Labels can
// be any ints.
func Matthews(pred, gold []int) float64 {
	if len(pred) == 0 || len(pred) != len(gold) {
		return 0
	}
	p, t := map[int]float64{}, map[int]float64{}
	var c float64
	for i := range pred {
		p[pred[i]]++
		t[gold[i]]++
		if pred[i] == gold[i] {
			c++
		}
	}
	s := float64(len(pred))
	var pt, pp, tt float64
	for k, n := range p {
		pt += n * t[k]
		pp += n * n
	}
	for _, n := range t {
		tt += n * n
	}
	return finiteOr0((c*s - pt) / math.Sqrt((s*s-pp)*(s*s-tt)))
}

// Pearson is the Pearson correlation coefficient of x and y.
func Pearson(x, y []float64) float64 {
	if len(x) < 2 || len(x) != len(y) || constant(x) || constant(y) {
		return 0
	}
	// Scale both sides to at most 1 so that squares cannot overflow.
	sx, sy := maxAbs(x), maxAbs(y)
	var mx, my float64
	for i := range x {
		mx += x[i] / sx
		my += y[i] / sy
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]/sx-mx, y[i]/sy-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	r := finiteOr0(sxy / (math.Sqrt(sxx) * math.Sqrt(syy)))
	return math.Max(-1, math.Min(1, r)) // rounding can step just past ±1
}

// Spearman is Spearman's rank correlation: Pearson on the ranks, ties
// sharing the mean of their ranks (as scipy.stats.spearmanr).
func Spearman(x, y []float64) float64 {
	if len(x) < 2 || len(x) != len(y) {
		return 0
	}
	rx, okx := ranks(x)
	ry, oky := ranks(y)
	if !okx || !oky {
		return 0
	}
	return Pearson(rx, ry)
}

// ranks gives 1-based ranks, ties averaged; ok is false if v holds a NaN.
func ranks(v []float64) (r []float64, ok bool) {
	idx := make([]int, len(v))
	for i := range idx {
		if math.IsNaN(v[i]) {
			return nil, false
		}
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r = make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		mean := float64(i+j+1) / 2 // ranks i+1..j
		for _, k := range idx[i:j] {
			r[k] = mean
		}
		i = j
	}
	return r, true
}

// constant reports whether all of v are equal (the mean of a constant
// need not equal it in floating point, so test it directly).
func constant(v []float64) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func finiteOr0(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
