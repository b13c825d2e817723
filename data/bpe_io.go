package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// File names of a GPT-2 style vocabulary.
const (
	GPT2EncoderFile = "encoder.json"
	GPT2MergesFile  = "vocab.bpe"

	hfVocabFile  = "vocab.json" // Hugging Face's names for the same files
	hfMergesFile = "merges.txt"
)

// byteRune maps every byte to the printable character GPT-2 writes it as in
// encoder.json and vocab.bpe (bytes_to_unicode in OpenAI's encoder.py), and
// runeByte is its inverse.
var byteRune, runeByte = func() (br [256]rune, rb map[rune]byte) {
	rb = make(map[rune]byte, 256)
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE
		if !printable {
			r = rune(256 + n)
			n++
		}
		br[b], rb[r] = r, byte(b)
	}
	return br, rb
}()

// bytesToVisible writes raw token bytes in the GPT-2 file alphabet.
func bytesToVisible(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		b.WriteRune(byteRune[raw[i]])
	}
	return b.String()
}

// visibleToBytes is the inverse of bytesToVisible; ok is false when s holds a
// character outside the alphabet.
func visibleToBytes(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := runeByte[r]
		if !ok {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}

// LoadGPT2BPE reads a byte-level BPE vocabulary from dir/encoder.json and
// dir/vocab.bpe (or Hugging Face's dir/vocab.json and dir/merges.txt), such
// as OpenAI's GPT-2 files or those TrainBPE writes. A token of encoder.json
// that is neither a byte nor made by a merge is a special token, written as
// its literal text (GPT-2 has "<|endoftext|>").
func LoadGPT2BPE(dir string) (*BPE, error) {
	encPath := filepath.Join(dir, GPT2EncoderFile)
	mergesPath := filepath.Join(dir, GPT2MergesFile)
	if _, err := os.Stat(encPath); err != nil {
		if _, errHF := os.Stat(filepath.Join(dir, hfVocabFile)); errHF == nil {
			encPath, mergesPath = filepath.Join(dir, hfVocabFile), filepath.Join(dir, hfMergesFile)
		}
	}
	visible, err := readEncoderJSON(encPath)
	if err != nil {
		return nil, err
	}
	pairs, err := readMerges(mergesPath)
	if err != nil {
		return nil, err
	}
	t, err := gpt2BPE(visible, pairs, encPath, mergesPath)
	if err != nil {
		return nil, fmt.Errorf("load bpe from %s: %w", dir, err)
	}
	return t, nil
}

// gpt2BPE builds a byte-level BPE from its tokens by id, written in the
// GPT-2 file alphabet, and its merges in rank order; encName and mergesName
// say where they came from, for errors.
func gpt2BPE(visible []string, pairs [][2]string, encName, mergesName string) (*BPE, error) {
	made := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		made[p[0]+p[1]] = true
	}
	tokens := make([]string, len(visible))
	specials := map[string]int{}
	var unreachable []int // byte-level text no merge makes
	for id, v := range visible {
		raw, ok := visibleToBytes(v)
		switch {
		case ok && (utf8.RuneCountInString(v) == 1 || made[v]):
			tokens[id] = raw
		case made[v]:
			return nil, fmt.Errorf("%s: token %d %q has a character outside the GPT-2 byte alphabet", encName, id, v)
		case ok && strings.ContainsFunc(v, func(r rune) bool { return r > 0xff }):
			// A character the alphabet gives a byte it does not show (Ġ
			// for a space): text in bytes, not a special token's literal,
			// though a merges file that lacks its merge leaves it out of
			// reach. It decodes to its bytes and is never encoded to.
			tokens[id] = raw
			unreachable = append(unreachable, id)
		default:
			tokens[id], specials[v] = v, id
		}
	}
	ranked, err := rankMerges(pairs, visible, mergesName, encName)
	if err != nil {
		return nil, err
	}
	t, err := newBPE(tokens, ranked, specials)
	if err != nil {
		return nil, err
	}
	for _, id := range unreachable { // a whole piece matching it is not taken for it either
		delete(t.index, tokens[id])
	}
	return t, nil
}

// rankMerges turns merge lines into pairs of ids.
func rankMerges(pairs [][2]string, visible []string, mergesPath, encPath string) ([][2]int32, error) {
	ids := make(map[string]int32, len(visible))
	for id, v := range visible {
		ids[v] = int32(id)
	}
	ranked := make([][2]int32, len(pairs))
	for i, p := range pairs {
		for k, s := range []string{p[0], p[1], p[0] + p[1]} {
			id, ok := ids[s]
			if !ok {
				return nil, fmt.Errorf("%s: merge %d %q: token %q is not in %s (the two files do not belong together)", mergesPath, i+1, p[0]+" "+p[1], s, encPath)
			}
			if k < 2 {
				ranked[i][k] = id
			}
		}
	}
	return ranked, nil
}

// readEncoderJSON reads a token -> id JSON object and returns the tokens by
// id, which must run from 0 without gaps.
func readEncoderJSON(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read vocabulary: %w", err)
	}
	var enc map[string]int
	if err := json.Unmarshal(raw, &enc); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object of token ids: %w", path, err)
	}
	return encoderTokens(enc, path)
}

// encoderTokens returns the tokens of a token -> id map by id; path names
// the map's source in errors.
func encoderTokens(enc map[string]int, path string) ([]string, error) {
	if len(enc) == 0 {
		return nil, fmt.Errorf("%s: empty vocabulary", path)
	}
	tokens := make([]string, len(enc))
	seen := make([]bool, len(enc))
	for tok, id := range enc {
		if id < 0 || id >= len(enc) || seen[id] {
			return nil, fmt.Errorf("%s: token %q has id %d: ids must be 0..%d, each once", path, tok, id, len(enc)-1)
		}
		tokens[id], seen[id] = tok, true
	}
	return tokens, nil
}

// readMerges reads a vocab.bpe file: an optional "#version" line, then one
// merge "left right" per line, in rank order.
func readMerges(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read merges: %w", err)
	}
	defer f.Close()
	var pairs [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || line == 1 && strings.HasPrefix(text, "#version") {
			continue
		}
		l, r, ok := strings.Cut(text, " ")
		if !ok || l == "" || r == "" || strings.Contains(r, " ") {
			return nil, fmt.Errorf("%s:%d: %q is not a merge \"left right\"", path, line, text)
		}
		pairs = append(pairs, [2]string{l, r})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return pairs, nil
}

// Save writes dir/encoder.json and dir/vocab.bpe so that LoadGPT2BPE
// restores the tokenizer.
func (t *BPE) Save(dir string) error { return t.save(dir, GPT2EncoderFile, GPT2MergesFile) }

// SaveHF writes the vocabulary under Hugging Face's names, dir/vocab.json
// and dir/merges.txt (the same contents as Save's files), its one-file
// form dir/tokenizer.json (for the tokenizers library and its ports), and a
// dir/tokenizer_config.json that names GPT2Tokenizer, so that
// AutoTokenizer.from_pretrained(dir) reads it whatever model_type the
// config says (a GPT-1 model with a byte-level BPE too), decoding ids to
// the text they came from as gptctl does (no clean-up of the spaces before
// punctuation). maxLen is the model's context, Hugging Face's
// model_max_length.
func (t *BPE) SaveHF(dir string, maxLen int) error {
	if err := t.save(dir, hfVocabFile, hfMergesFile); err != nil {
		return err
	}
	if err := t.SaveTokenizerJSON(dir); err != nil {
		return err
	}
	cfg := map[string]any{"tokenizer_class": "GPT2Tokenizer", "model_max_length": maxLen, "add_prefix_space": false,
		"clean_up_tokenization_spaces": false}
	for lit := range t.specials {
		if lit == "<|endoftext|>" {
			cfg["bos_token"], cfg["eos_token"], cfg["unk_token"] = lit, lit, lit
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, hfTokenizerConfigFile), append(b, '\n'))
}

func (t *BPE) save(dir, encName, mergesName string) error {
	visible := t.visibleTokens()
	if err := writeEncoderJSON(filepath.Join(dir, encName), visible); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("#version: 0.2\n")
	for _, m := range t.mergeLines(visible) {
		b.WriteString(m)
		b.WriteByte('\n')
	}
	if err := WriteFile(filepath.Join(dir, mergesName), b.Bytes()); err != nil {
		return fmt.Errorf("save bpe merges: %w", err)
	}
	return nil
}

// visibleTokens is the vocabulary in id order as the files write it: GPT-2's
// byte symbols, and special tokens as they are.
func (t *BPE) visibleTokens() []string {
	visible := make([]string, len(t.tokens))
	for id, tok := range t.tokens {
		visible[id] = bytesToVisible(tok)
	}
	for lit, id := range t.specials {
		visible[id] = lit
	}
	return visible
}

// mergeLines is the merges by rank as "left right", in visible's symbols.
func (t *BPE) mergeLines(visible []string) []string {
	lines := make([]string, len(t.ranked))
	for i, m := range t.ranked {
		lines[i] = visible[m[0]] + " " + visible[m[1]]
	}
	return lines
}

// SaveTokenizerJSON writes dir/tokenizer.json, Hugging Face's one-file
// form of the BPE: GPT-2's ByteLevel pre-tokenizer and decoder, the
// vocabulary and merges, and the special tokens as added tokens.
func (t *BPE) SaveTokenizerJSON(dir string) error {
	visible := t.visibleTokens()
	var added []hfAddedToken
	for _, lit := range slices.Sorted(maps.Keys(t.specials)) {
		added = append(added, hfAddedToken{ID: t.specials[lit], Content: lit, Normalized: true, Special: true})
	}
	return writeHFTokenizerJSON(dir, visible, t.mergeLines(visible), added, byteLevel(true), byteLevel(true))
}

// writeEncoderJSON writes tokens as a JSON object token -> id, in id order.
func writeEncoderJSON(path string, tokens []string) error {
	b, err := encoderJSON(tokens)
	if err != nil {
		return fmt.Errorf("save vocabulary %s: %w", path, err)
	}
	if err := WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save vocabulary: %w", err)
	}
	return nil
}

// encoderJSON is tokens as a JSON object token -> id, in id order.
func encoderJSON(tokens []string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for id, tok := range tokens {
		if id > 0 {
			b.WriteString(", ")
		}
		if err := enc.Encode(tok); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode ends with a newline
		fmt.Fprintf(&b, ": %d", id)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
