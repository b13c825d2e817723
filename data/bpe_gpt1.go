package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// File names of the GPT-1 vocabulary.
const (
	GPT1EncoderFile = "encoder_bpe_40000.json"
	GPT1MergesFile  = "vocab_40000.bpe"
)

const gpt1WordEnd = "</w>"

// GPT1BPE is the tokenizer of OpenAI GPT-1: lower-cased words (see
// gpt1Words for how text becomes words) encoded with a character-level BPE
// whose word-final symbols end in "</w>". It has 40,478 tokens and no
// end-of-text token. A character the vocabulary lacks becomes "<unk>" (id 0
// in OpenAI's file), as in the Hugging Face port; it is dropped when the
// vocabulary has no "<unk>".
//
// Decode concatenates the tokens and turns every "</w>" into a space, so it
// returns the normalised, lower-cased text with a space after each word.
// A GPT1BPE is safe for concurrent use.
type GPT1BPE struct {
	tokens []string // id -> token as in the encoder file
	index  map[string]int32
	merges mergeTable
	ranked [][2]int32
	unk    int32
	cache  *pieceCache
}

// LoadGPT1BPE reads dir/encoder_bpe_40000.json and dir/vocab_40000.bpe.
func LoadGPT1BPE(dir string) (*GPT1BPE, error) {
	encPath, mergesPath := filepath.Join(dir, GPT1EncoderFile), filepath.Join(dir, GPT1MergesFile)
	tokens, err := readEncoderJSON(encPath)
	if err != nil {
		return nil, err
	}
	pairs, err := readMerges(mergesPath)
	if err != nil {
		return nil, err
	}
	return gpt1BPE(tokens, pairs, encPath, mergesPath)
}

// gpt1BPE builds the GPT-1 BPE from its tokens by id and its merges in rank
// order, read from encPath and mergesPath (OpenAI's files, or the same under
// Hugging Face's names, vocab.json and merges.txt), named in errors.
func gpt1BPE(tokens []string, pairs [][2]string, encPath, mergesPath string) (*GPT1BPE, error) {
	ranked, err := rankMerges(pairs, tokens, mergesPath, encPath)
	if err != nil {
		return nil, err
	}
	t := &GPT1BPE{
		tokens: tokens,
		index:  make(map[string]int32, len(tokens)),
		merges: make(mergeTable, len(ranked)),
		ranked: ranked,
		unk:    -1,
		cache:  newPieceCache(),
	}
	for id, tok := range tokens {
		t.index[tok] = int32(id)
	}
	if id, ok := t.index["<unk>"]; ok {
		t.unk = id
	}
	for rank, m := range ranked {
		k := pairKey(m[0], m[1])
		if _, dup := t.merges[k]; !dup {
			t.merges[k] = mergeRule{rank: int32(rank), id: t.index[tokens[m[0]]+tokens[m[1]]]}
		}
	}
	return t, nil
}

// Name implements Tokenizer.
func (t *GPT1BPE) Name() string { return "gpt1-bpe" }

// VocabSize implements Tokenizer.
func (t *GPT1BPE) VocabSize() int { return len(t.tokens) }

// EOT returns -1: GPT-1 has no end-of-text token.
func (t *GPT1BPE) EOT() int { return -1 }

// Encode returns the ids of text.
func (t *GPT1BPE) Encode(text string) []int {
	var ids []int
	var sym []int32
	for _, w := range gpt1Words(text) {
		ids, sym = t.appendWord(ids, w, sym)
	}
	return ids
}

func (t *GPT1BPE) appendWord(dst []int, w string, sym []int32) ([]int, []int32) {
	if ids, ok := t.cache.get(w); ok {
		for _, id := range ids {
			dst = append(dst, int(id))
		}
		return dst, sym
	}
	sym = sym[:0]
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		s := w[i : i+n]
		if i += n; i == len(w) {
			s += gpt1WordEnd
		}
		id, ok := t.index[s]
		if !ok {
			if t.unk < 0 {
				continue
			}
			id = t.unk
		}
		sym = append(sym, id)
	}
	merged := t.merges.apply(sym)
	for _, id := range merged {
		dst = append(dst, int(id))
	}
	if len(w) <= cacheMaxPiece {
		t.cache.put(w, append([]int32(nil), merged...))
	}
	return dst, sym
}

// Decode joins the tokens of ids, "</w>" becoming a space. An id outside the
// vocabulary decodes to U+FFFD.
func (t *GPT1BPE) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		tok := t.tokens[id]
		if w, ok := strings.CutSuffix(tok, gpt1WordEnd); ok {
			b.WriteString(w)
			b.WriteByte(' ')
		} else {
			b.WriteString(tok)
		}
	}
	return b.String()
}

// Normalize returns the text Decode(Encode(text)) gives when every character
// of text is in the vocabulary: the words joined, each followed by a space.
func (t *GPT1BPE) Normalize(text string) string {
	var b strings.Builder
	for _, w := range gpt1Words(text) {
		b.WriteString(w)
		b.WriteByte(' ')
	}
	return b.String()
}

// Save writes dir/encoder_bpe_40000.json and dir/vocab_40000.bpe.
func (t *GPT1BPE) Save(dir string) error { return t.save(dir, GPT1EncoderFile, GPT1MergesFile) }

// SaveHF writes the vocabulary under Hugging Face's names, dir/vocab.json
// and dir/merges.txt (the same contents as Save's files), and a
// dir/tokenizer_config.json that names OpenAIGPTTokenizer, so that
// AutoTokenizer.from_pretrained(dir) reads it. maxLen is the model's
// context, Hugging Face's model_max_length.
func (t *GPT1BPE) SaveHF(dir string, maxLen int) error {
	if err := t.save(dir, hfVocabFile, hfMergesFile); err != nil {
		return err
	}
	cfg := map[string]any{"tokenizer_class": "OpenAIGPTTokenizer", "model_max_length": maxLen}
	if t.unk >= 0 {
		cfg["unk_token"] = t.tokens[t.unk]
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, "tokenizer_config.json"), append(b, '\n'))
}

func (t *GPT1BPE) save(dir, encName, mergesName string) error {
	if err := writeEncoderJSON(filepath.Join(dir, encName), t.tokens); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("#version: 0.2\n")
	for _, m := range t.ranked {
		fmt.Fprintf(&b, "%s %s\n", t.tokens[m[0]], t.tokens[m[1]])
	}
	if err := WriteFile(filepath.Join(dir, mergesName), b.Bytes()); err != nil {
		return fmt.Errorf("save gpt1 merges: %w", err)
	}
	return nil
}
