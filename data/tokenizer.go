package data

import (
	"os"
	"path/filepath"
)

// Tokenizer turns text into token ids and back.
//
// Every tokenizer gptctl ships is saved into and loaded from a directory, so a
// run directory carries the exact tokenizer its model was trained with.
type Tokenizer interface {
	// Name is a short description such as "char", "byte", "gpt2-bpe".
	Name() string
	// VocabSize is the number of ids Encode can return (the embedding rows).
	VocabSize() int
	// Encode returns the ids of text.
	Encode(text string) []int
	// Decode is the inverse of Encode.
	Decode(ids []int) string
	// EOT is the id of the end-of-text token that separates documents, or -1
	// when the vocabulary has none.
	EOT() int
	// Save writes the tokenizer into dir (which exists) so that LoadTokenizer
	// restores it.
	Save(dir string) error
}

// LoadTokenizer loads the tokenizer saved in a model directory: a char or
// byte tokenizer (tokenizer.json), a GPT-2 style BPE (encoder.json and
// vocab.bpe, or Hugging Face's vocab.json and merges.txt) or the GPT-1 BPE.
// It returns nil and no error when dir holds no tokenizer files.
func LoadTokenizer(dir string) (Tokenizer, error) {
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	if has(CharTokenizerFile) || has(GPT2EncoderFile) || has(hfVocabFile) || has(GPT1EncoderFile) {
		return resolveDir(dir)
	}
	return nil, nil
}

// SameVocabulary reports whether a and b give every id the same text, so
// that ids one of them made mean the same to the other.
func SameVocabulary(a, b Tokenizer) bool {
	if a.VocabSize() != b.VocabSize() || a.EOT() != b.EOT() {
		return false
	}
	id := []int{0}
	for id[0] = range a.VocabSize() {
		if a.Decode(id) != b.Decode(id) {
			return false
		}
	}
	return true
}
