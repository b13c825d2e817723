package data

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hfFile reads dir/tokenizer.json as Hugging Face's tokenizers library
// would see it.
func hfFile(t *testing.T, dir string) (f struct {
	Version      string            `json:"version"`
	AddedTokens  []json.RawMessage `json:"added_tokens"`
	Normalizer   json.RawMessage   `json:"normalizer"`
	PreTokenizer json.RawMessage   `json:"pre_tokenizer"`
	Decoder      json.RawMessage   `json:"decoder"`
	Model        struct {
		Type   string         `json:"type"`
		Vocab  map[string]int `json:"vocab"`
		Merges []string       `json:"merges"`
	} `json:"model"`
}) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, CharTokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("tokenizer.json: %v\n%s", err, raw)
	}
	return f
}

// A char tokenizer is saved as a Hugging Face tokenizer.json (a BPE of its
// characters, no merges, no pre-tokenizer, the Fuse decoder) and loads back
// with the same ids, whatever characters it holds.
func TestCharTokenizerHFForm(t *testing.T) {
	text := "Hi \"there\"\\ <a&b>\n\té€😀\x00\r"
	tok := NewCharTokenizer(text)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveHF(dir, 64); err != nil {
		t.Fatal(err)
	}
	f := hfFile(t, dir)
	if f.Version != "1.0" || f.Model.Type != "BPE" || f.Model.Merges == nil || len(f.Model.Merges) != 0 ||
		string(f.PreTokenizer) != "null" || string(f.Normalizer) != "null" || !strings.Contains(string(f.Decoder), `"Fuse"`) {
		t.Errorf("tokenizer.json is not a char BPE: %+v", f)
	}
	if len(f.Model.Vocab) != tok.VocabSize() {
		t.Fatalf("vocab has %d entries, want %d", len(f.Model.Vocab), tok.VocabSize())
	}
	for s, id := range f.Model.Vocab {
		if tok.Decode([]int{id}) != s {
			t.Errorf("vocab %q -> %d, the tokenizer decodes %d as %q", s, id, id, tok.Decode([]int{id}))
		}
	}
	got, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name() != "char" || !SameVocabulary(got, tok) || !slices.Equal(got.Encode(text), tok.Encode(text)) {
		t.Errorf("loaded %s tokenizer of %d: not the saved one", got.Name(), got.VocabSize())
	}
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, hfTokenizerConfigFile))
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg["tokenizer_class"] != "PreTrainedTokenizerFast" || cfg["model_max_length"] != 64.0 {
		t.Errorf("tokenizer_config.json: %s (%v)", raw, err)
	}
}

// The byte tokenizer's tokenizer.json maps GPT-2's byte symbols to their
// byte values behind a ByteLevel pre-tokenizer, and loads back as the byte
// tokenizer.
func TestByteTokenizerHFForm(t *testing.T) {
	dir := t.TempDir()
	if err := (ByteTokenizer{}).Save(dir); err != nil {
		t.Fatal(err)
	}
	f := hfFile(t, dir)
	if f.Model.Type != "BPE" || len(f.Model.Vocab) != 256 || len(f.Model.Merges) != 0 ||
		!strings.Contains(string(f.PreTokenizer), `"ByteLevel"`) || !strings.Contains(compactJSON(t, f.PreTokenizer), `"use_regex":false`) ||
		!strings.Contains(string(f.Decoder), `"ByteLevel"`) {
		t.Errorf("tokenizer.json is not a byte-level BPE of the 256 bytes: %+v", f)
	}
	if f.Model.Vocab["Ġ"] != ' ' || f.Model.Vocab["a"] != 'a' || f.Model.Vocab["Ā"] != 0 {
		t.Errorf("vocab: Ġ -> %d, a -> %d, Ā -> %d; want the byte values 32, 97, 0", f.Model.Vocab["Ġ"], f.Model.Vocab["a"], f.Model.Vocab["Ā"])
	}
	got, err := LoadTokenizer(dir)
	if err != nil || got.Name() != "byte" {
		t.Fatalf("loaded %v, %v; want the byte tokenizer", got, err)
	}
}

// Files gptctl wrote before the Hugging Face form still load.
func TestCharTokenizerEarlierForm(t *testing.T) {
	for file, want := range map[string]string{`{"type": "char", "chars": "ab"}`: "char", `{"type": "byte"}`: "byte"} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CharTokenizerFile), []byte(file), 0o644)
		got, err := LoadTokenizer(dir)
		if err != nil || got.Name() != want {
			t.Errorf("%s: %v, %v; want %s", file, got, err, want)
		}
	}
}

// A tokenizer.json that reads as neither a char, byte nor byte-level BPE
// tokenizer, or that changes the text before tokenizing, is refused by name.
func TestCharTokenizerHFErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{`{"model":{"type":"BPE","vocab":{"ab":0,"c":1},"merges":[]},"pre_tokenizer":null}`, `read as a char vocabulary, and "ab" is not one character`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"c":2},"merges":[]}}`, "the ids are not 0..1, each once"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"c":0},"merges":[]}}`, "the ids are not 0..1, each once"},
		{`{"model":{"type":"BPE","vocab":{},"merges":[]}}`, "it is empty"},
		{`{"normalizer":{"type":"Lowercase"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`, `has a normalizer ({"type":"Lowercase"})`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CharTokenizerFile), []byte(c.file), 0o644)
		if _, err := LoadTokenizer(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.file, err, c.want)
		}
	}
	// A byte-level vocabulary of 256 in another order is a BPE, not the
	// byte tokenizer: its ids are its own.
	tokens := make([]string, 256)
	for b := range tokens {
		tokens[b] = string(byteRune[255-b])
	}
	dir := t.TempDir()
	if err := writeHFTokenizerJSON(dir, tokens, nil, nil, byteLevel(false), byteLevel(true)); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name() == "byte" || !slices.Equal(got.Encode("a"), []int{255 - 'a'}) {
		t.Errorf("reversed byte vocabulary: %s encodes a as %v, want [%d]", got.Name(), got.Encode("a"), 255-'a')
	}
}

func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
