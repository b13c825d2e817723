package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// byteEOTTokenizer is a test tokenizer: one id per byte, 256 is EOT.
type byteEOTTokenizer struct{}

func (byteEOTTokenizer) Name() string      { return "test-bytes" }
func (byteEOTTokenizer) VocabSize() int    { return 257 }
func (byteEOTTokenizer) EOT() int          { return 256 }
func (byteEOTTokenizer) Save(string) error { return nil }
func (byteEOTTokenizer) Encode(s string) []int {
	ids := make([]int, len(s))
	for i := range ids {
		ids[i] = int(s[i])
	}
	return ids
}
func (byteEOTTokenizer) Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

// genCorpus writes two text files and a .jsonl file of about n bytes in
// all and returns their documents.
func genCorpus(t *testing.T, dir string, n int) (files, docs []string) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("the river runs past town and a goose hides in the shade, while Owen's dogs sit under tables; 42 ships.")
	text := func(size int) string {
		var b strings.Builder
		for b.Len() < size {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString([]string{" ", " ", " ", "\n", "\n\n"}[rng.IntN(5)])
		}
		return b.String()
	}
	for i := 0; i < 2; i++ {
		f := filepath.Join(dir, fmt.Sprintf("part%d.txt", i))
		doc := text(n * 2 / 5)
		os.WriteFile(f, []byte(doc), 0o644)
		files, docs = append(files, f), append(docs, doc)
	}
	var jl bytes.Buffer
	for jl.Len() < n/5 {
		doc := text(rng.IntN(3000))
		fmt.Fprintf(&jl, "{\"text\": %q, \"id\": 1}\n\n", doc)
		docs = append(docs, doc)
	}
	f := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(f, jl.Bytes(), 0o644)
	return append(files, f), docs
}

func readSplit(t *testing.T, dir, prefix string) []int {
	set, err := OpenShardSet(dir, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var ids []int
	for _, s := range set.Shards() {
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < s.Len(); i++ {
			ids = append(ids, s.Get(i))
		}
	}
	return ids
}

func TestPrepareBytes(t *testing.T) {
	in := t.TempDir()
	files, docs := genCorpus(t, in, 3<<20)
	var want []int
	var total int
	for _, d := range docs {
		want = append(want, byteEOTTokenizer{}.Encode(d)...)
		want = append(want, 256)
		total += len(d)
	}
	// No validation split: the shards are the documents in order.
	out := t.TempDir()
	opts := PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{filepath.Join(in, "*.txt"), files[2]}, OutDir: out, ShardTokens: 1 << 20, Workers: 3}
	stats, err := Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := readSplit(t, out, "train"); !slices.Equal(got, want) {
		t.Fatalf("train shards hold %d tokens, want the %d of the documents", len(got), len(want))
	}
	if stats.Docs != int64(len(docs)) || stats.TrainShards != (len(want)+(1<<20)-1)>>20 || stats.ValTokens != 0 || stats.Bytes < int64(total) {
		t.Fatalf("stats %+v", stats)
	}
	// With a validation split: every token lands in one split, about the
	// right share in val, and the result does not depend on the workers.
	opts.ValFraction, opts.ShardTokens = 0.05, 1<<21
	outs := []string{t.TempDir(), t.TempDir()}
	for i, workers := range []int{1, 4} {
		opts.OutDir, opts.Workers = outs[i], workers
		stats, err = Prepare(opts)
		if err != nil {
			t.Fatal(err)
		}
	}
	train, val := readSplit(t, outs[0], "train"), readSplit(t, outs[0], "val")
	if len(train)+len(val) != len(want) || !slices.Equal(readSplit(t, outs[1], "val"), val) || !slices.Equal(readSplit(t, outs[1], "train"), train) {
		t.Fatalf("train %d + val %d tokens, want %d, same with 1 and 4 workers", len(train), len(val), len(want))
	}
	if share := float64(len(val)) / float64(len(want)); share < 0.03 || share > 0.07 {
		t.Fatalf("val share %.3f, want about 0.05", share)
	}
	// A rerun with bigger shards removes the shards it no longer writes.
	opts.OutDir, opts.ShardTokens, opts.ValFraction = out, 1<<30, 0
	if _, err := Prepare(opts); err != nil {
		t.Fatal(err)
	}
	if f, _ := ShardFiles(out, "train"); len(f) != 1 {
		t.Fatalf("stale shards left: %v", f)
	}
}

// Files saved with a byte order mark, text or JSONL, prepare as the same
// documents without it.
func TestPrepareBOM(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("\ufeffplain text"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte("\ufeff{\"text\": \"first\"}\r\n{\"text\": \"second\"}\r\n"), 0o644)
	out := t.TempDir()
	_, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.jsonl")}, OutDir: out, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, d := range []string{"plain text", "first", "second"} {
		want = append(append(want, byteEOTTokenizer{}.Encode(d)...), 256)
	}
	if got := readSplit(t, out, "train"); !slices.Equal(got, want) {
		t.Fatalf("shards hold %v, want %v", got, want)
	}
}

func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\": \"ok\"}\n{\"title\": 1}\n"), 0o644)
	tests := []struct {
		inputs []string
		want   string
	}{
		{[]string{bad}, "bad.jsonl:2: want a JSON object"},
		{[]string{writeTemp(t, dir, "num.jsonl", "{\"text\": 5}\n")}, `num.jsonl:1: want a JSON object {"text": ...}: "text" holds a number, not a string`},
		{[]string{writeTemp(t, dir, "null.jsonl", "{\"text\": null}\n")}, `null.jsonl:1: want a JSON object {"text": ...}: "text" is null, not a string`},
		{[]string{writeTemp(t, dir, "arr.jsonl", "[1]\n")}, `arr.jsonl:1: want a JSON object {"text": ...}: the line is a JSON array`},
		{[]string{filepath.Join(dir, "none.txt")}, "none.txt"},
		{[]string{filepath.Join(dir, "*.md")}, "no files match"},
		{[]string{dir}, "is a directory"},
	}
	for _, tt := range tests {
		_, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: tt.inputs, OutDir: filepath.Join(dir, "out")})
		var ie *InputError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ie) {
			t.Errorf("%v: got %v (%T), want an *InputError with %q", tt.inputs, err, err, tt.want)
		}
	}
	// A failed prepare leaves no --out it created (nor the directories it
	// made above it), and keeps one it found.
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--out after failed prepares that created it: %v, want it removed", err)
	}
	if _, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{bad}, OutDir: filepath.Join(dir, "a", "b", "c")}); err == nil {
		t.Fatal("a bad input prepared")
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the directories a failed prepare made above its --out: %v, want them removed", err)
	}
	kept := filepath.Join(dir, "kept")
	os.Mkdir(kept, 0o755)
	if _, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{bad}, OutDir: kept}); err == nil {
		t.Fatal("a bad input prepared")
	}
	if fi, err := os.Stat(kept); err != nil || !fi.IsDir() {
		t.Errorf("an --out that existed before a failed prepare: %v, want it kept", err)
	}
	// A char vocabulary would drop the characters it lacks: refused, by file
	// (and line of a .jsonl file).
	chars := NewCharTokenizer("abc \n")
	os.WriteFile(filepath.Join(dir, "x.txt"), []byte("abc cab\nab\u00e9c\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.jsonl"), []byte("{\"text\": \"abc\"}\n{\"text\": \"abd\"}\n"), 0o644)
	for name, want := range map[string]string{"x.txt": `x.txt: characters "é" are not in the vocabulary (char, 5 tokens); use a tokenizer that reads it`, "x.jsonl": `x.jsonl:2: characters "d"`} {
		_, err := Prepare(PrepareOptions{Tokenizer: chars, Inputs: []string{filepath.Join(dir, name)}, OutDir: filepath.Join(dir, "out"), ValFraction: 0.5})
		var ie *InputError
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &ie) {
			t.Errorf("%s: got %v, want an *InputError with %q", name, err, want)
		}
	}
	if _, err := Prepare(PrepareOptions{Inputs: []string{bad}, ValFraction: 2}); err == nil || !strings.Contains(err.Error(), "no tokenizer") || !strings.Contains(err.Error(), "val fraction 2") {
		t.Errorf("options: %v", err)
	}
}

// With GPT-2, preparing in chunks gives exactly the ids of the whole text.
func TestPrepareGPT2(t *testing.T) {
	tok := gpt2Vocab(t)
	path := sharedPath("GPTCTL_SHAKESPEARE", "../../shared/data/pretrain/tinyshakespeare.txt")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no corpus (set GPTCTL_SHAKESPEARE): %v", err)
	}
	out := t.TempDir()
	stats, err := Prepare(PrepareOptions{Tokenizer: tok, Inputs: []string{path}, OutDir: out, ValFraction: 0})
	if err != nil {
		t.Fatal(err)
	}
	want := append(tok.Encode(string(raw)), tok.EOT())
	if got := readSplit(t, out, "train"); !slices.Equal(got, want) {
		t.Fatalf("shards hold %d tokens, whole-text encoding %d", len(got), len(want))
	}
	t.Logf("%d bytes -> %d tokens in %.2fs", stats.Bytes, stats.Tokens(), stats.Seconds)
	if _, err := LoadGPT2BPE(filepath.Join(out, "tokenizer")); err != nil {
		t.Fatalf("saved tokenizer: %v", err)
	}
}

// ReadChunks cuts where its Cuts allow, into chunks of at most size bytes
// where there is a cut point; a run without one is read on, up to maxRun
// bytes, before it is cut between characters.
func TestReadChunks(t *testing.T) {
	cjk := strings.Repeat("\u3042\u3044", 3000) // 18,000 bytes, no space
	for _, c := range []struct {
		text    string
		cuts    Cuts
		longest int // the longest chunk allowed
	}{
		{strings.Repeat("word, and more words\n", 500), SpaceCuts, 1000},
		{cjk, SpaceCuts, len(cjk)},                                                      // no cut point: one chunk
		{strings.Repeat(cjk, 60), SpaceCuts, maxRun},                                    // past maxRun: cut between characters
		{strings.Repeat("x", 2500) + " y" + strings.Repeat("z", 5000), SpaceCuts, 8000}, // a cut after the buffer grew, then none
		{strings.Repeat("\u3042\u3044\n", 2000), WhitespaceCuts, 1000},                  // lines of Japanese
		{strings.Repeat("word\n", 2000), WhitespaceCuts, 1000},
		{cjk, CharCuts, 1000},
		{"short", SpaceCuts, 5},
		{"", SpaceCuts, 0},
	} {
		var parts []string
		err := ReadChunks(strings.NewReader(c.text), 1000, c.cuts, func(s string) error {
			if len(s) > c.longest {
				t.Fatalf("%q...: chunk of %d bytes", trunc(c.text), len(s))
			}
			parts = append(parts, s)
			return nil
		})
		if err != nil || strings.Join(parts, "") != c.text {
			t.Fatalf("chunks of %q... do not join to the text (err %v)", trunc(c.text), err)
		}
		at := 0
		for i, p := range parts {
			if !utf8.ValidString(p) {
				t.Fatalf("chunk cuts a character: %q", trunc(p))
			}
			if at += len(p); i < len(parts)-1 && c.longest < maxRun && !c.cuts.At(c.text, at) {
				t.Fatalf("%q...: chunk %d ends at %d, not a cut point", trunc(c.text), i, at)
			}
		}
	}
}

// A byte order mark at the start of a file is not text: the chunks leave it
// out, and a BOM later in the text is kept as it is.
func TestReadChunksBOM(t *testing.T) {
	text := strings.Repeat("word, and more words\n", 100) + "\ufeff end"
	for _, size := range []int{16, 1000, 1 << 20} {
		var b strings.Builder
		err := ReadChunks(strings.NewReader("\ufeff"+text), size, SpaceCuts, func(c string) error {
			b.WriteString(c)
			return nil
		})
		if err != nil || b.String() != text {
			t.Fatalf("size %d: chunks of a file with a BOM join to %q... (err %v), want the text without the BOM", size, trunc(b.String()), err)
		}
	}
	if got := string(TrimBOM([]byte("\ufeffabc"))); got != "abc" {
		t.Errorf("TrimBOM = %q, want abc", got)
	}
}

// A prepare into a directory of an earlier one replaces its whole set:
// the tokenizer directory holds the new tokenizer's files alone (another
// tokenizer's, left beside them, would be loaded first); a prepare that
// fails leaves the earlier set as it was; nothing of the staging is left.
func TestPrepareReplacesEarlierRun(t *testing.T) {
	in := t.TempDir()
	files, _ := genCorpus(t, in, 200_000)
	bpe, err := TrainBPE(files[:1], 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, tok := range []Tokenizer{bpe, ByteTokenizer{}} {
		if _, err := Prepare(PrepareOptions{Tokenizer: tok, Inputs: files[:1], OutDir: out, ValFraction: 0.1}); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(out, "tokenizer", "NOTES.md"), []byte("mine"), 0o644) // not a tokenizer's file
	}
	if b, err := os.ReadFile(filepath.Join(out, "tokenizer", "NOTES.md")); err != nil || string(b) != "mine" {
		t.Errorf("a file of the user's in the tokenizer directory: %q, %v; want it kept", b, err)
	}
	check := func(when string) {
		t.Helper()
		tok, err := LoadTokenizer(filepath.Join(out, "tokenizer"))
		if err != nil || tok == nil || tok.Name() != (ByteTokenizer{}).Name() {
			t.Fatalf("%s: the directory's tokenizer is %v (%v), want the byte tokenizer of the last prepare", when, tok, err)
		}
		text, _ := os.ReadFile(files[0])
		if got, want := len(readSplit(t, out, "train"))+len(readSplit(t, out, "val")), len(text); got != want {
			t.Fatalf("%s: %d tokens in the shards, want the %d bytes of the text", when, got, want)
		}
		if left, _ := filepath.Glob(filepath.Join(out, stagePrefix+"*")); len(left) > 0 {
			t.Fatalf("%s: staging left: %v", when, left)
		}
	}
	check("after the second prepare")
	bad := filepath.Join(in, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\": \"ok\"}\nnot json\n"), 0o644)
	if _, err := Prepare(PrepareOptions{Tokenizer: bpe, Inputs: []string{files[1], bad}, OutDir: out}); err == nil {
		t.Fatal("no error for a bad line")
	}
	check("after a failed prepare")
	// A prepare stopped by its context (a signal) fails, removes what it
	// wrote and leaves the earlier set.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("received terminated"))
	if _, err := Prepare(PrepareOptions{Tokenizer: bpe, Inputs: files[:1], OutDir: out, Context: ctx}); err == nil ||
		!strings.Contains(err.Error(), "stopped (received terminated) before the end") || !strings.Contains(err.Error(), out+" is as it was") {
		t.Fatalf("a stopped prepare: %v", err)
	}
	check("after a stopped prepare")
	// A prepare that fails while it moves the new set into place (here: a
	// directory where a stale shard is to be removed) leaves the directory
	// marked, and the shards are refused until a prepare completes.
	obstacle := filepath.Join(out, "val_009.bin")
	os.MkdirAll(filepath.Join(obstacle, "x"), 0o755)
	if _, err := Prepare(PrepareOptions{Tokenizer: bpe, Inputs: files[:1], OutDir: out, ValFraction: 0.1}); err == nil {
		t.Fatal("no error for a stale shard that cannot be removed")
	}
	var ie *InputError
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), IncompleteFile) {
		t.Fatalf("shards of an unfinished prepare: %v, want an InputError naming %s", err, IncompleteFile)
	}
	os.RemoveAll(obstacle)
	// A killed prepare's working directory holds shards of part of the
	// input: named as data, it is refused.
	stage, err := newStage(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: files[:1], OutDir: filepath.Join(stage, "x"), ValFraction: 0.1}); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(stage, "x", "train_000.bin"), filepath.Join(stage, "train_000.bin"))
	if _, err := OpenShardSet(stage, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "working directory of a data prepare") {
		t.Fatalf("a prepare's working directory as data: %v", err)
	}
	os.RemoveAll(stage)
	if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: files[:1], OutDir: out, ValFraction: 0.1}); err != nil {
		t.Fatal(err)
	}
	check("after a prepare that completes again")
	if err := CheckPrepared(out); err != nil {
		t.Error(err)
	}
}

// A file named twice, by a pattern and by its name, is read once.
func TestPrepareFileNamedTwice(t *testing.T) {
	in := t.TempDir()
	files, _ := genCorpus(t, in, 100_000)
	once, twice := t.TempDir(), t.TempDir()
	a, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: files[:1], OutDir: once, ValFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{files[0], filepath.Join(in, "part0.*"), in + "/./part0.txt"}, OutDir: twice, ValFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if b.Files != 1 || b.Tokens() != a.Tokens() || !slices.Equal(readSplit(t, once, "val"), readSplit(t, twice, "val")) {
		t.Errorf("named three times: %d files, %d tokens; want 1 file, %d tokens and the same val shards", b.Files, b.Tokens(), a.Tokens())
	}
}

// A small corpus gets near its validation share too (text units shrink
// with it): 20 kB at 0.1, 60 kB at 0.03.
func TestPrepareSmallCorpusValShare(t *testing.T) {
	in := t.TempDir()
	for _, c := range []struct {
		size int
		f    float64
	}{{20_000, 0.1}, {60_000, 0.03}} {
		files, _ := genCorpus(t, in, c.size*5/2) // part0 is 2/5 of it
		out := t.TempDir()
		s, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: files[:1], OutDir: out, ValFraction: c.f})
		if err != nil {
			t.Fatal(err)
		}
		if share := float64(s.ValTokens) / float64(s.Tokens()); share < c.f*0.6 || share > c.f*1.4 {
			t.Errorf("%d bytes at %v: val share %.3f (%d of %d tokens)", s.InputBytes, c.f, share, s.ValTokens, s.Tokens())
		}
	}
}

// A byte-level BPE's text without spaces between words (one word a line,
// Japanese lines), with LF or CRLF line ends, is cut at its newlines: the
// shards hold as many ids as the whole text's encoding, with the val share
// asked for.
func TestPrepareCutsAtNewlines(t *testing.T) {
	dir := t.TempDir()
	var words, lines strings.Builder
	for i := 0; words.Len() < 64<<10; i++ {
		fmt.Fprintf(&words, "word%dalpha\n", i)
	}
	for i := 0; lines.Len() < 64<<10; i++ {
		fmt.Fprintf(&lines, "\u65e5\u672c%d\u8a9e\u306e\u6587\n", i)
	}
	texts := map[string]string{"words.txt": words.String(), "lines.txt": lines.String(),
		"words-crlf.txt": strings.ReplaceAll(words.String(), "\n", "\r\n"), "lines-crlf.txt": strings.ReplaceAll(lines.String(), "\n", "\r\n")}
	for name, text := range texts {
		in := filepath.Join(dir, name)
		if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := TrainBPE([]string{in}, 400, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(len(tok.Encode(text)))
		for _, f := range []float64{0, 0.1} {
			st, err := Prepare(PrepareOptions{Tokenizer: tok, Inputs: []string{in}, OutDir: filepath.Join(dir, fmt.Sprint(name, f)), ValFraction: f, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Tokens() - 1; got != want { // and one end-of-text token
				t.Errorf("%s, val fraction %g: the shards hold %d ids, the text's encoding %d", name, f, got, want)
			}
			if share := float64(st.ValTokens) / float64(st.Tokens()); share < f*0.6 || share > f*1.4 {
				t.Errorf("%s, val fraction %g: val share %.3f", name, f, share)
			}
		}
	}
}

// safeUnits cuts only where tokenization does not change: the pieces join
// to the text, every cut is a cut point, a piece is longer than size
// only where the text has no cut point near it, and GPT-2 encodes the
// pieces to the ids of the whole (a URL and a hash of 300 bytes without a
// space among ordinary words).
func TestSafeUnits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var b strings.Builder
	for b.Len() < 20_000 {
		switch rng.IntN(40) {
		case 0:
			b.WriteString("https://example.org/" + strings.Repeat("abc/", 70) + " ")
		case 1:
			b.WriteString(strings.Repeat("0f3a", 75) + "  \n")
		default:
			b.WriteString([]string{"the ", "river ", "runs, ", "past\n", "town. ", "Owen's "}[rng.IntN(6)])
		}
	}
	s := b.String()
	pieces := safeUnits(s, 256, WhitespaceCuts)
	if strings.Join(pieces, "") != s || len(pieces) < 40 {
		t.Fatalf("%d pieces that join to %d of %d bytes", len(pieces), len(strings.Join(pieces, "")), len(s))
	}
	at := 0
	for i, p := range pieces[:len(pieces)-1] {
		at += len(p)
		if !WhitespaceCuts.At(s, at) {
			t.Fatalf("piece %d ends at %d, not a safe cut: %q|%q", i, at, s[at-3:at], s[at:at+3])
		}
	}
	tok := gpt2Vocab(t)
	var got []int
	for _, p := range pieces {
		got = append(got, tok.Encode(p)...)
	}
	if want := tok.Encode(s); !slices.Equal(got, want) {
		t.Errorf("pieces encode to %d ids, the whole text to %d", len(got), len(want))
	}
	// In data prepare: a fraction that makes units of 256 bytes; the two
	// splits together hold the whole text's ids (end-of-text marks aside).
	path := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(path, []byte(s), 0o644)
	out := t.TempDir()
	if _, err := Prepare(PrepareOptions{Tokenizer: tok, Inputs: []string{path}, OutDir: out, ValFraction: 0.05}); err != nil {
		t.Fatal(err)
	}
	noEOT := func(ids []int) []int {
		ids = slices.DeleteFunc(slices.Clone(ids), func(id int) bool { return id == tok.EOT() })
		slices.Sort(ids)
		return ids
	}
	val := readSplit(t, out, "val")
	if got, want := noEOT(append(readSplit(t, out, "train"), val...)), noEOT(tok.Encode(s)); !slices.Equal(got, want) || len(val) == 0 {
		t.Errorf("the splits hold %d ids (%d in val), the whole text %d", len(got), len(val), len(want))
	}
}

// The char vocabulary of data prepare's inputs is the one pretrain builds
// from the same documents: a text file (a byte order mark dropped), the
// text of a .jsonl file's lines (not its JSON), each file once.
func TestCharTokenizerOf(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	os.WriteFile(a, []byte("\ufeffhello, world\n"), 0o644)
	j := filepath.Join(dir, "b.jsonl")
	os.WriteFile(j, []byte(`{"text": "zoë"}`+"\n\n"+`{"text": "QQ"}`+"\n"), 0o644)
	tok, err := CharTokenizerOf([]string{filepath.Join(dir, "*.txt"), j, a})
	if err != nil {
		t.Fatal(err)
	}
	want := NewCharTokenizer("hello, world\nzoëQQ")
	if tok.VocabSize() != want.VocabSize() || !slices.Equal(tok.Encode("hello zoë QQ"), want.Encode("hello zoë QQ")) || len(tok.Unknown("{}\":")) != 4 {
		t.Errorf("vocabulary of %d, want %d: %q", tok.VocabSize(), want.VocabSize(), tok.Decode(tok.Encode("hello zoë QQ")))
	}
	if _, err := CharTokenizerOf([]string{filepath.Join(dir, "none.txt")}); err == nil {
		t.Error("no error for a missing input")
	}
}

// Inputs and output directories data prepare must not mishandle: a NaN
// fraction (it looped), a tokenizer directory that is a link (the files it
// points to were replaced), a second prepare into a directory being
// written, links to one file (read twice), inputs without text (they
// replaced an earlier set with nothing), a fraction that left no training
// text, and invalid UTF-8 for a char vocabulary.
func TestPrepareHardening(t *testing.T) {
	in := t.TempDir()
	files, _ := genCorpus(t, in, 100_000)
	opts := func(out string, inputs ...string) PrepareOptions {
		return PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: inputs, OutDir: out, ValFraction: 0.1}
	}
	inputErr := func(what string, err error, want string) {
		t.Helper()
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an InputError with %q", what, err, want)
		}
	}
	o := opts(t.TempDir(), files[0])
	o.ValFraction = math.NaN()
	if _, err := Prepare(o); err == nil || !strings.Contains(err.Error(), "val fraction NaN") {
		t.Errorf("NaN fraction: %v", err)
	}

	theirs := t.TempDir()
	os.WriteFile(filepath.Join(theirs, GPT2EncoderFile), []byte("{}"), 0o644)
	linked := t.TempDir()
	os.Symlink(theirs, filepath.Join(linked, "tokenizer"))
	_, err := Prepare(opts(linked, files[0]))
	inputErr("a tokenizer directory that is a link", err, "not a directory (a file or a link)")
	if _, err := os.Stat(filepath.Join(theirs, GPT2EncoderFile)); err != nil {
		t.Errorf("the link's target lost its file: %v", err)
	}

	busy := t.TempDir()
	unlock, err := lockOutDir(busy)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(opts(busy, files[0]))
	inputErr("a directory another prepare is writing", err, "another data prepare is writing it")
	unlock()

	sym, hard := filepath.Join(in, "sym.txt"), filepath.Join(in, "hard.txt")
	os.Symlink(files[0], sym)
	os.Link(files[0], hard)
	s, err := Prepare(opts(t.TempDir(), files[0], sym, hard))
	if err != nil || s.Files != 1 || s.Docs != 1 {
		t.Errorf("a file and two links to it: %+v, %v; want one file read", s, err)
	}

	out := t.TempDir()
	if _, err := Prepare(opts(out, files[0])); err != nil {
		t.Fatal(err)
	}
	before := readSplit(t, out, "train")
	empty := filepath.Join(in, "empty.txt")
	os.WriteFile(empty, []byte("\ufeff"), 0o644)
	_, err = Prepare(opts(out, empty))
	inputErr("inputs without text", err, "hold no text")
	if !slices.Equal(readSplit(t, out, "train"), before) {
		t.Error("inputs without text replaced the earlier set")
	}

	most := opts(t.TempDir(), files[0])
	most.ValFraction = 0.9
	if s, err := Prepare(most); err != nil || s.TrainTokens == 0 || float64(s.TrainTokens)/float64(s.Tokens()) > 0.2 {
		t.Errorf("val fraction 0.9: %+v, %v; want about a tenth for training", s, err)
	}

	bad := filepath.Join(in, "bad.txt")
	os.WriteFile(bad, []byte("abc \xff\xfe def"), 0o644)
	_, err = CharTokenizerOf([]string{bad})
	inputErr("invalid UTF-8 for a char vocabulary", err, "not valid UTF-8")
}

// A .jsonl corpus whose documents are all empty holds no text, as an empty
// file holds none: it is refused, where it gave shards of end-of-text
// tokens alone. One document with text among empty ones is a corpus.
func TestPrepareEmptyDocuments(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{strings.Repeat("{\"text\": \"\"}\n", 300), ": the 300 documents are all empty)"},
		{"{\"text\": \"\"}\n", ": the one document is empty)"},
	} {
		in := writeTemp(t, dir, "empty.jsonl", c.body)
		_, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{in}, OutDir: filepath.Join(dir, "out"), Workers: 1})
		var ie *InputError
		if want := "the inputs hold no text (" + in + c.want; !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
			t.Errorf("%d bytes of empty documents: %v, want an InputError with %q", len(c.body), err, want)
		}
	}
	in := writeTemp(t, dir, "some.jsonl", "{\"text\": \"\"}\n{\"text\": \"ab\"}\n{\"text\": \"\"}\n")
	st, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{in}, OutDir: filepath.Join(dir, "out"), Workers: 1})
	if err != nil || st.Docs != 3 || st.Tokens() != 5 {
		t.Errorf("one document of text among empty ones: %+v, %v; want 3 documents, 5 tokens", st, err)
	}
	// The pieces the text came in, for the warning of a split far from its share.
	if st.Pieces != 3 || st.LargestPiece != int64(len("{\"text\": \"ab\"}\n")) {
		t.Errorf("pieces %d, the largest %d bytes; want 3 and the line of text's", st.Pieces, st.LargestPiece)
	}
}

// An input whose size is not what it was when opened changed while it was
// read (a file still being written, or truncated) and is refused.
func TestPrepareInputChanged(t *testing.T) {
	r := &prepReader{unitSize: 256, send: func(prepJob) error { return nil }}
	text := strings.Repeat("to be or not to be. ", 100)
	if err := r.readFrom(strings.NewReader(text), int64(len(text)), "whole.txt", false); err != nil {
		t.Fatalf("an input read whole: %v", err)
	}
	var ie *InputError
	for _, name := range []string{"cut.txt", "cut.jsonl"} {
		err := r.readFrom(strings.NewReader(`{"text": "a"}`+"\n"), 1000, name, strings.HasSuffix(name, ".jsonl"))
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "input "+name+" changed while it was read (1000 bytes when opened, 14 read)") {
			t.Errorf("%s shorter than when opened: %v", name, err)
		}
	}
	if err := r.readFrom(strings.NewReader(text), -1, "pipe.txt", false); err != nil {
		t.Errorf("an input of unknown size: %v", err)
	}
}

// A corpus file named .JSONL (any case) is read as JSON lines of documents,
// not as raw text with the JSON around it.
func TestJSONLInAnyCase(t *testing.T) {
	const text = `{"text": "one"}` + "\n" + `{"text": "two"}` + "\n"
	for name, want := range map[string]string{"a.jsonl": "one|two", "b.JSONL": "one|two", "c.JsonL": "one|two", "e.txt": text, "jsonl": text} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var docs []string
		if err := readDocuments(path, func(d string) error { docs = append(docs, d); return nil }); err != nil || strings.Join(docs, "|") != want {
			t.Errorf("%s: documents %q, %v; want %q", name, docs, err, want)
		}
	}
}

// readDocuments calls fn with each document of a corpus file, in order:
// every non-blank line of a JSON lines file, or the whole of any other file
// (without a leading byte order mark), as ReadCorpusFile reads them.
func readDocuments(path string, fn func(doc string) error) error {
	f, jsonl, err := openCorpusFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if !jsonl {
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		return fn(string(TrimBOM(b)))
	}
	return JSONLDocuments(f, path, fn)
}

// safeUnits cuts s into the pieces nextUnit gives.
func safeUnits(s string, size int, cuts Cuts) []string {
	var out []string
	for len(s) > 0 {
		n := nextUnit(s, size, cuts)
		out, s = append(out, s[:n]), s[n:]
	}
	return out
}

// A .json corpus file is JSON lines when its first non-blank line is a
// {"text": ...} object (dataset tools' to_json writes JSON lines under that
// name), and text otherwise (a code corpus's .json files); a JSON array of
// such objects is refused with the way to convert it. Every reader of
// corpus files (prepare, the char vocabulary, BPE training, readDocuments)
// takes the same view.
func TestJSONCorpusFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, body string
		docs       []string // nil: refused with the error refused
		refused    string
	}{
		{"lines.json", "{\"id\": 1, \"text\": \"one\"}\n{\"text\": \"two\"}\n", []string{"one", "two"}, ""},
		{"bom.json", "\ufeff\r\n  \n{\"text\": \"a\"}\r\n", []string{"a"}, ""},
		{"pretty.json", "{\n  \"text\": \"x\"\n}\n", []string{"{\n  \"text\": \"x\"\n}\n"}, ""},
		{"package.json", `{"name": "pkg", "version": 1}`, []string{`{"name": "pkg", "version": 1}`}, ""},
		{"number.json", `{"text": 5}`, nil, `number.json:1: want a JSON object {"text": ...}: "text" holds a number`},
		{"list.json", "[1, 2]\n", []string{"[1, 2]\n"}, ""},
		{"records.json", "\ufeff[\n {\"text\": \"a\"},\n {\"text\": \"b\"}\n]\n", nil, "records.json is a JSON array of {\"text\": ...} objects: a corpus takes them as JSON lines"},
	} {
		path := writeTemp(t, dir, tt.name, tt.body)
		var docs []string
		err := readDocuments(path, func(d string) error { docs = append(docs, d); return nil })
		if tt.docs == nil {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.refused) {
				t.Errorf("%s: got %v, want %q", tt.name, err, tt.refused)
			}
			for _, err := range []error{
				func() error { _, err := CharTokenizerOf([]string{path}); return err }(),
				func() error { _, err := countPieces(path, map[string]int64{}); return err }(),
				func() error {
					_, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{path}, OutDir: filepath.Join(dir, "out-"+tt.name)})
					return err
				}(),
			} {
				if err == nil || !strings.Contains(err.Error(), tt.refused) {
					t.Errorf("%s: a reader took it: %v", tt.name, err)
				}
			}
			continue
		}
		if err != nil || !slices.Equal(docs, tt.docs) {
			t.Errorf("%s: documents %q, %v; want %q", tt.name, docs, err, tt.docs)
			continue
		}
		out := filepath.Join(dir, "out-"+tt.name)
		if _, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{path}, OutDir: out, Workers: 1}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want []int
		chars := map[rune]bool{}
		for _, d := range tt.docs {
			want = append(append(want, byteEOTTokenizer{}.Encode(d)...), 256)
			for _, r := range d {
				chars[r] = true
			}
		}
		if got := readSplit(t, out, "train"); !slices.Equal(got, want) {
			t.Errorf("%s: shards hold %v, want %v", tt.name, got, want)
		}
		ct, err := CharTokenizerOf([]string{path})
		if err != nil || ct.VocabSize() != len(chars) {
			t.Errorf("%s: char vocabulary of %d (%v), want the %d characters of %q", tt.name, ct.VocabSize(), err, len(chars), tt.docs)
		}
		counts := map[string]int64{}
		_, err = countPieces(path, counts)
		braces := false
		for p := range counts {
			braces = braces || strings.ContainsAny(p, "{[")
		}
		if err != nil || braces != strings.ContainsAny(tt.docs[0], "{[") {
			t.Errorf("%s: BPE training counted %v (%v)", tt.name, counts, err)
		}
	}
}

// A file whose name holds glob characters is itself, before any pattern;
// a pattern still matches the files it names.
func TestExpandInputsLiteralFirst(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"x[1].txt", "x1.txt", "a*.txt"} {
		os.WriteFile(filepath.Join(dir, name), []byte("text"), 0o644)
	}
	for in, want := range map[string][]string{
		"x[1].txt":  {"x[1].txt"},
		"x[12].txt": {"x1.txt"},
		"a*.txt":    {"a*.txt"},
		"x*.txt":    {"x1.txt", "x[1].txt"},
	} {
		got, err := ExpandInputs([]string{filepath.Join(dir, in)})
		for i := range got {
			got[i] = filepath.Base(got[i])
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ExpandInputs(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// A wildcard skips hidden names, as the shell's does: a corpus of *.txt
// copied from a Mac holds ._name.txt resource forks, which are not text.
// A pattern whose name begins with '.' takes them.
func TestExpandInputsSkipsHidden(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.txt", "._a.txt", ".git/x.txt", "sub/b.txt", ".only/.c.txt"} {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, []byte("text"), 0o644)
	}
	for in, want := range map[string][]string{
		"*.txt":    {"a.txt"},
		".*.txt":   {"._a.txt"},
		"?_a.txt":  nil,
		"*/*.txt":  {"sub/b.txt"},
		".*/*.txt": {".git/x.txt"},
		"._a.txt":  {"._a.txt"},
	} {
		got, err := ExpandInputs([]string{filepath.Join(dir, in)})
		for i := range got {
			got[i], _ = filepath.Rel(dir, got[i])
		}
		if want == nil { // hidden matches alone: an error that names one
			if err == nil || !strings.Contains(err.Error(), "only hidden files match") || !strings.Contains(err.Error(), "._a.txt") {
				t.Errorf("ExpandInputs(%s) = %v, %v; want an error naming ._a.txt", in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ExpandInputs(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := ExpandInputs([]string{filepath.Join(dir, ".only", ".*")}); err != nil || len(got) != 1 {
		t.Errorf("ExpandInputs(.only/.*) = %v, %v; want .only/.c.txt", got, err)
	}
}

// The validation share is a share of the bytes, whatever the units' sizes:
// units alternately long and short (a chunk cut into a unit and its rest)
// gave 12.5% for 10% when units were counted.
func TestValShareOfBytes(t *testing.T) {
	for _, f := range []float64{0.005, 0.1, 0.5} {
		r := &prepReader{valFraction: f, unitSize: 4000}
		var all, val int
		for i := range 5000 {
			n := []int{4000, 96}[i%2]
			if r.isVal(n) {
				val += n
			}
			all += n
		}
		if share := float64(val) / float64(all); math.Abs(share-f) > 0.002+f/20 {
			t.Errorf("fraction %g: validation share %.4f of the bytes", f, share)
		}
	}
	if (&prepReader{}).isVal(100) {
		t.Error("fraction 0 selected a unit")
	}
}

// Documents of any length are taken for validation alike: of .jsonl
// documents randomly 100 or 1,900 bytes long, a share f of each kind (a
// rule that kept the share so far just below f took 61% of the short
// ones and 7% of the long for 10%).
func TestValUnbiasedByLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, f := range []float64{0.05, 0.1, 0.3} {
		sizes := make([]int, 20000)
		var total int64
		for i := range sizes {
			sizes[i] = []int{100, 1900}[rng.IntN(2)]
			total += int64(sizes[i])
		}
		r := &prepReader{valFraction: f, unitSize: unitBytes(total, f)}
		var n, val [2]int
		var valBytes int64
		for _, size := range sizes {
			k := size / 1000
			n[k]++
			if r.isVal(size) {
				val[k]++
				valBytes += int64(size)
			}
		}
		for k, name := range []string{"short", "long"} {
			if got := float64(val[k]) / float64(n[k]); math.Abs(got-f) > 0.1*f+0.005 {
				t.Errorf("fraction %g: %.3f of the %s documents in validation", f, got, name)
			}
		}
		if share := float64(valBytes) / float64(total); math.Abs(share-f) > 0.1*f {
			t.Errorf("fraction %g: validation share %.4f of the bytes", f, share)
		}
	}
}

func writeTemp(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A .jsonl line that is not UTF-8 is refused by line (the JSON decoder put
// U+FFFD for its bytes, so a byte tokenizer trained on other bytes than
// the file's), and a type error names its article right.
func TestJSONLTextErrors(t *testing.T) {
	for line, want := range map[string]string{
		"{\"text\": \"caf\xe9\"}": "f.jsonl:3: the line is not valid UTF-8",
		`{"text": ["a", "b"]}`:    `"text" holds an array, not a string`,
		`{"text": 12}`:            `"text" holds a number, not a string`,
	} {
		if _, err := JSONLText(line, "f.jsonl", 3); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", line, err, want)
		}
	}
}

// A long .jsonl line that is not an object is refused from its first
// bytes, before it is read whole (a minified JSON array or a text file of
// gigabytes named .jsonl, one line, took some times its size in memory to
// be refused); later lines too, and by prepare, the char vocabulary and
// pretraining's reader alike.
func TestJSONLLongLineRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	obj := `{"text": "a document"}` + "\n"
	for name, c := range map[string]struct{ text, want string }{
		"array.jsonl": {"[" + strings.Repeat(`{"text": "abc"}, `, 20000) + `{"text": "abc"}]`, "array.jsonl:1: want a JSON object {\"text\": ...}: the line begins a JSON array"},
		"text.jsonl":  {"\ufeff" + strings.Repeat("plain text without a newline ", 5000), "text.jsonl:1: want a JSON object {\"text\": ...}: the line begins with 'p'"},
		"later.jsonl": {obj + obj + "  " + strings.Repeat("x", 100000), "later.jsonl:3: want a JSON object {\"text\": ...}: the line begins with 'x'"},
	} {
		path := writeTemp(t, dir, name, c.text)
		var ie *InputError
		err := ReadCorpusFile(path, 0, func(string, bool) error { return nil })
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: read: %v; want %q", name, err, c.want)
		}
		if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{path}, OutDir: filepath.Join(dir, "out-"+name)}); !errors.As(err, &ie) || strings.Contains(err.Error(), "read "+path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: prepare: %v; want %q", name, err, c.want)
		}
		if _, err := CharTokenizerOf([]string{path}); !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: char vocabulary: %v; want %q", name, err, c.want)
		}
	}
	// A long line that is an object, and short lines of other JSON, read as before.
	long := writeTemp(t, dir, "long.jsonl", `{"text": "`+strings.Repeat("y", 100000)+`"}`)
	n := 0
	if err := ReadCorpusFile(long, 0, func(s string, _ bool) error { n += len(s); return nil }); err != nil || n != 100000 {
		t.Errorf("a long object line: %d bytes, %v", n, err)
	}
	short := writeTemp(t, dir, "short.jsonl", obj+"[1, 2]\n")
	if err := ReadCorpusFile(short, 0, func(string, bool) error { return nil }); err == nil || !strings.Contains(err.Error(), "short.jsonl:2: want a JSON object {\"text\": ...}: the line is a JSON array") {
		t.Errorf("a short array line: %v", err)
	}
}

// A token shard named as a text input is refused: its header and ids read
// as characters made a corpus of noise without a word.
func TestShardIsNotText(t *testing.T) {
	dir := t.TempDir()
	in := writeTemp(t, dir, "t.txt", strings.Repeat("some text to shard. ", 200))
	if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{in}, OutDir: filepath.Join(dir, "sh"), ValFraction: 0.1}); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "sh", "train_000.bin")
	var ie *InputError
	if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{shard}, OutDir: filepath.Join(dir, "again")}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "is a token shard") {
		t.Errorf("prepare of a shard: %v", err)
	}
	if _, err := TrainBPE([]string{shard}, 300, nil); !errors.As(err, &ie) || !strings.Contains(err.Error(), "is a token shard") {
		t.Errorf("tokenizer train on a shard: %v", err)
	}
}

// A directory is a name, never a pattern: prepared into sh[1] (a pattern
// that matches sh1), the shards of sh1 stay, and sh[1] gets its own.
func TestPrepareDirNameWithPatternCharacters(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("some text to shard. ", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	plain, pattern := filepath.Join(dir, "sh1"), filepath.Join(dir, "sh[1]")
	opts := PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{text}, OutDir: plain, ShardTokens: 1000, Workers: 1}
	if _, err := Prepare(opts); err != nil {
		t.Fatal(err)
	}
	before, _ := ShardFiles(plain, "train")
	opts.OutDir, opts.ShardTokens = pattern, 1<<20
	if _, err := Prepare(opts); err != nil {
		t.Fatal(err)
	}
	after, _ := ShardFiles(plain, "train")
	own, _ := ShardFiles(pattern, "train")
	if len(before) != 4 || !slices.Equal(after, before) || len(own) != 1 || filepath.Dir(own[0]) != pattern {
		t.Fatalf("sh1's shards %v, then %v after a prepare into sh[1], which has %v", before, after, own)
	}
}

// A corpus of books, files of 100-500 KB: the validation split is a sample
// of the text, not the files' last chunks (short, they were taken first,
// and made most of it), and every document ends with the end-of-text
// token in train, also one whose last chunk went to val (its train text
// ran into the next document's).
func TestPrepareValOfManyDocuments(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	var files []string
	total := 0
	for i := range 20 {
		var b strings.Builder
		for b.Len() < 100_000+rng.IntN(400_000) {
			fmt.Fprintf(&b, "%s ", []string{"the", "cat", "sat", "on", "a", "mat"}[rng.IntN(6)])
		}
		total += b.Len()
		files = append(files, writeTemp(t, dir, fmt.Sprintf("book%02d.txt", i), b.String()))
	}
	out := filepath.Join(dir, "out")
	if _, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: files, OutDir: out, ValFraction: 0.1, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	train, val := readSplit(t, out, "train"), readSplit(t, out, "val")
	count := func(ids []int) (n int) {
		for _, id := range ids {
			if id == 256 {
				n++
			}
		}
		return n
	}
	share := float64(len(val)-count(val)) / float64(total)
	if count(train) != len(files) || count(val) > 6 || share < 0.07 || share > 0.13 {
		t.Errorf("20 books at 0.1: %d end-of-text tokens in train (want 20), %d in val (want about 2: the books that end there), val share %.3f",
			count(train), count(val), share)
	}
}

// No chunk is longer than maxRun, however the runs without a cut point
// fall: a run that starts late in a chunk is cut at maxRun after it too.
func TestReadChunksRunLimit(t *testing.T) {
	run := strings.Repeat("\u3042", maxRun) // 3 MiB, no space
	for _, text := range []string{run, "a few words " + run, strings.Repeat("x ", 400_000) + run + " end"} {
		var parts []string
		err := ReadChunks(strings.NewReader(text), 1<<10, SpaceCuts, func(s string) error {
			if len(s) > maxRun {
				return fmt.Errorf("a chunk of %d bytes", len(s))
			}
			parts = append(parts, s)
			return nil
		})
		if err != nil || strings.Join(parts, "") != text {
			t.Errorf("%q...: %v", trunc(text), err)
		}
	}
}

// A run without cut points, one unit far longer than the others, goes by
// the running share: in a window it took 93% of the split at 0.1.
func TestPrepareLongUnitNotValWhole(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("a few words ", 8_000) + strings.Repeat("acgt", 175_000) + " end"
	in := writeTemp(t, dir, "runmid.txt", text)
	st, err := Prepare(PrepareOptions{Tokenizer: byteEOTTokenizer{}, Inputs: []string{in}, OutDir: filepath.Join(dir, "out"), ValFraction: 0.1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if share := float64(st.ValTokens) / float64(st.Tokens()); share > 0.2 {
		t.Errorf("100 KB of words and a 700 KB run at 0.1: val share %.3f", share)
	}
}

// A .jsonl line's document is the string under the key "text" exactly:
// "Text" is another field (Go's struct decoding matched it, and a later
// "TEXT" overrode "text"); null, non-objects and missing keys are named.
func TestJSONLTextExactKey(t *testing.T) {
	for line, want := range map[string]string{
		`{"text":"real","TEXT":"shadow"}`:          "real",
		`{"Text":"shadow","text":"real"}`:          "real",
		`{"meta":{"text":"inner"},"text":"outer"}`: "outer",
	} {
		if got, err := JSONLText(line, "f.jsonl", 1); err != nil || got != want {
			t.Errorf("%s: %q (%v), want %q", line, got, err, want)
		}
	}
	for line, want := range map[string]string{
		`{"Text":"upper only"}`:  `no "text" field`,
		`null`:                   "the line is JSON null",
		`["text"]`:               "the line is a JSON array",
		`"text"`:                 "the line is a JSON string",
		`{"text": null}`:         `"text" is null, not a string`,
		`{"text": "unterminated`: "unexpected end of JSON input",
	} {
		if _, err := JSONLText(line, "f.jsonl", 2); err == nil || !strings.Contains(err.Error(), "f.jsonl:2: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", line, err, want)
		}
	}
}

// A long .jsonl document is encoded in pieces cut where tokenization does
// not change: the same ids as the whole, for each kind of tokenizer; a run
// past maxRun without a cut point is cut as ReadChunks cuts a text file.
func TestEncodePieces(t *testing.T) {
	text := strings.Repeat("Some words, and more of them; numbers 12345 too.\n\n  Indented  ", 3000) + "\u3042\u3044 end"
	bpe, err := TrainBPE([]string{writeTemp(t, t.TempDir(), "c.txt", text)}, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	char, err := CharTokenizerOf([]string{writeTemp(t, t.TempDir(), "c.txt", text)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []Tokenizer{bpe, char, ByteTokenizer{}} {
		want := appendIDs(nil, tok.Encode(text))
		for _, size := range []int{16, 1000, 1 << 20} {
			if got := encodePieces(nil, tok, CutsOf(tok), text, size); !slices.Equal(got, want) {
				t.Errorf("%s, pieces of %d: %d ids differ from the whole's %d", tok.Name(), size, len(got), len(want))
			}
		}
	}
	run := strings.Repeat("x", maxRun+100) // no cut point
	var fromChunks []int32
	ReadChunks(strings.NewReader(run), 1000, WhitespaceCuts, func(s string) error {
		fromChunks = appendIDs(fromChunks, bpe.Encode(s))
		return nil
	})
	if got := encodePieces(nil, bpe, WhitespaceCuts, run, 1000); !slices.Equal(got, fromChunks) {
		t.Errorf("a run past maxRun: %d ids, a text file's chunks give %d", len(got), len(fromChunks))
	}
}

// A UTF-16 text corpus is refused, as .jsonl corpora and task files are,
// by data prepare, tokenizer training and the corpora read into memory:
// its NULs were read as characters. So is one without a byte order mark,
// and UTF-32.
func TestTextCorpusRefusesUTF16(t *testing.T) {
	for _, enc := range wideEncodings {
		b := enc.encode(strings.Repeat("some text, in UTF-16. ", 50))
		dir := t.TempDir()
		path := filepath.Join(dir, "u16.txt")
		os.WriteFile(path, b, 0o644)
		var ie *InputError
		_, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{path}, OutDir: filepath.Join(dir, "sh")})
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "is "+enc.says) {
			t.Errorf("%s: data prepare: %v, want it refused as %s", enc.name, err, enc.says)
		}
		if _, err := TrainBPE([]string{path}, 300, nil); !errors.As(err, &ie) || !strings.Contains(err.Error(), "is "+enc.says) {
			t.Errorf("%s: tokenizer train: %v, want it refused as %s", enc.name, err, enc.says)
		}
		if err := readDocuments(path, func(string) error { return nil }); !errors.As(err, &ie) || !strings.Contains(err.Error(), path+" is "+enc.says) {
			t.Errorf("%s: readDocuments: %v, want it refused as %s", enc.name, err, enc.says)
		}
		if _, err := CharTokenizerOf([]string{path}); !errors.As(err, &ie) || !strings.Contains(err.Error(), path+" is "+enc.says) {
			t.Errorf("%s: the char vocabulary: %v, want it refused as %s", enc.name, err, enc.says)
		}
		err = ReadChunks(bytes.NewReader(b), 1<<10, CharCuts, func(string) error { return nil }) // a pipe: no name to give
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the text is "+enc.says) {
			t.Errorf("%s: ReadChunks: %v, want it refused as %s", enc.name, err, enc.says)
		}
	}
}

// A .json file of JSON lines whose first document is longer than what is
// read to find the first line is still JSON lines.
func TestJSONCorpusLongFirstLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 65 MiB")
	}
	dir := t.TempDir()
	big := strings.Repeat("x", jsonSniffMax+1<<20)
	for _, head := range []string{`{"text": "`, `{"id": 7, "text": "`} {
		path := writeTemp(t, dir, "big.json", "\ufeff"+head+big+"\"}\n{\"text\": \"two\"}\n")
		var docs []int
		err := readDocuments(path, func(d string) error { docs = append(docs, len(d)); return nil })
		if err != nil || len(docs) != 2 || docs[0] != len(big) {
			t.Errorf("%s...: documents of %v bytes (%v), want 2, the first of %d", head, docs, err, len(big))
		}
	}
}

// A file smaller than a chunk is read in a buffer of its own size: a glob
// of many small files took a chunk's buffer (1 MiB) each, most of the time
// of loading them. The chunks are the text as it is.
func TestReadChunksSmallFileBuffer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.txt")
	text := strings.Repeat("to be or not to be ", 50)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var got strings.Builder
		if err := ReadChunks(f, 1<<20, WhitespaceCuts, func(c string) error { got.WriteString(c); return nil }); err != nil {
			t.Fatal(err)
		}
		return got.String()
	}
	if got := read(); got != text {
		t.Fatalf("chunks %q, want the file's text", got)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		read()
	}
	runtime.ReadMemStats(&after)
	if perFile := (after.TotalAlloc - before.TotalAlloc) / 100; perFile > 64<<10 {
		t.Errorf("%d bytes allocated to read a %d-byte file, want about its size", perFile, len(text))
	}
}
