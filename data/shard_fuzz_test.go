package data

import (
	"os"
	"path/filepath"
	"testing"
)

// OpenShard on any file returns an error or a shard whose every token can be
// read; it never panics and never maps more than the file.
func FuzzOpenShard(f *testing.F) {
	dir := f.TempDir()
	for i, c := range []struct {
		ids   []int
		vocab int
	}{{[]int{1, 2, 3}, 256}, {[]int{70000, 5}, 70001}, {nil, 10}} {
		p := filepath.Join(dir, "seed"+string(rune('a'+i)))
		if err := WriteShard(p, c.ids, c.vocab); err != nil {
			f.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(ShardMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "shard.bin")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenShard(p)
		if err != nil {
			return
		}
		defer s.Close()
		if s.Len()*s.DType()+ShardHeaderSize != len(b) {
			t.Fatalf("shard of %d tokens x %d bytes opened from a %d-byte file", s.Len(), s.DType(), len(b))
		}
		if s.Check() != nil {
			return // ids outside the vocabulary: reads of them say the shard is damaged
		}
		dst := make([]int32, min(s.Len(), 16))
		if err := s.Window(dst, s.Len()-len(dst)); err != nil {
			t.Fatal(err)
		}
		if s.Window(make([]int32, 1), s.Len()) == nil {
			t.Fatal("a window past the end was accepted")
		}
	})
}
