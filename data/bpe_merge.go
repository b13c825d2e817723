package data

import "math"

// mergeRule is what a pair of adjacent symbols becomes: the merged token and
// the rank of the merge (its line in vocab.bpe; lower merges first).
type mergeRule struct {
	rank int32
	id   int32
}

// mergeTable applies BPE merges to a sequence of symbol ids.
type mergeTable map[uint64]mergeRule

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

const noRank = math.MaxInt32

func (m mergeTable) rank(a, b int32) int32 {
	if r, ok := m[pairKey(a, b)]; ok {
		return r.rank
	}
	return noRank
}

// apply merges sym in place and returns the merged prefix. At each step it
// merges the adjacent pair of lowest rank, the leftmost one on a tie, as
// tiktoken does; for vocabularies learnt by BPE this equals GPT-2's "merge
// every occurrence of the best pair" loop.
func (m mergeTable) apply(sym []int32) []int32 {
	switch {
	case len(sym) < 2:
		return sym
	case len(sym) > 64:
		return m.applyHeap(sym)
	}
	var buf [64]int32
	ranks := buf[:len(sym)-1] // ranks[i]: rank of (sym[i], sym[i+1])
	for i := range ranks {
		ranks[i] = m.rank(sym[i], sym[i+1])
	}
	for {
		best, bestRank := -1, int32(noRank)
		for i, r := range ranks {
			if r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			return sym
		}
		sym[best] = m[pairKey(sym[best], sym[best+1])].id
		sym = append(sym[:best+1], sym[best+2:]...)
		ranks = append(ranks[:best], ranks[best+1:]...)
		if best > 0 {
			ranks[best-1] = m.rank(sym[best-1], sym[best])
		}
		if best < len(ranks) {
			ranks[best] = m.rank(sym[best], sym[best+1])
		}
	}
}

// applyHeap is apply for long pieces: a linked list of symbols and a heap of
// candidate pairs keyed by (rank, position), so a piece of n bytes costs
// O(n log n) instead of O(n²).
func (m mergeTable) applyHeap(sym []int32) []int32 {
	n := len(sym)
	next := make([]int32, n) // next live symbol, n at the end
	prev := make([]int32, n) // previous live symbol, -1 at the start
	for i := range sym {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	var h pairHeap
	for i := 0; i+1 < n; i++ {
		if r := m.rank(sym[i], sym[i+1]); r != noRank {
			h.push(r, int32(i))
		}
	}
	for len(h) > 0 {
		r, i := h.pop()
		j := next[i]
		if prev[i] == -2 || int(j) >= n || m.rank(sym[i], sym[j]) != r {
			continue // stale: i was merged away or its pair changed
		}
		sym[i] = m[pairKey(sym[i], sym[j])].id
		next[i] = next[j]
		if int(next[j]) < n {
			prev[next[j]] = i
		}
		prev[j] = -2 // dead
		if p := prev[i]; p >= 0 {
			if r := m.rank(sym[p], sym[i]); r != noRank {
				h.push(r, p)
			}
		}
		if k := next[i]; int(k) < n {
			if r := m.rank(sym[i], sym[k]); r != noRank {
				h.push(r, i)
			}
		}
	}
	out := sym[:0]
	for i := int32(0); int(i) < n; i = next[i] {
		out = append(out, sym[i])
	}
	return out
}

// pairHeap is a binary min-heap of rank<<32 | position.
type pairHeap []uint64

func (h *pairHeap) push(rank, pos int32) {
	*h = append(*h, uint64(rank)<<32|uint64(uint32(pos)))
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *pairHeap) pop() (rank, pos int32) {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, s := 2*i+1, i
		if l < len(a) && a[l] < a[s] {
			s = l
		}
		if l+1 < len(a) && a[l+1] < a[s] {
			s = l + 1
		}
		if s == i {
			break
		}
		a[i], a[s] = a[s], a[i]
		i = s
	}
	*h = a
	return int32(top >> 32), int32(uint32(top))
}
