package train

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/graph"
)

// wideVocab is a tokenizer whose ids do not fit in 16 bits.
type wideVocab struct{ data.ByteTokenizer }

func (wideVocab) VocabSize() int { return 70_000 }

// A text corpus larger than the pieces it is read in is held as the ids its
// whole text encodes to, whatever the tokenizer (char, byte, BPE), in 16
// bits a token where the vocabulary allows (32 otherwise); the char
// vocabulary read as a stream is the whole text's.
func TestEncodeCorpusStreams(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat(data.BuiltinCorpus()[:50_000]+" naïve café, 日本語 😀\n", 70) // 3.5 MB: several 1 MiB chunks
	path := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	char, err := newTokenizer("char", path, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := data.NewCharTokenizer(text); !data.SameVocabulary(char, want) {
		t.Fatalf("char vocabulary of %d, want the whole text's %d", char.VocabSize(), want.VocabSize())
	}
	bpe, err := data.TrainBPE([]string{path}, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []data.Tokenizer{char, data.ByteTokenizer{}, bpe, wideVocab{}} {
		got, err := encodeCorpus("data", path, tok)
		if err != nil {
			t.Fatal(err)
		}
		var want Tokens
		for _, id := range tok.Encode(text) {
			want = append(want, int32(id))
		}
		if !slices.Equal(memIDs(got), want) {
			t.Errorf("%s: %d ids, want the %d of the whole text", tok.Name(), got.Len(), len(want))
		}
		_, narrow := got.(tokens16)
		if narrow != (tok.VocabSize() <= 1<<16) {
			t.Errorf("%s, vocabulary %d: held as %T", tok.Name(), tok.VocabSize(), got)
		}
	}
}

// A text corpus whose token ids cannot fit in memory is refused before it
// is read, pointing to data prepare (it was read for minutes, then the
// process was killed for memory); one whose ids fit is not, though its
// bytes would not (a character of CJK text is 3 bytes, one id).
func TestCorpusBeyondMemory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("some text. ", 200_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	cjk := filepath.Join(dir, "cjk.txt")
	if err := os.WriteFile(cjk, []byte(strings.Repeat("\u3042\u3044", 500_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() { graph.MemoryLimit = 0 }()
	graph.MemoryLimit = 1 << 20
	var ie *InputError
	if err := fitsCorpus("data", path, "byte"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "gptctl data prepare") {
		t.Errorf("2.2 MB of byte ids with 1 MiB of memory: %v", err)
	}
	graph.MemoryLimit = 3 << 20
	if err := fitsCorpus("data", cjk, "char"); err != nil {
		t.Errorf("1M characters (2 MB of ids, 3 MB of text) with 3 MiB: %v", err)
	}
	if ids, err := encodeCorpus("data", cjk, data.NewCharTokenizer("\u3042\u3044")); err != nil || ids.Len() != 1_000_000 {
		t.Errorf("encoding them with 3 MiB: %v", err)
	}
	if err := fitsCorpus("data", path, "gpt2"); err != nil {
		t.Errorf("2.2 MB of text for a BPE with 3 MiB: %v", err)
	}
}
