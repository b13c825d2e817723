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
// process was killed for memory).
func TestEncodeCorpusBeyondMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("some text. ", 200_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	graph.MemoryLimit = 1 << 20
	defer func() { graph.MemoryLimit = 0 }()
	var ie *InputError
	if _, err := encodeCorpus("data", path, data.ByteTokenizer{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "gptctl data prepare") {
		t.Errorf("2.2 MB of ids with 1 MiB of memory: %v", err)
	}
	graph.MemoryLimit = 1 << 30
	if ids, err := encodeCorpus("data", path, data.ByteTokenizer{}); err != nil || ids.Len() != 2_200_000 {
		t.Errorf("with 1 GiB: %v", err)
	}
}
