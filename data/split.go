package data

import "math"

// SplitExamples splits ex into a training and a validation part: a
// deterministic shuffle by seed picks round(valFraction*len(ex)) examples
// for val, and both parts keep their order in ex. valFraction is clamped to
// [0, 1] (NaN counts as 0); when it is positive and ex has at least two
// examples, each part gets at least one. The same input and seed give the
// same split on every platform and Go version. ex is not modified.
func SplitExamples(ex []Example, valFraction float64, seed uint64) (train, val []Example) {
	n := len(ex)
	if !(valFraction > 0) || n == 0 { // also catches NaN
		return append([]Example(nil), ex...), nil
	}
	nVal := int(math.Round(math.Min(valFraction, 1) * float64(n)))
	if n >= 2 {
		nVal = max(1, min(nVal, n-1))
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := splitMix64{state: seed}
	for i := n - 1; i > 0; i-- { // Fisher-Yates
		j := int(rng.next() % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	inVal := make([]bool, n)
	for _, i := range perm[:nVal] {
		inVal[i] = true
	}
	for i, e := range ex {
		if inVal[i] {
			val = append(val, e)
		} else {
			train = append(train, e)
		}
	}
	return train, val
}

// splitMix64 is Steele, Lea and Flood's SplitMix64: tiny, fixed forever,
// good enough to shuffle a dataset (modulo bias is below 2^-40 here).
type splitMix64 struct{ state uint64 }

func (r *splitMix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
