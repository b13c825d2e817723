package data

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// A token shard is a file of token ids: a 256-byte little-endian header
//
//	offset 0   magic "GPTCTLTK"
//	offset 8   uint32 version (1)
//	offset 12  uint32 dtype: bytes per token, 2 (uint16) or 4 (uint32)
//	offset 16  uint64 number of tokens
//	offset 24  uint32 vocabulary size
//	offset 28  zero
//	offset 32  16 bytes: the id of the data prepare that wrote it, which
//	           its manifest (ManifestFile) names; zero when none
//	offset 48  zero up to 256
//
// followed by the tokens, little-endian, dtype bytes each.
const (
	ShardMagic      = "GPTCTLTK"
	ShardVersion    = 1
	ShardHeaderSize = 256
)

// ShardDType returns the dtype (bytes per token) that a vocabulary of
// vocabSize tokens needs: 2 up to 65,536 tokens, else 4.
func ShardDType(vocabSize int) int {
	if vocabSize <= 1<<16 {
		return 2
	}
	return 4
}

func checkDType(dtype, vocabSize int) error {
	switch {
	case dtype != 2 && dtype != 4:
		return fmt.Errorf("unknown dtype %d (want 2 for uint16 or 4 for uint32)", dtype)
	case vocabSize <= 0:
		return fmt.Errorf("vocab size %d must be positive", vocabSize)
	case dtype == 2 && vocabSize > 1<<16:
		return fmt.Errorf("vocab size %d does not fit dtype 2 (uint16 holds 65,536 ids); use dtype 4", vocabSize)
	case int64(vocabSize) >= 1<<32:
		return fmt.Errorf("vocab size %d does not fit dtype 4 (uint32)", vocabSize)
	}
	return nil
}

// ShardWriter streams tokens into a shard. It writes a file without a name,
// or a temporary file, in the same directory (see pendingFile) and renames it
// to path on Close, so a shard that exists is complete.
type ShardWriter struct {
	path  string
	f     *pendingFile
	w     *bufio.Writer
	dtype int
	vocab int
	n     uint64
	buf   []byte

	// SetID is the id of the prepare writing the shard, written into its
	// header (zero: none).
	SetID [16]byte
}

// NewShardWriter creates the shard path for ids below vocabSize. dtype is 2
// or 4 bytes per token, or 0 for ShardDType(vocabSize).
func NewShardWriter(path string, vocabSize, dtype int) (*ShardWriter, error) {
	if dtype == 0 {
		dtype = ShardDType(vocabSize)
	}
	if err := checkDType(dtype, vocabSize); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createPending(dir, base)
	if err != nil {
		return nil, fmt.Errorf("create shard: %w", err)
	}
	sw := &ShardWriter{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20), dtype: dtype, vocab: vocabSize}
	if _, err := sw.w.Write(make([]byte, ShardHeaderSize)); err != nil {
		sw.Abort()
		return nil, fmt.Errorf("write shard %s: %w", path, err)
	}
	return sw, nil
}

// Len returns the number of tokens written so far.
func (sw *ShardWriter) Len() int { return int(sw.n) }

// Write appends ids, which must all be in [0, vocab size); on an error the
// ids before the block of the bad one may be written (a writer that failed
// is aborted, not closed).
func (sw *ShardWriter) Write(ids []int) error { return writeIDs(sw, ids) }

// writeIDs is Write for ids of either type.
func writeIDs[T int | int32](sw *ShardWriter, ids []T) error {
	for len(ids) > 0 {
		// In blocks, so that the bytes of a long document's ids (data
		// prepare writes a .jsonl line's in one call) are not held whole
		// beside them.
		block := ids[:min(len(ids), writeBlock)]
		sw.buf = sw.buf[:0]
		for i, id := range block {
			if id < 0 || int(id) >= sw.vocab {
				return fmt.Errorf("shard %s: token %d (position %d) is outside the vocabulary of %d", sw.path, id, int(sw.n)+i, sw.vocab)
			}
			if sw.dtype == 2 {
				sw.buf = binary.LittleEndian.AppendUint16(sw.buf, uint16(id))
			} else {
				sw.buf = binary.LittleEndian.AppendUint32(sw.buf, uint32(id))
			}
		}
		if _, err := sw.w.Write(sw.buf); err != nil {
			return fmt.Errorf("write shard %s: %w", sw.path, err)
		}
		sw.n += uint64(len(block))
		ids = ids[len(block):]
	}
	return nil
}

// writeBlock is the most ids Write converts to bytes at a time.
const writeBlock = 1 << 16

// Close writes the header, syncs the file and renames it to its path.
func (sw *ShardWriter) Close() error {
	if sw.f == nil {
		return fmt.Errorf("shard %s: already closed", sw.path)
	}
	err := sw.w.Flush()
	if err == nil {
		_, err = sw.f.WriteAt(shardHeader(sw.dtype, sw.n, sw.vocab, sw.SetID), 0)
	}
	if err == nil {
		err = sw.f.Chmod(0o644) // created 0600
	}
	if err == nil {
		err = sw.f.Sync()
	}
	if err == nil {
		err = sw.f.place()
	}
	if err != nil {
		sw.Abort()
		return fmt.Errorf("finish shard %s: %w", sw.path, err)
	}
	sw.f = nil
	return nil
}

// Abort removes the unfinished shard. It is safe to call after Close.
func (sw *ShardWriter) Abort() {
	if sw.f != nil {
		sw.f.discard()
		sw.f = nil
	}
}

func shardHeader(dtype int, n uint64, vocabSize int, set [16]byte) []byte {
	h := make([]byte, ShardHeaderSize)
	copy(h, ShardMagic)
	binary.LittleEndian.PutUint32(h[8:], ShardVersion)
	binary.LittleEndian.PutUint32(h[12:], uint32(dtype))
	binary.LittleEndian.PutUint64(h[16:], n)
	binary.LittleEndian.PutUint32(h[24:], uint32(vocabSize))
	copy(h[32:48], set[:])
	return h
}

// WriteShard writes ids to the shard path in the smallest dtype that holds
// vocabSize.
func WriteShard(path string, ids []int, vocabSize int) error {
	sw, err := NewShardWriter(path, vocabSize, 0)
	if err != nil {
		return err
	}
	if err := sw.Write(ids); err != nil {
		sw.Abort()
		return err
	}
	return sw.Close()
}

// CheckText refuses f, opened from path to be read as a text corpus, when
// it is not UTF-8 text: a token shard (pretraining, eval, data prepare and
// tokenizer train would take its header and ids for characters), or a
// UTF-16 or UTF-32 file (its NULs read as characters). It reads the first
// bytes without moving f's offset; a pipe passes (ReadChunks refuses the
// latter from its first bytes).
func CheckText(f *os.File, path string) error {
	var head [64]byte // the magic, a byte order mark, the first characters of UTF-16 without one
	n, _ := f.ReadAt(head[:], 0)
	if n >= len(ShardMagic) && string(head[:len(ShardMagic)]) == ShardMagic {
		return &InputError{fmt.Errorf("%s is a token shard of gptctl data prepare, not text (pretrain's data: and eval --data take its directory, %s)", path, filepath.Dir(path))}
	}
	if note := WideNote(head[:n]); note != "" {
		return &InputError{fmt.Errorf("%s %s", path, note)}
	}
	return nil
}
