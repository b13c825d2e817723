package train

// Drawing a token from logits: temperature, top-k and top-p (nucleus).

import (
	"math"
	"math/rand/v2"
	"slices"
)

// sample draws an id from logits under temperature, top-k and top-p, in
// that order, as Hugging Face's generate applies them: top-k keeps the k
// most probable ids and any tied with the k-th; top-p keeps the fewest most
// probable of those whose share of their mass reaches it. The candidates
// are all ids in order when neither limits them; otherwise the most
// probable ones, most probable first, found by a heap (a full sort of
// GPT-2's 50,257 ids took 20 ms a token).
func sample(logits []float32, probs []float64, o GenerateOptions, rng *rand.Rand) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if o.Temperature == 0 {
		return best
	}
	mx := float64(logits[best])
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp((float64(v) - mx) / o.Temperature)
		sum += probs[i]
	}
	V := len(logits)
	if (o.TopK <= 0 || o.TopK >= V) && o.TopP >= 1 {
		u := rng.Float64() * sum // may be 0: an id of probability 0 is never drawn
		for id, p := range probs {
			if u -= p; u <= 0 && p > 0 {
				return id
			}
		}
		return best
	}
	var cand []int
	switch {
	case o.TopK > 0 && o.TopK < V: // the k most probable, then the nucleus of those, renormalised
		cand = topKIDs(probs, V, o.TopK, o.TopP)
	case o.TopP < 1: // the nucleus: the fewest top ids whose mass reaches top_p
		cand = nucleusIDs(probs, sum, o.TopP)
	}
	return drawCandidate(cand, probs, rng, best)
}

// topKIDs is the candidates of top-k among the V ids: the k most probable
// and those tied with the k-th, then the nucleus of them that reaches topP
// of their mass, most probable first.
func topKIDs(probs []float64, V, k int, topP float64) []int {
	cand := topIDs(probs, k)
	// Ids tied with the k-th stay, as Hugging Face's top-k keeps every
	// id at least as probable as the k-th: those of them left out come
	// after the last one in (the lower id first among equals).
	last := cand[len(cand)-1]
	for id := last + 1; id < V; id++ {
		if probs[id] == probs[last] {
			cand = append(cand, id)
		}
	}
	var mass float64
	for _, id := range cand {
		mass += probs[id]
	}
	return cand[:nucleus(cand, probs, mass, topP)]
}

// drawCandidate draws one of the candidates in proportion to its
// probability, or returns best when they have none to go by.
func drawCandidate(cand []int, probs []float64, rng *rand.Rand, best int) int {
	var total float64
	for _, id := range cand {
		total += probs[id]
	}
	if len(cand) == 0 { // no probability to go by: logits that are not finite (a diverged model)
		return best
	}
	u := rng.Float64() * total
	for _, id := range cand {
		if u -= probs[id]; u <= 0 && probs[id] > 0 {
			return id
		}
	}
	return cand[len(cand)-1]
}

// nucleus returns how many of cand (ids, most probable first) it takes for
// their share of mass to reach topP: all of them when topP >= 1 or their
// whole share falls short.
func nucleus(cand []int, probs []float64, mass, topP float64) int {
	if topP >= 1 {
		return len(cand)
	}
	var c float64
	for keep, id := range cand {
		if c += probs[id] / mass; c >= topP {
			return keep + 1
		}
	}
	return len(cand)
}

// nucleusIDs returns, in id order, the nucleus of probs (whose total is
// sum): the fewest most probable ids whose mass reaches topP of sum, the
// lower id first among equal probabilities; every id of positive
// probability if rounding leaves the mass short. It selects the threshold
// probability by partitioning, in expected linear time, rather than
// sorting: a flat distribution's nucleus is most of the vocabulary.
func nucleusIDs(probs []float64, sum, topP float64) []int {
	thr, ties := nucleusThreshold(slices.Clone(probs), topP*sum)
	var cand []int
	for id, p := range probs {
		switch {
		case p > thr:
			cand = append(cand, id)
		case p == thr && p > 0 && ties > 0:
			cand = append(cand, id)
			ties--
		}
	}
	return cand
}

// nucleusThreshold selects, in vals (a copy of the probabilities, which it
// reorders), the probability thr of the last id the nucleus takes to
// reach the mass target, and how many of the ids equal to it it takes
// (ties); thr is 0, ties len(vals), where the mass falls short.
func nucleusThreshold(vals []float64, target float64) (thr float64, ties int) {
	all := len(vals)
	above := 0.0 // the mass of the ids above every value in vals
	for len(vals) > 0 {
		pivot := vals[len(vals)/2]
		lt, gt := partition3(vals, pivot)
		var hi float64
		for _, v := range vals[:lt] {
			hi += v
		}
		switch eq := pivot * float64(gt-lt); {
		case above+hi >= target:
			vals = vals[:lt]
		case above+hi+eq >= target && pivot > 0:
			return pivot, min(gt-lt, max(1, int(math.Ceil((target-above-hi)/pivot))))
		default:
			above += hi + eq
			vals = vals[gt:]
		}
	}
	return 0, all
}

// partition3 reorders vals around pivot, one of them, so that vals[:lt] >
// pivot, vals[lt:gt] == pivot and vals[gt:] < pivot.
func partition3(vals []float64, pivot float64) (lt, gt int) {
	lt, i, gt := 0, 0, len(vals)
	for i < gt {
		switch v := vals[i]; {
		case v > pivot:
			vals[lt], vals[i] = v, vals[lt]
			lt, i = lt+1, i+1
		case v < pivot:
			gt--
			vals[gt], vals[i] = v, vals[gt]
		default:
			i++
		}
	}
	return lt, gt
}

// topIDs returns the ids of the k largest probs, the largest first (equal
// probabilities: the lower id first), through a min-heap of k ids.
func topIDs(probs []float64, k int) []int {
	below := func(a, b int) bool { // a ranks below b
		if probs[a] != probs[b] {
			return probs[a] < probs[b]
		}
		return a > b
	}
	h := make([]int, 0, k)
	down := func(i int) {
		for {
			m, l, r := i, 2*i+1, 2*i+2
			if l < len(h) && below(h[l], h[m]) {
				m = l
			}
			if r < len(h) && below(h[r], h[m]) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for id := range probs {
		switch {
		case len(h) < k:
			h = append(h, id)
			for i := len(h) - 1; i > 0 && below(h[i], h[(i-1)/2]); i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case below(h[0], id):
			h[0] = id
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if below(b, a) {
			return -1
		}
		return 1
	})
	return h
}
