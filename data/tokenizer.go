package data

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
