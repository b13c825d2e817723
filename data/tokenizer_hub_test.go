package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tokenizer.json files of gpt2 and openai-gpt on the Hugging Face hub
// were written by a tokenizers release that wrote no "type" on the model;
// the tokenizers library reads a model with a vocab object and merges as a
// BPE, and so does gptctl. These are their layouts, key for key.

// hubModel is the untyped model object of the hub's files.
func hubModel(vocab map[string]int, merges []string, unk any, suffix string) map[string]any {
	return map[string]any{"dropout": nil, "unk_token": unk, "continuing_subword_prefix": "", "end_of_word_suffix": suffix,
		"fuse_unk": false, "vocab": vocab, "merges": merges}
}

// hubGPT2Dir writes tok as gpt2's hub directory does: vocab.json,
// merges.txt, tokenizer_config.json {"model_max_length": 1024} and a
// tokenizer.json with an untyped model, a ByteLevel pre-tokenizer without
// prefix space and a ByteLevel post-processor and decoder with one; alone,
// only the tokenizer.json. edit changes the file before it is written.
func hubGPT2Dir(t *testing.T, tok *BPE, alone bool, edit func(map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	if err := tok.SaveHF(dir, 1024); err != nil {
		t.Fatal(err)
	}
	visible := tok.visibleTokens()
	vocab := map[string]int{}
	for id, s := range visible {
		vocab[s] = id
	}
	f := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":   []map[string]any{{"id": tok.EOT(), "special": true, "content": EndOfText, "single_word": false, "lstrip": false, "rstrip": false, "normalized": true}},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true},
		"model":          hubModel(vocab, tok.mergeLines(visible), nil, ""),
	}
	if edit != nil {
		edit(f)
	}
	writeJSONFile(t, filepath.Join(dir, CharTokenizerFile), f)
	writeJSONFile(t, filepath.Join(dir, hfTokenizerConfigFile), map[string]any{"model_max_length": 1024})
	if alone {
		for _, name := range []string{hfVocabFile, hfMergesFile, hfTokenizerConfigFile} {
			os.Remove(filepath.Join(dir, name))
		}
	}
	return dir
}

// gpt2's hub tokenizer.json loads as the BPE it is, alone and beside
// vocab.json and merges.txt, where it was refused as an untyped model.
func TestHubGPT2TokenizerJSON(t *testing.T) {
	tok := trainTiny(t, smallText()[:20_000], 300)
	text := smallText()[20_000:22_000] + " Ünïcödé  and\ttabs"
	for _, alone := range []bool{false, true} {
		dir := hubGPT2Dir(t, tok, alone, nil)
		for _, load := range []func(string) (Tokenizer, error){ResolveTokenizer, LoadTokenizer} {
			got, err := load(dir)
			if err != nil {
				t.Fatalf("alone %v: %v", alone, err)
			}
			if got.Name() != "gpt2-bpe" || got.VocabSize() != 300 || !slices.Equal(got.Encode(text), tok.Encode(text)) {
				t.Errorf("alone %v: %s of %d tokens, want the trained BPE's ids", alone, got.Name(), got.VocabSize())
			}
		}
	}
	// The rules stay: a prefix space on the pre-tokenizer is refused
	// (the post-processor's and decoder's change no id), and the vocabulary
	// files and tokenizer.json must agree.
	prefix := hubGPT2Dir(t, tok, true, func(f map[string]any) { f["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true })
	if _, err := ResolveTokenizer(prefix); err == nil || !strings.Contains(err.Error(), "pre_tokenizer.add_prefix_space is not false") {
		t.Errorf("an untyped model behind a prefix space: %v, want it refused", err)
	}
	swapped := hubGPT2Dir(t, tok, false, func(f map[string]any) {
		m := f["model"].(map[string]any)["merges"].([]string)
		m[3], m[4] = m[4], m[3]
	})
	if _, err := ResolveTokenizer(swapped); err == nil || !strings.Contains(err.Error(), "two different tokenizers (merge 4 is ") {
		t.Errorf("an untyped tokenizer.json with two merges swapped: %v, want the files named as two tokenizers", err)
	}
}

// tinyGPT1 is a GPT-1 style BPE (word ends marked </w>) of nine tokens.
func tinyGPT1(t *testing.T) *GPT1BPE {
	t.Helper()
	tokens := []string{"<unk>", "a", "b", "c", "a</w>", "b</w>", "c</w>", "ab</w>", "ca"}
	tok, err := gpt1BPE(tokens, [][2]string{{"a", "b</w>"}, {"c", "a"}}, "vocab.json", "merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// openai-gpt's hub directory: vocab.json, merges.txt and an untyped
// tokenizer.json with BERT's normalizer and pre-tokenizer. gptctl reads
// the GPT-1 BPE from the first two, having checked that the third is the
// same tokenizer; tokenizer.json alone is refused, saying what to add.
func TestHubGPT1TokenizerJSON(t *testing.T) {
	want := tinyGPT1(t)
	write := func(alone bool, merges []string) string {
		dir := t.TempDir()
		if err := want.SaveHF(dir, 512); err != nil {
			t.Fatal(err)
		}
		vocab := map[string]int{}
		for id, s := range want.tokens {
			vocab[s] = id
		}
		writeJSONFile(t, filepath.Join(dir, CharTokenizerFile), map[string]any{
			"version": "1.0", "truncation": nil, "padding": nil,
			"added_tokens":   []map[string]any{{"id": 0, "special": true, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}},
			"normalizer":     map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
			"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
			"post_processor": nil,
			"decoder":        map[string]any{"type": "BPEDecoder", "suffix": "</w>"},
			"model":          hubModel(vocab, merges, "<unk>", "</w>"),
		})
		if alone {
			os.Remove(filepath.Join(dir, hfVocabFile))
			os.Remove(filepath.Join(dir, hfMergesFile))
			os.Remove(filepath.Join(dir, hfTokenizerConfigFile))
		}
		return dir
	}
	dir := write(false, []string{"a b</w>", "c a"})
	for _, load := range []func(string) (Tokenizer, error){ResolveTokenizer, LoadTokenizer} {
		got, err := load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if text := "Cab ab ca"; got.Name() != "gpt1-bpe" || !slices.Equal(got.Encode(text), want.Encode(text)) {
			t.Errorf("%s: %v, want GPT-1's %v", got.Name(), got.Encode(text), want.Encode(text))
		}
	}
	other := write(false, []string{"c a", "a b</w>"})
	if _, err := ResolveTokenizer(other); err == nil || !strings.Contains(err.Error(), `two different tokenizers (merge 1 is "c a" in tokenizer.json, "a b</w>" in merges.txt)`) {
		t.Errorf("an untyped tokenizer.json with other merges: %v, want the files named as two tokenizers", err)
	}
	alone := write(true, []string{"a b</w>", "c a"})
	_, err := ResolveTokenizer(alone)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(alone, CharTokenizerFile)+": a BPE whose words end with </w>, GPT-1's kind") ||
		!strings.Contains(err.Error(), "put those two files of the model's tokenizer beside it") {
		t.Errorf("openai-gpt's tokenizer.json alone: %v, want it refused, naming the files gptctl reads", err)
	}
}

// A model without "type" that is not a BPE's shape (no merges, or a
// Unigram's list for vocabulary) is refused, naming the file, alone and
// beside a BPE's vocabulary files.
func TestUntypedNonBPETokenizerJSON(t *testing.T) {
	const why = `has no "type", and without a vocab object and merges it is not a BPE`
	bpe := trainTiny(t, smallText()[:20_000], 300)
	for _, model := range []string{
		`{"unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{"[UNK]":0,"a":1,"##b":2}}`,
		`{"unk_token":"<unk>","vocab":{"<unk>":0,"a":1}}`,
		`{"unk_id":0,"vocab":[["<unk>",0],["a",-1.5]]}`,
		`{"vocab":{"a":0},"merges":null}`,
	} {
		file := []byte(`{"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"model":` + model + `}`)
		alone := t.TempDir()
		os.WriteFile(filepath.Join(alone, CharTokenizerFile), file, 0o644)
		path := filepath.Join(alone, CharTokenizerFile)
		if _, err := ResolveTokenizer(alone); err == nil || !strings.Contains(err.Error(), path+": model "+why) {
			t.Errorf("%s alone: %v, want it refused naming %s", model, err, path)
		}
		beside := t.TempDir()
		if err := bpe.SaveHF(beside, 64); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(beside, CharTokenizerFile), file, 0o644)
		path = filepath.Join(beside, CharTokenizerFile)
		if _, err := ResolveTokenizer(beside); err == nil || !strings.Contains(err.Error(), path+" and vocab.json + merges.txt beside it are two different tokenizers (tokenizer.json's model "+why) {
			t.Errorf("%s beside vocab.json: %v, want it refused naming %s", model, err, path)
		}
	}
}

// A typed model of another kind keeps its message, whatever its vocabulary's
// form (a Unigram's is a list).
func TestTypedNonBPETokenizerJSON(t *testing.T) {
	dir := t.TempDir()
	b, _ := json.Marshal(map[string]any{"model": map[string]any{"type": "Unigram", "vocab": [][]any{{"a", -1.5}}}})
	os.WriteFile(filepath.Join(dir, CharTokenizerFile), b, 0o644)
	if _, err := ResolveTokenizer(dir); err == nil || !strings.Contains(err.Error(), `model type "Unigram": gptctl reads byte-level BPE`) {
		t.Errorf("a Unigram tokenizer.json alone: %v", err)
	}
}
