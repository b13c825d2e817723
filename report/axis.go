package report

import (
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
)

// The y axis of a chart: its scale, range and ticks.

// logSpan is how many times the median of a chart's values its largest
// must be for its y axis to be logarithmic: three decades.
const logSpan = 1e3

// useLogScale reports whether a chart of the values ys gets a log y axis:
// when they are all positive and the largest is more than logSpan times
// their median, as when a run diverged. One such run (a loss of 5.9e12) on
// a linear axis flattens every other curve into its bottom pixel row; on
// a log axis each curve keeps its shape, at its own magnitude, and the
// divergence stays in sight. Clipping the axis to a robust range would
// instead hide the values that matter most (where and how far a run blew
// up) and make the reader trust a mark on the edge. Measured against the
// median, not the smallest value, a curve that falls towards zero (an lr
// decayed to 0) or grows for hours (elapsed_s) stays linear. A log axis
// cannot place zero or a negative value, so a chart with one stays linear.
func useLogScale(ys []float64) bool {
	if len(ys) == 0 || slices.Min(ys) <= 0 {
		return false
	}
	sorted := slices.Sorted(slices.Values(ys))
	return sorted[len(sorted)-1] > logSpan*sorted[len(sorted)/2]
}

// logTicks marks the powers of ten from min to max (min > 0), labelled
// 0.001 to 10000, else 1e-5, 1e12; with more than 12 decades, one in
// every few is labelled, from the lowest on the axis, and the 2x to 9x
// ticks go.
func logTicks(min, max float64) []plot.Tick {
	if !(min > 0 && min < max) || math.IsInf(max, 0) {
		return nil
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	every := (hi-lo)/12 + 1
	first := int(math.Ceil(math.Log10(min))) // labelled: the first decade on the axis, and every few after
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		v := math.Pow10(e)
		t := plot.Tick{Value: v}
		if (e-first)%every == 0 {
			t.Label = decade(e)
		}
		ticks = append(ticks, t)
		for k := 2; every == 1 && k < 10; k++ {
			ticks = append(ticks, plot.Tick{Value: float64(k) * v})
		}
	}
	// Only those on the axis: gonum sizes the labels' margin by them all.
	return slices.DeleteFunc(ticks, func(t plot.Tick) bool { return t.Value < min || t.Value > max })
}

// decade labels 10^e.
func decade(e int) string {
	if e >= -3 && e <= 4 {
		return strconv.FormatFloat(math.Pow10(e), 'f', -1, 64)
	}
	return "1e" + strconv.Itoa(e)
}

// valueRange returns the y axis for data in [min, max], with min < max and
// max-min finite, as DefaultTicks needs: it panics on an empty range and
// never returns on an infinite one. A constant series gets a margin of 5% of
// its magnitude, where gonum's +-1 is lost to rounding above 2^53; a span
// past MaxFloat64 (-1e308 to 1e308) is cut to the middle half of the floats.
// Without data (min > max), the axis is gonum's -1 to 1.
func valueRange(min, max float64) (float64, float64) {
	if !(min <= max) {
		return -1, 1
	}
	if min == max {
		pad := math.Abs(min) / 20
		if !(min-pad < max+pad) { // zero, or a subnormal too small for 5%
			pad = 1
		}
		min, max = math.Max(min-pad, -math.MaxFloat64), math.Min(max+pad, math.MaxFloat64)
	}
	if math.IsInf(max-min, 0) {
		min, max = math.Max(min, -math.MaxFloat64/2), math.Min(max, math.MaxFloat64/2)
	}
	return min, max
}

// stepTicks labels steps as integers: "2500", not "2500.00".
func stepTicks(min, max float64) []plot.Tick {
	ticks := defaultTicks(min, max)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
	}
	return ticks
}

// valueTicks relabels gonum's ticks with as many significant digits as it
// takes for each label to read its tick's value and to tell them apart:
// gonum prints 0.95e17, 1e17 and 1.05e17 as 1e+17, and labels the ticks at
// 1.075, 1.085 and 1.095 "1.07", "1.08" and "1.09".
func valueTicks(min, max float64) []plot.Tick {
	ticks := defaultTicks(min, max)
	tol := (max - min) * 1e-6
	for prec := 2; prec <= 17 && !(distinct(ticks) && exact(ticks, tol)); prec++ {
		for i, t := range ticks {
			if t.Label != "" {
				ticks[i].Label = strconv.FormatFloat(t.Value, 'g', prec, 64)
			}
		}
	}
	return ticks
}

// exact reports whether every label reads its tick's value, to within tol.
func exact(ticks []plot.Tick, tol float64) bool {
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		v, err := strconv.ParseFloat(t.Label, 64)
		if err != nil || math.Abs(v-t.Value) > tol {
			return false
		}
	}
	return true
}

// distinct reports whether no two labelled ticks read the same.
func distinct(ticks []plot.Tick) bool {
	seen := map[string]bool{}
	for _, t := range ticks {
		if t.Label != "" {
			if seen[t.Label] {
				return false
			}
			seen[t.Label] = true
		}
	}
	return true
}

// defaultTicks are gonum's default ticks, or none for a range they cannot
// mark (see valueRange): the last guard before DefaultTicks.
func defaultTicks(min, max float64) []plot.Tick {
	if !(min < max) || math.IsInf(max-min, 0) {
		return nil
	}
	return plot.DefaultTicks{}.Ticks(min, max)
}
