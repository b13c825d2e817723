package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hfTokenizerFromDir writes dir's encoder.json and vocab.bpe as a Hugging
// Face tokenizer.json in out, its merges as strings or as pairs.
func hfTokenizerFromDir(t *testing.T, dir, out string, pairs bool) {
	t.Helper()
	var vocab map[string]int
	raw, err := os.ReadFile(filepath.Join(dir, GPT2EncoderFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &vocab); err != nil {
		t.Fatal(err)
	}
	ms, err := readMerges(filepath.Join(dir, GPT2MergesFile))
	if err != nil {
		t.Fatal(err)
	}
	var merges any
	if pairs {
		merges = ms
	} else {
		lines := make([]string, len(ms))
		for i, m := range ms {
			lines[i] = m[0] + " " + m[1]
		}
		merges = lines
	}
	eot, hasEOT := vocab["<|endoftext|>"]
	added := []map[string]any{}
	if hasEOT {
		added = append(added, map[string]any{"id": eot, "content": "<|endoftext|>", "special": true})
	}
	f := map[string]any{
		"version":       "1.0",
		"added_tokens":  added,
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"decoder":       map[string]any{"type": "ByteLevel"},
		"model":         map[string]any{"type": "BPE", "dropout": nil, "vocab": vocab, "merges": merges},
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(out, 0o755)
	if err := os.WriteFile(filepath.Join(out, CharTokenizerFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A directory with only Hugging Face's tokenizer.json encodes as the same
// BPE given as encoder.json and vocab.bpe, with both forms of merges.
func TestHFTokenizerJSON(t *testing.T) {
	text := smallText()
	dirs := map[string]string{}
	tiny := t.TempDir()
	if err := trainTiny(t, text, 400).Save(tiny); err != nil {
		t.Fatal(err)
	}
	dirs["trained"] = tiny
	if shared := filepath.Join("..", "..", "shared", "data", "tokenizer", "gpt2"); func() bool { _, err := os.Stat(filepath.Join(shared, GPT2EncoderFile)); return err == nil }() {
		dirs["gpt2"] = shared
	} else {
		t.Logf("no GPT-2 vocabulary at %s: checking a trained BPE only", shared)
	}
	sample := text[:20_000] + " <|endoftext|> Ünïcödé, 日本語 and\ttabs\r\n  spaces"
	for name, dir := range dirs {
		want, err := LoadGPT2BPE(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, pairs := range []bool{false, true} {
			out := t.TempDir()
			hfTokenizerFromDir(t, dir, out, pairs)
			tok, err := LoadTokenizer(out)
			if err != nil {
				t.Fatalf("%s (pairs %v): %v", name, pairs, err)
			}
			got, exp := tok.Encode(sample), want.Encode(sample)
			if !slices.Equal(got, exp) || tok.VocabSize() != want.VocabSize() {
				t.Errorf("%s (pairs %v): %d tokens (vocab %d), want %d (vocab %d)", name, pairs, len(got), tok.VocabSize(), len(exp), want.VocabSize())
			}
			if back := tok.Decode(got); back != sample {
				t.Errorf("%s (pairs %v): the round trip changed the text", name, pairs)
			}
		}
	}
}

// Post-processors that add no token pass: GPT-2's ByteLevel (as its
// tokenizer.json writes it), a template of the sequence alone (with or
// without its type), and a Sequence of them.
func TestHFTokenizerJSONPostProcessors(t *testing.T) {
	tiny, src := t.TempDir(), t.TempDir()
	if err := trainTiny(t, smallText(), 300).Save(tiny); err != nil {
		t.Fatal(err)
	}
	hfTokenizerFromDir(t, tiny, src, false)
	var file map[string]json.RawMessage
	b, err := os.ReadFile(filepath.Join(src, CharTokenizerFile))
	if err != nil || json.Unmarshal(b, &file) != nil {
		t.Fatalf("the trained BPE's tokenizer.json: %v", err)
	}
	for _, pp := range []string{
		`null`,
		`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}`,
		`{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{}}`,
		`{"single":[{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{}}`,
		`{"type":"Sequence","processors":[{"type":"ByteLevel","trim_offsets":false},{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}}]}]}`,
	} {
		file["post_processor"] = json.RawMessage(pp)
		b, _ := json.Marshal(file)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CharTokenizerFile), b, 0o644)
		if _, err := LoadTokenizer(dir); err != nil {
			t.Errorf("post_processor %s: %v, want it read", pp, err)
		}
	}
}

func TestHFTokenizerJSONErrors(t *testing.T) {
	const bl = `"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false}`
	for _, c := range []struct{ file, want string }{
		{`{"model":{"type":"WordPiece","vocab":{"a":0}}}`, `model type "WordPiece": gptctl reads byte-level BPE`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Metaspace"}}`, "a single ByteLevel, only"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b c"]},` + bl + `}`, `merge 1 "a b c" is not "left right"`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":{"x":1}},` + bl + `}`, "neither a list"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":2},"merges":[]},` + bl + `}`, "ids must be 0..1"},
		{`{"type":"char","chars":"ba"}`, "chars must be sorted"}, // gptctl's own file still goes its way
		// Files that encode otherwise than GPT-2's kind (Hugging Face's ids differ) and a broken one.
		{`{"model":{"type":"BPE","merges":[]},` + bl + `,"added_tokens":[{"id":0,"content":"<|endoftext|>"}]}`, "model.vocab is missing"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},` + bl + `,"added_tokens":[{"id":3,"content":"    ","special":false}]}`, `added token "    " is not special`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true}}`, "add_prefix_space is not false"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}}`, "use_regex is false"},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split"},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]}}`, `pre_tokenizer {"type":"Sequence"`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},` + bl + `,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}]}}`,
			`post_processor TemplateProcessing adds the token <s> to every encoding`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},` + bl + `,"post_processor":{"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"BertProcessing"}]}}`,
			`post_processor BertProcessing adds tokens to every encoding`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"],"ignore_merges":true,"byte_fallback":true,"end_of_word_suffix":"</w>"},` + bl + `}`, "end_of_word_suffix is set, model.byte_fallback is true, model.ignore_merges is true"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, CharTokenizerFile), []byte(c.file), 0o644)
		_, err := LoadTokenizer(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.file, err, c.want)
		}
	}
}
