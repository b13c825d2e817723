package data

// The char and byte tokenizers in Hugging Face's tokenizer.json form, so that
// a model directory holding one loads in Hugging Face's tools
// (AutoTokenizer, the tokenizers library and its JavaScript port) as it
// does in gptctl. Both are a BPE with no merges: the char tokenizer's
// vocabulary is its characters, with no pre-tokenizer and the Fuse decoder
// (tokens joined without spaces); the byte tokenizer's is GPT-2's 256 byte
// symbols, id = byte value, behind a ByteLevel pre-tokenizer without the
// word regex and the ByteLevel decoder. Files that gptctl wrote before
// this form ({"type": "char", "chars": ...}) still load.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"unicode/utf8"
)

// hfTokenizerConfigFile names the tokenizer's class for AutoTokenizer.
const hfTokenizerConfigFile = "tokenizer_config.json"

// hfBPEModel is the "model" object of a tokenizer.json, written with the
// fields GPT-2's own file has, so that old and new readers accept it.
type hfBPEModel struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  []string        `json:"merges"`
}

// hfAddedToken is an entry of a tokenizer.json's added_tokens.
type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfTokenizerJSON is a whole tokenizer.json, its keys in the order
// Hugging Face writes them.
type hfTokenizerJSON struct {
	Version       string         `json:"version"`
	Truncation    any            `json:"truncation"`
	Padding       any            `json:"padding"`
	AddedTokens   []hfAddedToken `json:"added_tokens"`
	Normalizer    any            `json:"normalizer"`
	PreTokenizer  any            `json:"pre_tokenizer"`
	PostProcessor any            `json:"post_processor"`
	Decoder       any            `json:"decoder"`
	Model         hfBPEModel     `json:"model"`
}

// byteLevel is the ByteLevel pre-tokenizer or decoder object; useRegex
// splits words the GPT-2 way before mapping bytes to symbols.
func byteLevel(useRegex bool) map[string]any {
	return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
}

// writeHFTokenizerJSON writes dir/tokenizer.json for a BPE whose tokens, in
// id order, are written as tokens[id] (in the file's alphabet), with the
// given merges ("left right"), pre-tokenizer and decoder.
func writeHFTokenizerJSON(dir string, tokens []string, merges []string, added []hfAddedToken, preTok, decoder any) error {
	vocab, err := encoderJSON(tokens)
	if err != nil {
		return err
	}
	if merges == nil {
		merges = []string{}
	}
	if added == nil {
		added = []hfAddedToken{}
	}
	f := hfTokenizerJSON{
		Version: "1.0", AddedTokens: added, PreTokenizer: preTok, Decoder: decoder,
		Model: hfBPEModel{Type: "BPE", Vocab: vocab, Merges: merges},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("save tokenizer.json: %w", err)
	}
	return WriteFile(filepath.Join(dir, CharTokenizerFile), b.Bytes())
}

// writeFastTokenizerConfig writes dir/tokenizer_config.json naming
// PreTrainedTokenizerFast, the class that reads tokenizer.json alone, and
// decoding as gptctl does (no clean-up of the spaces before punctuation);
// maxLen is the model's context, Hugging Face's model_max_length.
func writeFastTokenizerConfig(dir string, maxLen int) error {
	b, err := json.MarshalIndent(map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": maxLen,
		"clean_up_tokenization_spaces": false}, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, hfTokenizerConfigFile), append(b, '\n'))
}

func (t *CharTokenizer) Save(dir string) error {
	tokens := make([]string, len(t.chars))
	for i, r := range t.chars {
		tokens[i] = string(r)
	}
	return writeHFTokenizerJSON(dir, tokens, nil, nil, nil, map[string]any{"type": "Fuse"})
}

// SaveHF writes what AutoTokenizer needs beside Save's tokenizer.json.
func (t *CharTokenizer) SaveHF(dir string, maxLen int) error {
	return writeFastTokenizerConfig(dir, maxLen)
}

func (ByteTokenizer) Save(dir string) error {
	tokens := make([]string, 256)
	for b := range tokens {
		tokens[b] = string(byteRune[b])
	}
	return writeHFTokenizerJSON(dir, tokens, nil, nil, byteLevel(false), byteLevel(true))
}

// SaveHF writes what AutoTokenizer needs beside Save's tokenizer.json.
func (ByteTokenizer) SaveHF(dir string, maxLen int) error {
	return writeFastTokenizerConfig(dir, maxLen)
}

// charOrByteHF returns the char or byte tokenizer that f (read from path),
// a BPE of the given vocabulary, describes, or nil when f is some other
// BPE: one with merges or added tokens, or a byte-level one other than the
// 256 bytes in byte order.
func charOrByteHF(f *hfTokenizerFile, vocab map[string]int, path string) (Tokenizer, error) {
	if len(f.AddedTokens) > 0 {
		return nil, nil
	}
	var merges []json.RawMessage
	if err := json.Unmarshal(f.Model.Merges, &merges); err != nil || len(merges) > 0 {
		return nil, nil
	}
	// chars is the vocabulary in id order, if it is single characters
	// numbered 0..n-1.
	chars := make([]rune, len(vocab))
	seen := make([]bool, len(chars))
	var bad string
	for tok, id := range vocab {
		r, n := utf8.DecodeRuneInString(tok)
		switch {
		case n == 0 || n != len(tok) || r == utf8.RuneError && n == 1:
			bad = fmt.Sprintf("%q is not one character", tok)
		case id < 0 || id >= len(chars) || seen[id]:
			bad = fmt.Sprintf("the ids are not 0..%d, each once (%q has %d)", len(chars)-1, tok, id)
		default:
			chars[id], seen[id] = r, true
		}
	}
	if pre := string(bytes.TrimSpace(f.PreTokenizer)); pre == "" || pre == "null" {
		// No pre-tokenizer and no merges: a char tokenizer, if anything.
		if bad == "" && len(chars) == 0 {
			bad = "it is empty"
		}
		if bad != "" {
			return nil, fmt.Errorf("tokenizer %s: a BPE without pre-tokenizer or merges is read as a char vocabulary, and %s", path, bad)
		}
		return newCharTokenizer(chars), nil
	}
	var bl struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
	}
	if bad != "" || len(chars) != 256 || json.Unmarshal(f.PreTokenizer, &bl) != nil || bl.Type != "ByteLevel" || bl.AddPrefixSpace {
		return nil, nil
	}
	for b, r := range chars {
		if r != byteRune[b] {
			return nil, nil // a byte-level BPE with its own id order
		}
	}
	return ByteTokenizer{}, nil
}

// hfBPEFile is what a tokenizer.json says of a BPE: its model's type,
// vocabulary and merges, and its added tokens.
type hfBPEFile struct {
	old    bool   // no "model" object: gptctl's earlier char or byte file
	typ    string // see modelType: "" for an untyped model that is not a BPE
	vocab  []hfVocabEntry
	merges [][2]string
	added  []hfVocabEntry
}

// hfVocabEntry is a token and its id.
type hfVocabEntry struct {
	tok string
	id  int
}

// readHFBPEFile reads raw, a tokenizer.json read from path (GPT-2's in
// some 60 ms, beside the seconds its weights take).
func readHFBPEFile(raw []byte, path string) (*hfBPEFile, error) {
	var j struct {
		Model *struct {
			Type   string          `json:"type"`
			Vocab  json.RawMessage `json:"vocab"` // a BPE's token: id object; a Unigram's list
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, JSONError(err))
	}
	if j.Model == nil {
		return &hfBPEFile{old: true}, nil
	}
	f := &hfBPEFile{typ: modelType(j.Model.Type, j.Model.Vocab, j.Model.Merges)}
	if f.typ != "BPE" {
		return f, nil // not a BPE, which the caller says: its vocabulary may have another form
	}
	var vocab map[string]int
	if len(j.Model.Vocab) > 0 {
		if err := json.Unmarshal(j.Model.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("tokenizer %s: model.vocab: %w", path, JSONError(err))
		}
	}
	for _, tok := range slices.Sorted(maps.Keys(vocab)) {
		f.vocab = append(f.vocab, hfVocabEntry{tok, vocab[tok]})
	}
	for _, a := range j.AddedTokens {
		f.added = append(f.added, hfVocabEntry{a.Content, a.ID})
	}
	if len(j.Model.Merges) > 0 {
		var err error
		if f.merges, err = hfMerges(j.Model.Merges, path); err != nil {
			return nil, err
		}
	}
	return f, nil
}
