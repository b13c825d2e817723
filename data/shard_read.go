package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
)

// Shard is an open token shard, memory-mapped where the system allows, so
// opening a shard of any size costs no reading and the pages are shared
// with other processes. A Shard is safe for concurrent reads.
type Shard struct {
	path   string
	mapped []byte // the whole file
	data   []byte // the tokens, after the header
	dtype  int
	n      int
	vocab  int
	set    [16]byte // the id of the prepare that wrote it; zero: none
	unmap  func() error
	closed bool
}

// OpenShard opens and validates the shard at path.
func OpenShard(path string) (*Shard, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open shard: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open shard: %w", err)
	}
	size := fi.Size()
	if size < ShardHeaderSize {
		return nil, fmt.Errorf("shard %s: truncated: %d bytes, shorter than the %d-byte header%s", path, size, ShardHeaderSize, shardRedo)
	}
	if uint64(size) > math.MaxInt { // a 32-bit build maps at most 2 GiB
		return nil, fmt.Errorf("shard %s: %d bytes is more than this %d-bit build can map: use a 64-bit build, or prepare with a smaller --shard-tokens", path, size, strconv.IntSize)
	}
	h := make([]byte, ShardHeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, fmt.Errorf("shard %s: read header: %w", path, err)
	}
	s, err := parseShardHeader(path, h, size)
	if err != nil {
		return nil, err
	}
	all, unmap, err := mapShard(f, size)
	if err != nil {
		return nil, fmt.Errorf("shard %s: map: %w", path, err)
	}
	s.mapped, s.data, s.unmap = all, all[ShardHeaderSize:], unmap
	return s, nil
}

// shardRedo ends the error of a shard cut short or grown: the fix.
const shardRedo = ": copy the whole set again, or run gptctl data prepare again"

func parseShardHeader(path string, h []byte, size int64) (*Shard, error) {
	if string(h[:8]) != ShardMagic {
		return nil, fmt.Errorf("shard %s: not a gptctl token shard (magic %q, want %q)", path, h[:8], ShardMagic)
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != ShardVersion {
		return nil, fmt.Errorf("shard %s: version %d, but this gptctl reads version %d", path, v, ShardVersion)
	}
	dtype := int(binary.LittleEndian.Uint32(h[12:]))
	n := binary.LittleEndian.Uint64(h[16:])
	vocab := int(binary.LittleEndian.Uint32(h[24:]))
	if err := checkDType(dtype, vocab); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	body := uint64(size - ShardHeaderSize)
	switch {
	case n > body/uint64(dtype):
		return nil, fmt.Errorf("shard %s: truncated: header says %d tokens, file holds %d%s", path, n, body/uint64(dtype), shardRedo)
	case n*uint64(dtype) < body:
		return nil, fmt.Errorf("shard %s: header says %d tokens, but %d bytes follow them (a file cut short while writing, or not a shard)%s", path, n, body-n*uint64(dtype), shardRedo)
	}
	s := &Shard{path: path, dtype: dtype, n: int(n), vocab: vocab}
	copy(s.set[:], h[32:48])
	return s, nil
}

// Path returns the file the shard was opened from.
func (s *Shard) Path() string { return s.path }

// Len returns the number of tokens.
func (s *Shard) Len() int { return s.n }

// VocabSize returns the vocabulary size recorded in the header.
func (s *Shard) VocabSize() int { return s.vocab }

// DType returns the bytes per token, 2 or 4.
func (s *Shard) DType() int { return s.dtype }

// Get returns token i, which must be in [0, Len()).
func (s *Shard) Get(i int) int {
	if s.dtype == 2 {
		return int(binary.LittleEndian.Uint16(s.data[2*i:]))
	}
	return int(binary.LittleEndian.Uint32(s.data[4*i:]))
}

// Window copies the len(dst) tokens that start at start into dst. A token
// not below the vocabulary size (a damaged shard) is an *InputError naming
// it.
func (s *Shard) Window(dst []int32, start int) error {
	if start < 0 || start > s.n-len(dst) {
		return fmt.Errorf("shard %s: window [%d, %d) is outside its %d tokens", s.path, start, start+len(dst), s.n)
	}
	vocab := uint32(s.vocab)
	if s.dtype == 2 {
		src := s.data[2*start : 2*(start+len(dst))]
		for i := range dst {
			id := uint32(binary.LittleEndian.Uint16(src[2*i:]))
			if id >= vocab {
				return s.badToken(int(id), start+i)
			}
			dst[i] = int32(id)
		}
		return nil
	}
	src := s.data[4*start : 4*(start+len(dst))]
	for i := range dst {
		id := binary.LittleEndian.Uint32(src[4*i:])
		if id >= vocab {
			return s.badToken(int(id), start+i)
		}
		dst[i] = int32(id)
	}
	return nil
}

func (s *Shard) badToken(id, pos int) error {
	return &InputError{fmt.Errorf("shard %s: token %d at position %d is outside the vocabulary of %d: the shard is damaged (run gptctl data prepare again)", s.path, id, pos, s.vocab)}
}

// Check reads every token and returns an error naming the first one that is
// not below the vocabulary size.
func (s *Shard) Check() error { return s.check(0, s.n) }

// checkBlock is how many tokens check takes at a time: their largest id
// first, a branch-free pass, then, only where it is not below the
// vocabulary, the first such token.
const checkBlock = 1 << 16

// check returns an error naming the first token of [lo, hi) that is not
// below the vocabulary size.
func (s *Shard) check(lo, hi int) error {
	if s.dtype == 2 && s.vocab >= 1<<16 {
		return nil // every uint16 is an id
	}
	vocab := uint32(s.vocab)
	for at := lo; at < hi; at += checkBlock {
		end := min(at+checkBlock, hi)
		if s.maxID(at, end) < vocab {
			continue
		}
		for i := at; i < end; i++ {
			if id := s.maxID(i, i+1); id >= vocab { // in uint32: Get's int is negative past 2^31 on a 32-bit build
				return s.badToken(int(id), i)
			}
		}
	}
	return nil
}

// maxID returns the largest id of the tokens [lo, hi).
func (s *Shard) maxID(lo, hi int) uint32 {
	if s.dtype == 2 {
		b := s.data[2*lo : 2*hi]
		var m0, m1, m2, m3 uint64
		for ; len(b) >= 8; b = b[8:] { // four ids a load
			v := binary.LittleEndian.Uint64(b)
			m0, m1, m2, m3 = max(m0, v&0xFFFF), max(m1, v>>16&0xFFFF), max(m2, v>>32&0xFFFF), max(m3, v>>48)
		}
		for ; len(b) >= 2; b = b[2:] {
			m0 = max(m0, uint64(binary.LittleEndian.Uint16(b)))
		}
		return uint32(max(m0, m1, m2, m3))
	}
	var m uint32
	for b := s.data[4*lo : 4*hi]; len(b) >= 4; b = b[4:] {
		m = max(m, binary.LittleEndian.Uint32(b))
	}
	return m
}

// Close unmaps the shard. Using it afterwards is an error.
func (s *Shard) Close() error {
	if s.closed {
		return nil
	}
	s.closed, s.data = true, nil
	if err := s.unmap(); err != nil {
		return fmt.Errorf("shard %s: unmap: %w", s.path, err)
	}
	return nil
}

// mapShard is mapFile; tests stand in for the kernel's limit on maps.
var mapShard = mapFile
