package data

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// sharedPath returns the path in env, or def (relative to this package:
// shared/ is a sibling of the repository root).
func sharedPath(env, def string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	return def
}

// gpt2Vocab loads the GPT-2 vocabulary or skips the test.
func gpt2Vocab(tb testing.TB) *BPE {
	tb.Helper()
	dir := sharedPath("GPTCTL_GPT2_VOCAB", "../../shared/data/tokenizer/gpt2")
	if _, err := os.Stat(filepath.Join(dir, GPT2EncoderFile)); err != nil {
		tb.Skipf("no GPT-2 vocabulary at %s (set GPTCTL_GPT2_VOCAB to a directory holding encoder.json and vocab.bpe)", dir)
	}
	tok, err := LoadGPT2BPE(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

type bpeCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

func readBPECases(t *testing.T) []bpeCase {
	path := sharedPath("GPTCTL_BPE_CASES", "../../shared/reference/bpe/gpt2-cases.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no GPT-2 reference cases (set GPTCTL_BPE_CASES): %v", err)
	}
	defer f.Close()
	var cases []bpeCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var c bpeCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestGPT2BPEReferenceCases(t *testing.T) {
	tok := gpt2Vocab(t)
	cases := readBPECases(t)
	if tok.VocabSize() != 50257 || tok.EOT() != 50256 || tok.Name() != "gpt2-bpe" {
		t.Fatalf("vocab %d eot %d name %q, want 50257, 50256, gpt2-bpe", tok.VocabSize(), tok.EOT(), tok.Name())
	}
	for i, c := range cases {
		for pass := 0; pass < 2; pass++ { // the second pass hits the cache
			got := tok.Encode(c.Text)
			if !slices.Equal(got, c.IDs) && !(len(got) == 0 && len(c.IDs) == 0) {
				t.Fatalf("case %d %q:\n got %v\nwant %v", i, trunc(c.Text), got, c.IDs)
			}
		}
		if back := tok.Decode(c.IDs); back != c.Text {
			t.Errorf("case %d: decode %q, want %q", i, trunc(back), trunc(c.Text))
		}
	}
	t.Logf("%d cases match", len(cases))
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestGPT2BPESpecial(t *testing.T) {
	tok := gpt2Vocab(t)
	text := "a<|endoftext|>b<|endoftext|><|endoftext|>"
	got := tok.EncodeWithSpecial(text)
	want := slices.Concat(tok.Encode("a"), []int{50256}, tok.Encode("b"), []int{50256, 50256})
	if !slices.Equal(got, want) {
		t.Fatalf("EncodeWithSpecial = %v, want %v", got, want)
	}
	if plain := tok.Encode(text); slices.Contains(plain, 50256) {
		t.Fatalf("Encode mapped the literal to EOT: %v", plain)
	}
	if tok.Decode(got) != text {
		t.Fatalf("decode %q", tok.Decode(got))
	}
}

func TestGPT2BPERoundTripOddInput(t *testing.T) {
	tok := gpt2Vocab(t)
	long := strings.Repeat("abcdefgh", 5000) // a 40 KB piece: the heap merge
	inputs := []string{"", "\xff", "a\xffb", "\xe2\x82", "é\x80 '\xc3", "\x00\x01\t\r\n", long, strings.Repeat("\u3042", 3000)}
	for _, s := range inputs {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Errorf("round trip of %q: got %q", trunc(s), trunc(got))
		}
	}
	// The heap merge must agree with the short merge on a piece both can do.
	short := tok.Encode("internationalization")
	sym := make([]int32, 0, 100)
	for _, c := range []byte("internationalization") {
		sym = append(sym, tok.byteID[c])
	}
	heap := tok.merges.applyHeap(sym)
	if len(heap) != len(short) {
		t.Fatalf("heap merge %v, short merge %v", heap, short)
	}
	if !utf8.ValidString(tok.Decode(tok.Encode(long))) {
		t.Fatal("invalid UTF-8 from valid input")
	}
}

func TestBPESaveLoad(t *testing.T) {
	tok := gpt2Vocab(t)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadGPT2BPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello, world! <|endoftext|> Ünïcödé 1234"
	if a, b := tok.EncodeWithSpecial(text), back.EncodeWithSpecial(text); !slices.Equal(a, b) {
		t.Fatalf("after save/load: %v, want %v", b, a)
	}
	if back.VocabSize() != tok.VocabSize() || back.EOT() != tok.EOT() {
		t.Fatalf("vocab %d eot %d", back.VocabSize(), back.EOT())
	}
}

func TestLoadGPT2BPEErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadGPT2BPE(dir); err == nil || !strings.Contains(err.Error(), "encoder.json") {
		t.Fatalf("missing files: %v", err)
	}
	os.WriteFile(filepath.Join(dir, GPT2EncoderFile), []byte(`{"a": 0, "b": 5}`), 0o644)
	if _, err := LoadGPT2BPE(dir); err == nil || !strings.Contains(err.Error(), "ids must be") {
		t.Fatalf("gap in ids: %v", err)
	}
	os.WriteFile(filepath.Join(dir, GPT2EncoderFile), []byte(`{"a": 0, "b": 1}`), 0o644)
	os.WriteFile(filepath.Join(dir, GPT2MergesFile), []byte("#version: 0.2\na b\n"), 0o644)
	if _, err := LoadGPT2BPE(dir); err == nil || !strings.Contains(err.Error(), `token "ab" is not in`) {
		t.Fatalf("merge without token: %v", err)
	}
	os.WriteFile(filepath.Join(dir, GPT2MergesFile), []byte("#version: 0.2\n"), 0o644)
	if _, err := LoadGPT2BPE(dir); err == nil || !strings.Contains(err.Error(), "no token for byte") {
		t.Fatalf("missing bytes: %v", err)
	}
}

// With several special tokens, EncodeWithSpecial takes at each point the
// first of them in the text, the longest on a tie, as a scan of the text
// for every token after every match does (the reference below), on random
// texts of overlapping specials; it searches for each only after passing
// the match it found (a token that never occurs used to be searched for
// to the end after every other's match).
func TestEncodeWithSeveralSpecials(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "c.txt")
	if err := os.WriteFile(corpus, []byte(strings.Repeat("abc <a> <ab> ba ", 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := TrainBPE([]string{corpus}, 280, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok.specials = map[string]int{"<a>": 1000, "<ab>": 1001, "<a": 1002, "b>": 1003, "<never>": 1004}
	reference := func(text string) []int {
		var dst []int
		for {
			at, lit := -1, ""
			for s := range tok.specials {
				if k := strings.Index(text, s); k >= 0 && (at < 0 || k < at || k == at && len(s) > len(lit)) {
					at, lit = k, s
				}
			}
			if at < 0 {
				return append(dst, tok.Encode(text)...)
			}
			dst = append(append(dst, tok.Encode(text[:at])...), tok.specials[lit])
			text = text[at+len(lit):]
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	parts := []string{"a", "b", "<", ">", "<a>", "<ab>", " ", "c", "<a", "b>"}
	for range 2000 {
		var b strings.Builder
		for n := r.IntN(20); n > 0; n-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		if got, want := tok.EncodeWithSpecial(b.String()), reference(b.String()); !slices.Equal(got, want) {
			t.Fatalf("%q: %v, want %v", b.String(), got, want)
		}
	}
}

// A vocabulary entry of byte-level text that no merge makes (a merges file
// cut short) is text: it decodes to its bytes and is never encoded to; it
// used to be taken for a special token whose literal was its file text, so
// that "Ġthe" decoded as "Ġthe" and encoding matched that literal.
func TestUnreachableTokenIsText(t *testing.T) {
	dir := t.TempDir()
	enc := map[string]int{}
	for b := range 256 {
		enc[string(byteRune[b])] = b
	}
	enc["Ġt"], enc["Ġthe"], enc[EndOfText] = 256, 257, 258
	js, _ := json.Marshal(enc)
	os.WriteFile(filepath.Join(dir, GPT2EncoderFile), js, 0o644)
	os.WriteFile(filepath.Join(dir, GPT2MergesFile), []byte("#version: 0.2\nĠ t\n"), 0o644)
	tok, err := LoadGPT2BPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode([]int{257}); got != " the" {
		t.Errorf("Decode(Ġthe) = %q, want \" the\"", got)
	}
	if _, special := tok.specials["Ġthe"]; special || tok.EOT() != 258 {
		t.Errorf("specials %v, end of text %d", tok.specials, tok.EOT())
	}
	if got := tok.EncodeWithSpecial("Ġthe the"); slices.Contains(got, 257) {
		t.Errorf("EncodeWithSpecial(%q) = %v: encoded to the unreachable token", "Ġthe the", got)
	}
	if got, want := tok.Encode(" the"), []int{256, int('h'), int('e')}; !slices.Equal(got, want) {
		t.Errorf("Encode(\" the\") = %v, want %v (Ġt, then the bytes: no merge makes Ġthe)", got, want)
	}
}
