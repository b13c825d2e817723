package data

// The Sampler: windows of a ShardSet drawn at random positions, each
// depending only on the seed and its number, and the state a checkpoint
// keeps to resume a run on the same windows.

import (
	"fmt"
	"math/bits"
	"slices"
)

// Sampler draws windows of seqLen+1 consecutive tokens at random positions
// of a ShardSet (a window never spans two shards). Window k depends only on
// the seed and k, so State and Restore resume a run on the same windows.
type Sampler struct {
	set    *ShardSet
	seqLen int
	seed   uint64
	step   uint64
	cum    []int64 // cum[i]: window starts in shards before i+1
	buf    []int32
}

// SamplerState is the position of a Sampler, for checkpoints.
type SamplerState struct {
	Seed   uint64 `json:"seed"`
	Step   uint64 `json:"step"` // windows drawn so far
	SeqLen int    `json:"seq_len"`
	Tokens int64  `json:"tokens"`        // tokens in the shard set, to catch a changed dataset
	Sum    string `json:"sum,omitempty"` // the set's Fingerprint, to catch one prepared again (of sampled blocks, from a build before)
}

// NewSampler returns a sampler of windows of seqLen inputs and targets. It
// tells the kernel that the shards are read at random places, once the
// set's Fingerprint, which its State holds, has read them in order (where
// Check has not).
func NewSampler(set *ShardSet, seqLen int, seed uint64) (*Sampler, error) {
	if seqLen < 1 {
		return nil, fmt.Errorf("sampler: sequence length %d must be at least 1", seqLen)
	}
	set.Fingerprint()
	s := &Sampler{set: set, seqLen: seqLen, seed: seed, buf: make([]int32, seqLen+1)}
	var n int64
	longest := 0
	for _, sh := range set.shards {
		adviseRandom(sh.mapped)
		n += int64(max(sh.Len()-seqLen, 0))
		s.cum = append(s.cum, n)
		longest = max(longest, sh.Len())
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no shard holds %d tokens, the window of sequence length %d plus one target (the longest holds %d; windows do not span shards): use a seq_len below %d, or prepare more text",
			set.name, seqLen+1, seqLen, longest, max(longest, 1))
	}
	return s, nil
}

// Next fills inputs with len(inputs)/seqLen windows and targets with the
// same windows shifted by one token. Both must have the same length, a
// multiple of the sequence length.
func (s *Sampler) Next(inputs, targets []int32) error {
	if len(inputs) != len(targets) || len(inputs)%s.seqLen != 0 || len(inputs) == 0 {
		return fmt.Errorf("sampler: inputs (%d) and targets (%d) must have the same length, a multiple of the sequence length %d", len(inputs), len(targets), s.seqLen)
	}
	for off := 0; off < len(inputs); off += s.seqLen {
		shard, start := s.pick(s.step)
		if err := s.set.shards[shard].Window(s.buf, start); err != nil {
			return fmt.Errorf("sampler: %w", err)
		}
		copy(inputs[off:off+s.seqLen], s.buf[:s.seqLen])
		copy(targets[off:off+s.seqLen], s.buf[1:])
		s.step++
	}
	return nil
}

// pick returns the shard and start of window k.
func (s *Sampler) pick(k uint64) (shard, start int) {
	total := uint64(s.cum[len(s.cum)-1])
	r, _ := bits.Mul64(mix64(s.seed^mix64(k+0x9E3779B97F4A7C15)), total) // uniform in [0, total)
	shard, _ = slices.BinarySearch(s.cum, int64(r)+1)
	prev := int64(0)
	if shard > 0 {
		prev = s.cum[shard-1]
	}
	return shard, int(int64(r) - prev)
}

// mix64 is the SplitMix64 finaliser.
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// State returns the sampler's position.
func (s *Sampler) State() SamplerState {
	return SamplerState{Seed: s.seed, Step: s.step, SeqLen: s.seqLen, Tokens: s.set.Len(), Sum: s.set.Fingerprint()}
}

// Restore moves the sampler to a saved position. The state must come from
// a sampler of the same sequence length over the same shards (a state
// without a fingerprint, from an older gptctl, is not checked for one; one
// of sampled blocks is checked against those blocks).
func (s *Sampler) Restore(st SamplerState) error {
	if st.SeqLen != s.seqLen || st.Tokens != s.set.Len() {
		return fmt.Errorf("sampler: saved state is for sequence length %d over %d tokens, this sampler has %d over %d (the dataset or config changed)", st.SeqLen, st.Tokens, s.seqLen, s.set.Len())
	}
	if st.Sum != "" && st.Sum != s.set.FingerprintAs(st.Sum) {
		return fmt.Errorf("sampler: the %d tokens of %s differ from those the run was trained on (the shards were prepared again)", st.Tokens, s.set.name)
	}
	s.seed, s.step = st.Seed, st.Step
	return nil
}
