package data

// Hugging Face's tokenizer.json: the one-file form of a tokenizer, which
// many model directories ship instead of vocab.json and merges.txt. gptctl
// reads the byte-level BPE kind (GPT-2's): model.vocab, model.merges (as
// "left right" strings or [left, right] pairs) and added tokens.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type hfTokenizerFile struct {
	Model *struct {
		Type   string          `json:"type"`
		Vocab  map[string]int  `json:"vocab"`
		Merges json.RawMessage `json:"merges"`
	} `json:"model"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	AddedTokens  []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
	} `json:"added_tokens"`
}

// isHFTokenizerJSON reports whether raw is a Hugging Face tokenizer.json
// (it has a "model" object) rather than gptctl's earlier char or byte file.
func isHFTokenizerJSON(raw []byte) bool {
	var probe struct {
		Model json.RawMessage `json:"model"`
	}
	return json.Unmarshal(raw, &probe) == nil && len(probe.Model) > 0 && probe.Model[0] == '{'
}

// loadHFTokenizerJSON reads a Hugging Face tokenizer.json held in raw
// (read from path): a byte-level BPE, or the char or byte tokenizer gptctl
// writes in that form.
func loadHFTokenizerJSON(raw []byte, path string) (Tokenizer, error) {
	var f hfTokenizerFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	if n := string(bytes.TrimSpace(f.Normalizer)); n != "" && n != "null" {
		return nil, fmt.Errorf("tokenizer %s: it has a normalizer (%.60s), which gptctl does not apply: remove it if the text needs none, or use a tokenizer without one", path, n)
	}
	if tok, err := charOrByteHF(&f, path); tok != nil || err != nil {
		return tok, err
	}
	if f.Model == nil || f.Model.Type != "BPE" {
		typ := ""
		if f.Model != nil {
			typ = f.Model.Type
		}
		return nil, fmt.Errorf("tokenizer %s: model type %q: gptctl reads byte-level BPE (GPT-2's kind) only", path, typ)
	}
	if !strings.Contains(string(f.PreTokenizer), `"ByteLevel"`) {
		return nil, fmt.Errorf("tokenizer %s: the BPE is not byte-level (no ByteLevel pre_tokenizer): gptctl reads GPT-2's kind only", path)
	}
	vocab := f.Model.Vocab
	for _, a := range f.AddedTokens { // usually in vocab already (<|endoftext|>)
		if id, ok := vocab[a.Content]; ok && id != a.ID {
			return nil, fmt.Errorf("tokenizer %s: added token %q has id %d, the vocabulary says %d", path, a.Content, a.ID, id)
		}
		vocab[a.Content] = a.ID
	}
	visible, err := encoderTokens(vocab, path)
	if err != nil {
		return nil, err
	}
	pairs, err := hfMerges(f.Model.Merges, path)
	if err != nil {
		return nil, err
	}
	return gpt2BPE(visible, pairs, path+" (model.vocab)", path+" (model.merges)")
}

// hfMerges reads model.merges in either of its forms.
func hfMerges(raw json.RawMessage, path string) ([][2]string, error) {
	var lines []string
	if err := json.Unmarshal(raw, &lines); err == nil {
		pairs := make([][2]string, len(lines))
		for i, m := range lines {
			l, r, ok := strings.Cut(m, " ")
			if !ok || l == "" || r == "" || strings.Contains(r, " ") {
				return nil, fmt.Errorf("tokenizer %s: merge %d %q is not \"left right\"", path, i+1, m)
			}
			pairs[i] = [2]string{l, r}
		}
		return pairs, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("tokenizer %s: model.merges is neither a list of \"left right\" strings nor of pairs: %w", path, err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 || p[0] == "" || p[1] == "" {
			return nil, fmt.Errorf("tokenizer %s: merge %d %q is not a pair", path, i+1, p)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// loadTokenizerJSON loads a tokenizer.json: a Hugging Face byte-level BPE,
// or a char or byte tokenizer in Hugging Face's form or gptctl's earlier one.
func loadTokenizerJSON(path string) (Tokenizer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if isHFTokenizerJSON(raw) {
		return loadHFTokenizerJSON(raw, path)
	}
	return parseCharFile(raw, path)
}
