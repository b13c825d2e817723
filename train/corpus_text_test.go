package train

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	char, err := newTokenizer(context.Background(), "char", path, "")
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

// A .jsonl document longer than the pieces a corpus is read in is encoded
// a piece at a time, cut where tokenizing the parts gives the ids of the
// whole: the ids are the whole document's, with every tokenizer's cuts
// (char and byte: any character; the byte-level BPEs: before whitespace;
// the GPT-1 BPE: a space between ASCII characters). A run of 1 MiB
// without such a point is cut between characters, as data prepare cuts
// it (it was encoded whole, in some 60 times its size of memory): the ids
// of the file are those of data prepare's shards.
func TestEncodeLongDocuments(t *testing.T) {
	dir := t.TempDir()
	docs := []string{
		strings.Repeat(data.BuiltinCorpus()[:50_000]+" naïve café, 日本語 😀\n", 30), // 1.5 MB: two pieces
		"a short one",
		strings.Repeat("\t"+data.BuiltinCorpus()[50_000:90_000]+"\r\n  x", 60),
		strings.Repeat("abcdefghé", 130_000), // 1.3 MB without a cut point but for char and byte
	}
	var lines strings.Builder
	for _, d := range docs {
		b, _ := json.Marshal(map[string]string{"text": d})
		lines.Write(append(b, '\n'))
	}
	path := filepath.Join(dir, "docs.jsonl")
	if err := os.WriteFile(path, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	prose := filepath.Join(dir, "prose.txt")
	if err := os.WriteFile(prose, []byte(docs[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	bpe, err := data.TrainBPE([]string{prose}, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	toks := []data.Tokenizer{data.NewCharTokenizer(strings.Join(docs, "")), data.ByteTokenizer{}, bpe}
	gpt1 := cmp.Or(os.Getenv(data.EnvGPT1Vocab), filepath.Join("..", "..", "shared", "data", "tokenizer", "gpt1"))
	if tok, err := data.ResolveTokenizer(gpt1); err == nil {
		toks = append(toks, tok)
	} else {
		t.Logf("no GPT-1 BPE (%v): its cuts go untested", err)
	}
	for _, tok := range toks {
		if n := data.NextPiece(docs[0], data.CutsOf(tok)); n == len(docs[0]) {
			t.Fatalf("%s: the first document is one piece", tok.Name())
		}
		got, err := encodeCorpus("data", path, tok)
		if err != nil {
			t.Fatal(err)
		}
		ids := memIDs(got)
		var whole Tokens
		for _, d := range docs[:3] {
			for _, id := range append(tok.Encode(d), tok.EOT()) {
				if id >= 0 {
					whole = append(whole, int32(id))
				}
			}
		}
		if !slices.Equal(ids[:min(len(whole), len(ids))], whole) {
			t.Errorf("%s: the ids of the documents with cut points differ from the whole documents' (first difference at %d)", tok.Name(), firstDiff(ids, whole))
		}
		opts := data.DefaultPrepareOptions()
		opts.Tokenizer, opts.Inputs, opts.OutDir, opts.ValFraction = tok, []string{path}, filepath.Join(dir, "shards-"+tok.Name()), 0
		if _, err := data.Prepare(opts); err != nil {
			t.Fatal(err)
		}
		set, err := data.OpenShardSet(opts.OutDir, "train")
		if err != nil {
			t.Fatal(err)
		}
		var prepared Tokens
		for _, sh := range set.Shards() {
			w := make(Tokens, sh.Len())
			if err := sh.Window(w, 0); err != nil {
				t.Fatal(err)
			}
			prepared = append(prepared, w...)
		}
		set.Close()
		if !slices.Equal(ids, prepared) {
			t.Errorf("%s: %d ids, data prepare's shards %d (first difference at %d)", tok.Name(), len(ids), len(prepared), firstDiff(ids, prepared))
		}
	}
}

// firstDiff is the first index at which a and b differ.
func firstDiff(a, b Tokens) int {
	i := 0
	for i < min(len(a), len(b)) && a[i] == b[i] {
		i++
	}
	return i
}

// stopTokenizer cancels a run's context as it encodes piece number at of a
// corpus, as a signal would.
type stopTokenizer struct {
	data.ByteTokenizer
	stop      func()
	at, calls int
}

func (s *stopTokenizer) Encode(text string) []int {
	if s.calls++; s.calls == s.at {
		s.stop()
	}
	return s.ByteTokenizer.Encode(text)
}

// A stop signal while a text corpus loads ends the loading before the next
// piece (about 1 MiB) is encoded, not after the last: a text file's chunks,
// a long .jsonl document's pieces (which was encoded in one call) and the
// char vocabulary's read alike. GPT-2's BPE encodes some 2.5 MB/s, so a
// corpus of gigabytes held a stop for minutes, past a scheduler's kill.
func TestCorpusLoadingStops(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("some words of text, ", 250_000) // 5 MB: five pieces
	txt, jsonl := filepath.Join(dir, "big.txt"), filepath.Join(dir, "big.jsonl")
	doc, _ := json.Marshal(map[string]string{"text": text})
	for path, s := range map[string]string{txt: text, jsonl: string(doc) + "\n"} {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{txt, jsonl} {
		ctx, cancel := context.WithCancelCause(context.Background())
		tok := &stopTokenizer{stop: func() { cancel(errors.New("received terminated")) }, at: 2}
		_, err := loadCorpus(ctx, tinyConfig(t, "data="+path), tok, io.Discard)
		if !errors.Is(err, errLoadStopped) || tok.calls != 2 {
			t.Errorf("%s stopped at its second piece: %v after %d pieces; want errLoadStopped after 2", filepath.Base(path), err, tok.calls)
		}
		if _, err := newTokenizer(ctx, "char", path, ""); !errors.Is(err, errLoadStopped) {
			t.Errorf("%s: the char vocabulary's read after a stop: %v", filepath.Base(path), err)
		}
	}
}

// A text corpus over 2 GiB is measured in int64: a 32-bit build wrapped
// its size negative, passed the memory check and then crashed making room
// for the ids; it refuses the corpus instead, as one too large for memory.
func TestCorpusSizeOver2GiB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.txt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 3 << 30
	if err := f.Truncate(size); err != nil { // sparse: no disk taken
		f.Close()
		t.Skipf("a 3 GiB sparse file: %v", err)
	}
	f.Close()
	if n := corpusBytes(path); n != size {
		t.Errorf("corpusBytes = %d, want %d", n, int64(size))
	}
	err = fitsCorpus("data", path, "byte")
	var ie *InputError
	switch {
	case strconv.IntSize == 32 && (!errors.As(err, &ie) || !strings.Contains(err.Error(), "more than a 32-bit build of gptctl can hold")):
		t.Errorf("fitsCorpus on a 32-bit build: %v, want the corpus refused", err)
	case strconv.IntSize == 64 && err != nil && !strings.Contains(err.Error(), "of memory and swap"):
		t.Errorf("fitsCorpus: %v", err)
	}
}
