package data

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// EnvTokenizersJS names the directory where Hugging Face's tokenizer
// libraries for Node are installed (npm install tokenizers
// @huggingface/tokenizers); make test-hf sets it.
const EnvTokenizersJS = "GPTCTL_TOKENIZERS_JS"

// The tokenizer.json files gptctl writes read in Hugging Face's own code as
// they do in gptctl: the tokenizers library (Rust, through its Node
// binding: what transformers' fast tokenizers run) and tokenizers.js (its
// JavaScript port, which transformers.js uses) give every text the ids gptctl
// gives it (a special token in the text as its id) and decodes them back to
// the text, for the char and byte tokenizers, a trained byte-level BPE and,
// with ../shared, GPT-2's.
func TestTokenizerJSONInHuggingFace(t *testing.T) {
	mod := os.Getenv(EnvTokenizersJS)
	if mod == "" {
		t.Skipf("%s is not set: make test-hf installs Hugging Face's tokenizer libraries for Node and runs this test", EnvTokenizersJS)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s is set but node is not on PATH: %v", EnvTokenizersJS, err)
	}
	texts := []string{
		"Hello, world! It's 2024: we're    testing\n\n  spaces.\t",
		"First Citizen:\nBefore we proceed any further, hear me speak.\r\n",
		"naïve café — “quotes” ½ €100 日本語 😀 e\u0301",
		" leading space, trailing space ",
		"Wait , what ? I do n't know . Yes ! 'm 's 've 're",
		"x",
		"one document<|endoftext|>the next",
		BuiltinCorpus()[:20_000],
	}
	var want = map[string]Tokenizer{}
	var dirs []string
	add := func(name string, tok Tokenizer) {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := tok.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := tok.(interface{ SaveHF(string, int) error }).SaveHF(dir, 64); err != nil {
			t.Fatal(err)
		}
		want[dir] = tok
		dirs = append(dirs, dir)
	}
	var all bytes.Buffer
	for _, s := range texts {
		all.WriteString(s)
	}
	add("char", NewCharTokenizer(all.String()))
	add("byte", ByteTokenizer{})
	add("bpe", trainTiny(t, smallText(), 500))
	if gpt2 := tryGPT2(t); gpt2 != nil {
		add("gpt2", gpt2)
	}

	for _, lib := range []string{"tokenizers", "@huggingface/tokenizers"} {
		t.Run(lib, func(t *testing.T) { checkHFTokenizers(t, node, mod, lib, dirs, texts, want) })
	}
}

// checkHFTokenizers encodes and decodes texts with the Node library lib,
// installed in mod, reading the tokenizer of each of dirs, and compares
// with want's.
func checkHFTokenizers(t *testing.T, node, mod, lib string, dirs, texts []string, want map[string]Tokenizer) {
	req, _ := json.Marshal(map[string]any{"dirs": dirs, "texts": texts})
	cmd := exec.Command(node, "testdata/hf_tokenizers.cjs", mod, lib)
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", lib, err, stderr.Bytes())
	}
	var got map[string]struct {
		IDs     [][]int  `json:"ids"`
		Decoded []string `json:"decoded"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s printed %.200s: %v", lib, out, err)
	}
	for _, dir := range dirs {
		tok, r := want[dir], got[dir]
		if len(r.IDs) != len(texts) {
			t.Fatalf("%s: %d results for %d texts", tok.Name(), len(r.IDs), len(texts))
		}
		for i, text := range texts {
			ids := tok.Encode(text)
			if bpe, ok := tok.(*BPE); ok { // Hugging Face reads special tokens in text
				ids = bpe.EncodeWithSpecial(text)
			}
			if !slices.Equal(r.IDs[i], ids) {
				t.Errorf("%s, text %d: Hugging Face encodes %v, gptctl %v", tok.Name(), i, r.IDs[i], ids)
			}
			if r.Decoded[i] != text {
				t.Errorf("%s, text %d: Hugging Face decodes its ids as %q, want %q", tok.Name(), i, r.Decoded[i], text)
			}
		}
	}
}
