package data

// Hugging Face's tokenizer.json: the one-file form of a tokenizer, which
// many model directories ship instead of vocab.json and merges.txt. gptctl
// reads the byte-level BPE kind (GPT-2's): model.vocab, model.merges (as
// "left right" strings or [left, right] pairs) and added tokens. The
// model's "type" may be missing, as in the files of tokenizers releases
// that did not write it (GPT-2's and openai-gpt's on the Hugging Face hub):
// see modelType.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type hfTokenizerFile struct {
	Model *struct {
		Type   string          `json:"type"`
		Vocab  json.RawMessage `json:"vocab"` // a BPE's token: id object; a Unigram's list
		Merges json.RawMessage `json:"merges"`
		// Settings that change the ids; gptctl reads their defaults only.
		Dropout                 *float64 `json:"dropout"`
		ContinuingSubwordPrefix *string  `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string  `json:"end_of_word_suffix"`
		ByteFallback            bool     `json:"byte_fallback"`
		IgnoreMerges            bool     `json:"ignore_merges"`
	} `json:"model"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	AddedTokens   []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special *bool  `json:"special"`
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
	vocab, err := bpeVocab(&f, path)
	if err != nil {
		return nil, err
	}
	if n := string(bytes.TrimSpace(f.Normalizer)); n != "" && n != "null" {
		return nil, fmt.Errorf("tokenizer %s: it has a normalizer (%.60s), which gptctl does not apply: remove it if the text needs none, or use a tokenizer without one", path, n)
	}
	if err := offsetsOnly(f.PostProcessor, path); err != nil {
		return nil, err
	}
	if tok, err := charOrByteHF(&f, vocab, path); tok != nil || err != nil {
		return tok, err
	}
	pairs, err := hfMerges(f.Model.Merges, path)
	if err != nil {
		return nil, err
	}
	if err := gpt2Kind(&f, len(pairs) > 0, path); err != nil {
		return nil, err
	}
	for _, a := range f.AddedTokens { // usually in vocab already (<|endoftext|>); vocab is this call's own
		if a.Special != nil && !*a.Special {
			return nil, fmt.Errorf("tokenizer %s: added token %q is not special: Hugging Face's tokenizers find it in ordinary text, gptctl only where special tokens are asked for, so the two would encode text differently: mark it \"special\": true if it should appear only where asked, or use a tokenizer without it", path, a.Content)
		}
		if id, ok := vocab[a.Content]; ok && id != a.ID {
			return nil, fmt.Errorf("tokenizer %s: added token %q has id %d, the vocabulary says %d", path, a.Content, a.ID, id)
		}
		vocab[a.Content] = a.ID
	}
	visible, err := encoderTokens(vocab, path)
	if err != nil {
		return nil, err
	}
	return gpt2BPE(visible, pairs, path+" (model.vocab)", path+" (model.merges)")
}

// modelType is the type of a tokenizer.json's model: what its "type" says
// or, where it says none, "BPE" for a model with a vocab object and merges,
// which the tokenizers library reads as a BPE (its reading of an untyped
// model tries BPE first, and a BPE needs both), and "" for any other.
func modelType(typ string, vocab, merges json.RawMessage) string {
	if typ != "" {
		return typ
	}
	v, m := bytes.TrimSpace(vocab), bytes.TrimSpace(merges)
	if len(v) > 0 && v[0] == '{' && len(m) > 0 && string(m) != "null" {
		return "BPE"
	}
	return ""
}

// untypedNotBPE says why a model without "type" is not read as a BPE.
const untypedNotBPE = `has no "type", and without a vocab object and merges it is not a BPE (the tokenizers library reads it as a WordPiece, WordLevel or Unigram model)`

// bpeVocab refuses a tokenizer.json (read from path) whose model is not a
// BPE, or is GPT-1's kind (words ending with </w>, split by another
// pre-tokenizer than ByteLevel), which gptctl reads from vocab.json and
// merges.txt only; it returns the model's vocabulary.
func bpeVocab(f *hfTokenizerFile, path string) (map[string]int, error) {
	if f.Model == nil {
		return nil, fmt.Errorf("tokenizer %s: no model: gptctl reads byte-level BPE (GPT-2's kind) only", path)
	}
	m := f.Model
	switch modelType(m.Type, m.Vocab, m.Merges) {
	case "BPE":
	case "":
		return nil, fmt.Errorf("tokenizer %s: model %s: gptctl reads byte-level BPE (GPT-2's kind) only", path, untypedNotBPE)
	default:
		return nil, fmt.Errorf("tokenizer %s: model type %q: gptctl reads byte-level BPE (GPT-2's kind) only", path, m.Type)
	}
	var pre struct {
		Type string `json:"type"`
	}
	json.Unmarshal(f.PreTokenizer, &pre) // none, or not an object: gpt2Kind says so
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix == gpt1WordEnd && pre.Type != "ByteLevel" {
		return nil, fmt.Errorf("tokenizer %s: a BPE whose words end with %s, GPT-1's kind (openai-gpt's), which gptctl reads from %s and %s, not from %s alone: put those two files of the model's tokenizer beside it",
			path, gpt1WordEnd, hfVocabFile, hfMergesFile, CharTokenizerFile)
	}
	if v := bytes.TrimSpace(m.Vocab); len(v) == 0 || string(v) == "null" {
		return nil, fmt.Errorf("tokenizer %s: model.vocab is missing", path)
	}
	var vocab map[string]int
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer %s: model.vocab: %w", path, JSONError(err))
	}
	return vocab, nil
}

// offsetsOnly refuses a post_processor that adds tokens to an encoding
// (TemplateProcessing's start token, BERT's [CLS] and [SEP]), which
// gptctl would not add. None passes, as do GPT-2's ByteLevel (it only
// trims offsets), a TemplateProcessing whose single-sequence template is
// the sequence alone ($A), and a Sequence of these.
func offsetsOnly(raw json.RawMessage, path string) error {
	if p := bytes.TrimSpace(raw); len(p) == 0 || string(p) == "null" {
		return nil
	}
	var pp struct {
		Type       string            `json:"type"`
		Processors []json.RawMessage `json:"processors"`
		Single     []map[string]any  `json:"single"`
	}
	if err := json.Unmarshal(raw, &pp); err != nil {
		return fmt.Errorf("tokenizer %s: post_processor: %w", path, JSONError(err))
	}
	switch {
	case pp.Type == "ByteLevel":
		return nil
	case pp.Type == "Sequence":
		for _, p := range pp.Processors {
			if err := offsetsOnly(p, path); err != nil {
				return err
			}
		}
		return nil
	case pp.Type == "TemplateProcessing" || pp.Type == "" && pp.Single != nil:
		for _, piece := range pp.Single {
			if tok, ok := piece["SpecialToken"].(map[string]any); ok {
				return fmt.Errorf("tokenizer %s: post_processor TemplateProcessing adds the token %v to every encoding, which gptctl does not: remove it (gptctl adds the end-of-text token between documents itself), or use a tokenizer without it", path, tok["id"])
			}
		}
		return nil
	}
	return fmt.Errorf("tokenizer %s: post_processor %s adds tokens to every encoding, which gptctl does not: remove it (gptctl adds the end-of-text token between documents itself), or use a tokenizer without one", path, cmp.Or(pp.Type, "(untyped)"))
}

// gpt2Kind refuses a BPE tokenizer.json that would encode otherwise than
// GPT-2's kind, which gptctl implements: its pre-tokenizer must be one
// ByteLevel with GPT-2's word regex and no prefix space (a Sequence, such as
// Llama 3's Split and ByteLevel, splits digits and words otherwise), and the
// model's options that change the ids must have their defaults. (The
// missing fields of a file that predates one read as its default, but
// add_prefix_space, whose default is true, must say false.)
func gpt2Kind(f *hfTokenizerFile, hasMerges bool, path string) error {
	var pre struct {
		Type           string `json:"type"`
		AddPrefixSpace *bool  `json:"add_prefix_space"`
		UseRegex       *bool  `json:"use_regex"`
	}
	if json.Unmarshal(f.PreTokenizer, &pre) != nil || pre.Type != "ByteLevel" {
		return fmt.Errorf("tokenizer %s: pre_tokenizer %.80s: gptctl reads byte-level BPEs with GPT-2's pre-tokenizer, a single ByteLevel, only", path, bytes.TrimSpace(f.PreTokenizer))
	}
	m := f.Model
	var bad []string
	if pre.AddPrefixSpace == nil || *pre.AddPrefixSpace {
		bad = append(bad, "pre_tokenizer.add_prefix_space is not false")
	}
	if pre.UseRegex != nil && !*pre.UseRegex && hasMerges { // without merges, every byte is its own token either way
		bad = append(bad, "pre_tokenizer.use_regex is false")
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		bad = append(bad, "model.dropout is set")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		bad = append(bad, "model.continuing_subword_prefix is set")
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		bad = append(bad, "model.end_of_word_suffix is set")
	}
	if m.ByteFallback {
		bad = append(bad, "model.byte_fallback is true")
	}
	if m.IgnoreMerges {
		bad = append(bad, "model.ignore_merges is true")
	}
	if len(bad) > 0 {
		return fmt.Errorf("tokenizer %s: %s: gptctl encodes as GPT-2's tokenizer does, and would give other ids than this file's", path, strings.Join(bad, ", "))
	}
	return nil
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
