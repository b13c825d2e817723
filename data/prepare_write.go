package data

import (
	"errors"
	"fmt"
	"os"
)

// prepWriter writes the train and val splits of Prepare.
type prepWriter struct {
	train, val splitWriter
}

func newPrepWriter(opts PrepareOptions) *prepWriter {
	mk := func(prefix string) splitWriter {
		return splitWriter{dir: opts.OutDir, prefix: prefix, vocab: opts.Tokenizer.VocabSize(), max: opts.ShardTokens}
	}
	return &prepWriter{train: mk("train"), val: mk("val")}
}

func (w *prepWriter) write(r prepResult) error {
	if err := w.train.write(r.train); err != nil {
		return err
	}
	return w.val.write(r.val)
}

// close finishes both splits; when ok is false it removes the unfinished
// shards instead.
func (w *prepWriter) close(ok bool) error {
	return errors.Join(w.train.close(ok), w.val.close(ok))
}

// splitWriter writes one split as shards PREFIX_000.bin, PREFIX_001.bin, ...
// of at most max tokens. A split with no tokens gets no shard.
type splitWriter struct {
	dir, prefix string
	vocab, max  int
	cur         *ShardWriter
	shards      int // shards started
	tokens      int64
}

func (s *splitWriter) write(ids []int) error {
	for len(ids) > 0 {
		if s.cur == nil {
			sw, err := NewShardWriter(ShardPath(s.dir, s.prefix, s.shards), s.vocab, 0)
			if err != nil {
				return err
			}
			s.cur = sw
			s.shards++
		}
		n := min(len(ids), s.max-s.cur.Len())
		if err := s.cur.Write(ids[:n]); err != nil {
			return err
		}
		s.tokens += int64(n)
		ids = ids[n:]
		if s.cur.Len() == s.max {
			if err := s.cur.Close(); err != nil {
				return err
			}
			s.cur = nil
		}
	}
	return nil
}

func (s *splitWriter) close(ok bool) error {
	if s.cur != nil {
		if !ok {
			s.cur.Abort()
			return nil
		}
		if err := s.cur.Close(); err != nil {
			return err
		}
		s.cur = nil
	}
	if !ok {
		return nil
	}
	// Remove shards of an earlier, longer run so the set is only this one.
	old, err := shardFiles(s.dir, s.prefix)
	if err != nil {
		return err
	}
	written := map[string]bool{}
	for i := 0; i < s.shards; i++ {
		written[ShardPath(s.dir, s.prefix, i)] = true
	}
	for _, f := range old {
		if !written[f] {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("remove stale shard: %w", err)
			}
		}
	}
	return nil
}
