package train

// Batches of random windows from a token stream. The sampler's position is
// its RNG state, saved in checkpoints, so a resumed run draws the windows an
// uninterrupted run would have drawn.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"gptctl/data"
)

// TokenSource is a stream of token ids: a corpus in memory or token shards.
type TokenSource interface {
	Len() int
	// Window copies the ids at [start, start+len(dst)) into dst.
	Window(dst []int32, start int)
}

// Tokens is a TokenSource held in memory.
type Tokens []int32

func (t Tokens) Len() int                      { return len(t) }
func (t Tokens) Window(dst []int32, start int) { copy(dst, t[start:start+len(dst)]) }

// batchSource draws training or validation batches and can save, restore and
// restart its position.
type batchSource interface {
	Fill(inputs, targets []int32, b int) error
	Reset()
	State() ([]byte, error)
	Restore([]byte) error
	// contentSum is the data drawn from, as its state fingerprints it; in
	// the format of as, a sum recorded before, where that differs.
	contentSum(as string) dataSum
}

// Sampler draws batches of windows (inputs, and targets shifted by one).
type Sampler struct {
	src  TokenSource
	t    int
	pcg  *rand.PCG
	rng  *rand.Rand
	win  []int32
	seed uint64
	sum  string // fingerprint of src, once computed
}

// NewSampler returns a sampler of windows of t tokens from src.
func NewSampler(src TokenSource, t int, seed uint64) (*Sampler, error) {
	if src.Len() < t+1 {
		return nil, fmt.Errorf("%d tokens are too few for windows of sequence length %d plus one target (need at least %d): use a shorter seq_len, or more text", src.Len(), t, t+1)
	}
	s := &Sampler{src: src, t: t, win: make([]int32, t+1), seed: seed}
	s.Reset()
	return s, nil
}

// Reset restarts the sampler at its seed.
func (s *Sampler) Reset() {
	s.pcg = rand.NewPCG(s.seed, 0x5eed)
	s.rng = rand.New(s.pcg)
}

// Fill writes b windows into inputs and targets, both (b, t) row-major.
func (s *Sampler) Fill(inputs, targets []int32, b int) error {
	for i := 0; i < b; i++ {
		start := s.rng.IntN(s.src.Len() - s.t) // every window of t+1 tokens, the last included
		s.src.Window(s.win, start)
		copy(inputs[i*s.t:(i+1)*s.t], s.win[:s.t])
		copy(targets[i*s.t:(i+1)*s.t], s.win[1:])
	}
	return nil
}

// samplerState is a Sampler's saved position: its generator, and the token
// count and window it draws from, so that a resume over changed data is
// caught, as the shard sampler's is.
type samplerState struct {
	PCG    []byte `json:"pcg"`
	Tokens int64  `json:"tokens"`
	SeqLen int    `json:"seq_len"`
	Sum    string `json:"sum,omitempty"` // SHA-256 of the ids, to catch data edited to the same length
}

// State is the sampler position.
func (s *Sampler) State() ([]byte, error) {
	pcg, err := s.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(samplerState{PCG: pcg, Tokens: int64(s.src.Len()), SeqLen: s.t, Sum: s.fingerprint()})
}

// fingerprint returns the SHA-256 of the source's ids (as little-endian
// uint32, so the width they are held in does not count), computed once.
func (s *Sampler) fingerprint() string {
	if s.sum == "" {
		h := sha256.New()
		ids := make([]int32, 1<<16)
		buf := make([]byte, 4*len(ids))
		for lo, n := 0, s.src.Len(); lo < n; lo += len(ids) {
			w := ids[:min(len(ids), n-lo)]
			s.src.Window(w, lo)
			for i, id := range w {
				binary.LittleEndian.PutUint32(buf[4*i:], uint32(id))
			}
			h.Write(buf[:4*len(w)])
		}
		s.sum = hex.EncodeToString(h.Sum(nil)[:16])
	}
	return s.sum
}

func (s *Sampler) contentSum(string) dataSum { return dataSum{int64(s.src.Len()), s.fingerprint()} }

// Restore sets a position saved by State; it refuses one saved over
// another number of tokens, other ids or another window. A checkpoint
// written before the state had them holds the generator alone (or no sum).
func (s *Sampler) Restore(b []byte) error {
	var st samplerState
	if json.Unmarshal(b, &st) != nil {
		return s.pcg.UnmarshalBinary(b)
	}
	if st.Tokens != int64(s.src.Len()) || st.SeqLen != s.t {
		return fmt.Errorf("sampler: saved state is for sequence length %d over %d tokens, this sampler has %d over %d (the data or config changed)",
			st.SeqLen, st.Tokens, s.t, s.src.Len())
	}
	if st.Sum != "" && st.Sum != s.fingerprint() {
		return fmt.Errorf("sampler: the %d tokens differ from those the run was trained on (the data was edited)", st.Tokens)
	}
	return s.pcg.UnmarshalBinary(st.PCG)
}

// shardSampler draws batches from token shards on disk (gptctl data prepare).
type shardSampler struct {
	s     *data.Sampler
	set   *data.ShardSet
	start data.SamplerState
	t     int
}

func newShardSampler(set *data.ShardSet, t int, seed uint64) (*shardSampler, error) {
	s, err := data.NewSampler(set, t, seed)
	if err != nil {
		return nil, err
	}
	return &shardSampler{s: s, set: set, start: s.State(), t: t}, nil
}

func (s *shardSampler) Fill(inputs, targets []int32, b int) error {
	return s.s.Next(inputs[:b*s.t], targets[:b*s.t])
}

func (s *shardSampler) Reset() { s.s.Restore(s.start) }

func (s *shardSampler) State() ([]byte, error) { return json.Marshal(s.s.State()) }

func (s *shardSampler) contentSum(as string) dataSum {
	return dataSum{s.set.Len(), s.set.FingerprintAs(as)}
}

func (s *shardSampler) Restore(b []byte) error {
	var st data.SamplerState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	return s.s.Restore(st)
}
