package data

// Reading a ShardSet through once: every id checked against the vocabulary
// and hashed into the set's fingerprint as it goes.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
)

// checkStride is how many tokens Check reads between looks at its context:
// 32 MiB of uint16 ids, some milliseconds from memory, a fraction of a
// second from a disk.
const checkStride = 1 << 24

// fingerprintPrefix begins a fingerprint of every token of a set; one
// without it, from a build before, hashed sampled blocks (sampledFingerprint).
const fingerprintPrefix = "crc32x2:"

// castagnoli is the CRC-32C table (MakeTable returns the one the
// processor's instructions compute with, where it has them).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// setHash is the fingerprint of a set as it is read: two CRC-32s of other
// polynomials (IEEE, Castagnoli), 64 bits together, each computed by the
// processor's own instructions where it has them (a few GB/s; SHA-256 is
// some times slower). It tells data prepared again from edited text, not a
// forgery.
type setHash struct{ ieee, c uint32 }

func (h *setHash) write(b []byte) {
	h.ieee, h.c = crc32.Update(h.ieee, crc32.IEEETable, b), crc32.Update(h.c, castagnoli, b)
}

// shard hashes sh's token count and vocabulary size, before its tokens.
func (h *setHash) shard(sh *Shard) { h.write(shardSizes(sh)) }

func (h *setHash) sum() string {
	return fmt.Sprintf("%s%08x%08x", fingerprintPrefix, h.ieee, h.c)
}

// shardSizes is sh's token count and vocabulary size, as hashed.
func shardSizes(sh *Shard) []byte {
	var n [16]byte
	binary.LittleEndian.PutUint64(n[:], uint64(sh.Len()))
	binary.LittleEndian.PutUint64(n[8:], uint64(sh.VocabSize()))
	return n[:]
}

// Check reads every token of the set and returns an error naming the first
// one that is not below the vocabulary size, an *InputError (the shard is
// damaged), or, once ctx is cancelled, its cause. The same read computes
// the set's Fingerprint.
func (s *ShardSet) Check(ctx context.Context) error { return s.scan(ctx, true) }

// Fingerprint returns a hash of the set: each shard's token count and
// vocabulary size, and every one of its tokens. Check computes it as it
// reads the shards; asked before, it reads them through itself.
func (s *ShardSet) Fingerprint() string {
	if s.sum == "" {
		_ = s.scan(context.Background(), false) // no check, no end: no error
	}
	return s.sum
}

// FingerprintAs returns the set's fingerprint in the format of sum, a
// fingerprint saved before: that of a build before this one hashed each
// shard's sizes and sampled blocks (sampledFingerprint), and is computed
// so again, for a run it checkpointed to resume on the same shards.
func (s *ShardSet) FingerprintAs(sum string) string {
	if sum == "" || strings.HasPrefix(sum, fingerprintPrefix) {
		return s.Fingerprint()
	}
	return s.sampledFingerprint()
}

// scan reads every token of the set, checking each against the vocabulary
// where check, and sets the fingerprint once all are read.
func (s *ShardSet) scan(ctx context.Context, check bool) error {
	var h setHash
	for _, sh := range s.shards {
		if err := s.scanShard(ctx, sh, &h, check); err != nil {
			return err
		}
	}
	s.sum = h.sum()
	return nil
}

// scanShard reads one shard for scan, read ahead as it goes, each stride
// out of the process's memory once read (the resident set stays some tens
// of MiB, whatever the size of the shards).
func (s *ShardSet) scanShard(ctx context.Context, sh *Shard, h *setHash, check bool) error {
	adviseSequential(sh.mapped)
	h.shard(sh)
	page := os.Getpagesize()
	for at := 0; at < sh.Len(); at += checkStride {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: check stopped: %w", s.name, context.Cause(ctx))
		}
		end := min(at+checkStride, sh.Len())
		if err := sh.scan(at, end, h, check); err != nil {
			return err
		}
		from := (ShardHeaderSize + at*sh.dtype) / page * page // (madvise takes whole pages)
		adviseRead(sh.mapped[from : ShardHeaderSize+end*sh.dtype])
	}
	return nil
}

// scan hashes the tokens [lo, hi) into h, checked first where check, a
// block at a time: each is hashed while the check has it in the cache.
func (sh *Shard) scan(lo, hi int, h *setHash, check bool) error {
	for at := lo; at < hi; at += checkBlock {
		end := min(at+checkBlock, hi)
		if check {
			if err := sh.check(at, end); err != nil {
				return err
			}
		}
		h.write(sh.data[at*sh.dtype : end*sh.dtype])
	}
	return nil
}

// fingerprintBlocks is how many evenly spaced blocks of fingerprintBlock
// bytes of each shard the fingerprint of builds before this one read: all
// of a shard up to 256 KiB, a sample of a larger one.
const fingerprintBlocks, fingerprintBlock = 64, 4096

// sampledFingerprint is the fingerprint of builds before this one: a
// SHA-256 of each shard's sizes and its tokens, whole or sampled in
// blocks, which an edit between the blocks leaves as it was.
func (s *ShardSet) sampledFingerprint() string {
	h := sha256.New()
	for _, sh := range s.shards {
		h.Write(shardSizes(sh))
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
	return hex.EncodeToString(h.Sum(nil)[:16])
}
