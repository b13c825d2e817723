package data

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ShardSet is the shards DIR/PREFIX_000.bin, DIR/PREFIX_001.bin, ... of one
// split, in order, read as one sequence of tokens.
type ShardSet struct {
	shards []*Shard
	total  int64
	vocab  int
	name   string // DIR/PREFIX_*.bin, for messages
	sum    string // Fingerprint, once computed
}

// FilesIn lists the entries of dir whose names match, dir/NAME in name
// order; none when dir does not exist. dir is a name, never a pattern: in
// filepath.Glob a directory named sh[1] would be the pattern matching sh1.
func FilesIn(dir string, match func(name string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var files []string
	for _, e := range entries {
		if match(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files, err
}

// ShardPath returns DIR/PREFIX_NNN.bin, the name Prepare gives shard i.
func ShardPath(dir, prefix string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("%s_%03d.bin", prefix, i))
}

// ShardFiles lists DIR/PREFIX_<digits>.bin in numeric order.
func ShardFiles(dir, prefix string) ([]string, error) {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `_([0-9]+)\.bin$`)
	files, err := FilesIn(dir, re.MatchString)
	if err != nil {
		return nil, fmt.Errorf("list shards in %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool {
		a, b := filepath.Base(files[i]), filepath.Base(files[j])
		return len(a) < len(b) || len(a) == len(b) && a < b
	})
	return files, nil
}

// OpenShardSet opens every shard DIR/PREFIX_NNN.bin (prefix "train" or
// "val" for the output of Prepare), of each prefix in turn as one set (a
// prefix of several without shards adds none). The shards must share a
// vocabulary size.
func OpenShardSet(dir string, prefixes ...string) (*ShardSet, error) {
	if err := CheckPrepared(dir); err != nil {
		return nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	counts := make([]int, len(prefixes))
	for k, prefix := range prefixes {
		f, err := ShardFiles(dir, prefix)
		if err != nil {
			return nil, err
		}
		for i, f := range f { // numbered from 0 without a gap: a set copied in part trains on part
			if n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix+"_"), ".bin")); n != i {
				return nil, &InputError{fmt.Errorf("shard set %s: %s is missing (the set goes on with %s): copy the whole set, or run gptctl data prepare again", dir, filepath.Base(ShardPath(dir, prefix, i)), filepath.Base(f))}
			}
		}
		counts[k] = len(f)
		files = append(files, f...)
	}
	pattern := "{" + strings.Join(prefixes, ",") + "}_*.bin"
	if len(prefixes) == 1 {
		pattern = prefixes[0] + "_*.bin"
	}
	if len(files) == 0 {
		for _, prefix := range prefixes { // all gone: the manifest says what was there
			if err := m.checkCount(dir, prefix, 0); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("no shards %s in %s (run gptctl data prepare --out %s)", pattern, dir, dir)
	}
	set := &ShardSet{name: filepath.Join(dir, pattern)}
	for _, f := range files {
		s, err := OpenShard(f)
		if err != nil {
			set.Close()
			if errors.Is(err, syscall.ENOMEM) { // most often out of maps, not of memory
				return nil, &InputError{fmt.Errorf("%w: each shard is mapped into memory, and a process may hold a limited number of maps%s, its own and those of the train and val sets (this one has %d shards): prepare the corpus again with a larger --shard-tokens (fewer, larger shards; the default is %d tokens), or raise the limit (sysctl vm.max_map_count); or memory itself ran out (ulimit -v)",
					err, mapLimitText(), len(files), DefaultShardTokens)}
			}
			return nil, err
		}
		if set.vocab != 0 && s.VocabSize() != set.vocab {
			set.Close()
			s.Close()
			return nil, fmt.Errorf("shard %s: vocab size %d, but %s has %d (shards from different tokenizers)", f, s.VocabSize(), files[0], set.vocab)
		}
		set.vocab = s.VocabSize()
		set.shards = append(set.shards, s)
		set.total += int64(s.Len())
	}
	if err := m.check(dir, prefixes, counts, set); err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}

// check refuses the set of dir's prefixes (counts shards each) where the
// manifest m (nil: none) lists other shards or other tokens, or where some
// of its shards are of the prepare m names and some not. Where none is,
// m is another prepare's (an earlier build's, which wrote no manifest,
// prepared the directory again) and is not the set's to check.
func (m *manifest) check(dir string, prefixes []string, counts []int, set *ShardSet) error {
	if m == nil || m.SetID == "" {
		return nil
	}
	ours := 0
	var other *Shard
	for _, s := range set.shards {
		if hex.EncodeToString(s.set[:]) == m.SetID {
			ours++
		} else if other == nil {
			other = s
		}
	}
	switch {
	case ours == 0:
		return nil
	case other != nil:
		return &InputError{fmt.Errorf("shard set %s: %s is not of the data prepare %s lists (shards of another prepare are mixed in): run gptctl data prepare again into an empty directory",
			dir, filepath.Base(other.path), ManifestFile)}
	}
	for k, prefix := range prefixes { // the last ones missing, or more
		if err := m.checkCount(dir, prefix, counts[k]); err != nil {
			return err
		}
	}
	return m.checkTokens(dir, prefixes, set)
}

// checkCount refuses n shards of prefix in dir where the manifest m (nil:
// none) lists another number.
func (m *manifest) checkCount(dir, prefix string, n int) error {
	want, ok := m.split(prefix)
	switch {
	case !ok || n == want.Shards:
		return nil
	case n < want.Shards:
		return &InputError{fmt.Errorf("shard set %s: %s is missing (%s lists %d %s shards, %d are here): copy the whole set, or run gptctl data prepare again",
			dir, filepath.Base(ShardPath(dir, prefix, n)), ManifestFile, want.Shards, prefix, n)}
	}
	return &InputError{fmt.Errorf("shard set %s: %d %s shards, but %s lists %d (shards of another prepare are mixed in): run gptctl data prepare again into an empty directory",
		dir, n, prefix, ManifestFile, want.Shards)}
}

// checkTokens refuses a set whose shards of each prefix hold another
// number of tokens than the manifest m lists.
func (m *manifest) checkTokens(dir string, prefixes []string, set *ShardSet) error {
	i := 0
	for _, prefix := range prefixes {
		want, ok := m.split(prefix)
		if !ok {
			return nil
		}
		var n int64
		for range want.Shards {
			n += int64(set.shards[i].Len())
			i++
		}
		if n != want.Tokens {
			return &InputError{fmt.Errorf("shard set %s: the %s shards hold %d tokens, %s lists %d (a shard was cut short or replaced): copy the whole set, or run gptctl data prepare again",
				dir, prefix, n, ManifestFile, want.Tokens)}
		}
	}
	return nil
}

// mapLimitText is the limit on a process's memory maps for a message, ""
// where unknown.
func mapLimitText() string {
	if n := MapLimit(); n > 0 {
		return fmt.Sprintf(" (vm.max_map_count, %d)", n)
	}
	return ""
}

// checkStride is how many tokens Check reads between looks at its context:
// 32 MiB of uint16 ids, some milliseconds from memory, a fraction of a
// second from a disk.
const checkStride = 1 << 24

// Check reads every token of the set and returns an error naming the first
// one that is not below the vocabulary size, an *InputError (the shard is
// damaged), or, once ctx is cancelled, its cause.
func (s *ShardSet) Check(ctx context.Context) error {
	for _, sh := range s.shards {
		if err := s.checkShard(ctx, sh); err != nil {
			return err
		}
	}
	return nil
}

// checkShard checks one shard for Check, read ahead as it goes, each
// stride out of the process's memory once read (the resident set stays
// some tens of MiB, whatever the size of the shards).
func (s *ShardSet) checkShard(ctx context.Context, sh *Shard) error {
	adviseSequential(sh.mapped)
	page := os.Getpagesize()
	for at := 0; at < sh.Len(); at += checkStride {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: check stopped: %w", s.name, context.Cause(ctx))
		}
		end := min(at+checkStride, sh.Len())
		if err := sh.check(at, end); err != nil {
			return err
		}
		from := (ShardHeaderSize + at*sh.dtype) / page * page // (madvise takes whole pages)
		adviseRead(sh.mapped[from : ShardHeaderSize+end*sh.dtype])
	}
	return nil
}

// Shards returns the open shards in order.
func (s *ShardSet) Shards() []*Shard { return s.shards }

// Len returns the number of tokens in all shards.
func (s *ShardSet) Len() int64 { return s.total }

// VocabSize returns the vocabulary size of the shards.
func (s *ShardSet) VocabSize() int { return s.vocab }

// Close closes every shard.
func (s *ShardSet) Close() error {
	var errs []error
	for _, sh := range s.shards {
		errs = append(errs, sh.Close())
	}
	return errors.Join(errs...)
}

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
	Sum    string `json:"sum,omitempty"` // the set's Fingerprint, to catch one prepared again
}

// NewSampler returns a sampler of windows of seqLen inputs and targets. It
// tells the kernel that the shards are read at random places.
func NewSampler(set *ShardSet, seqLen int, seed uint64) (*Sampler, error) {
	if seqLen < 1 {
		return nil, fmt.Errorf("sampler: sequence length %d must be at least 1", seqLen)
	}
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
// without a fingerprint, from an older gptctl, is not checked for one).
func (s *Sampler) Restore(st SamplerState) error {
	if st.SeqLen != s.seqLen || st.Tokens != s.set.Len() {
		return fmt.Errorf("sampler: saved state is for sequence length %d over %d tokens, this sampler has %d over %d (the dataset or config changed)", st.SeqLen, st.Tokens, s.seqLen, s.set.Len())
	}
	if st.Sum != "" && st.Sum != s.set.Fingerprint() {
		return fmt.Errorf("sampler: the %d tokens of %s differ from those the run was trained on (the shards were prepared again)", st.Tokens, s.set.name)
	}
	s.seed, s.step = st.Seed, st.Step
	return nil
}

// fingerprintBlocks is how many evenly spaced blocks of fingerprintBlock
// bytes of each shard the fingerprint reads: all of a shard up to 256 KiB,
// a sample of a larger one (a shard of a billion tokens costs no full
// read at every resume, and data prepared again differs in nearly every
// block).
const fingerprintBlocks, fingerprintBlock = 64, 4096

// Fingerprint returns a hash of the set: each shard's token count and
// vocabulary, and its tokens, whole or sampled in blocks. Computed once.
func (s *ShardSet) Fingerprint() string {
	if s.sum != "" {
		return s.sum
	}
	h := sha256.New()
	var n [16]byte
	for _, sh := range s.shards {
		binary.LittleEndian.PutUint64(n[:], uint64(sh.Len()))
		binary.LittleEndian.PutUint64(n[8:], uint64(sh.VocabSize()))
		h.Write(n[:])
		d := sh.data
		if len(d) <= fingerprintBlocks*fingerprintBlock {
			h.Write(d)
			continue
		}
		span := int64(len(d) - fingerprintBlock)
		for i := range int64(fingerprintBlocks) {
			at := int(span * i / (fingerprintBlocks - 1)) // in int64: span*i overflows a 32-bit int
			h.Write(d[at : at+fingerprintBlock])
		}
	}
	s.sum = hex.EncodeToString(h.Sum(nil)[:16])
	return s.sum
}
