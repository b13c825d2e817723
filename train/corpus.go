package train

// The pretraining corpus: a text or .jsonl file (or the built-in corpus)
// tokenized in memory and split into training and validation streams, or
// the token shards of gptctl data prepare.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"gptctl/data"
)

// InputError is bad input data (a missing or empty corpus, a model directory
// that does not fit): data's, so that one type covers the input errors of
// both packages; the CLI exits with status 2 on it.
type InputError = data.InputError

func inputErrorf(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// corpusText is a corpus file read into memory: its documents, the lines
// of a .jsonl file ({"text": ...}) or the whole text of any other file.
type corpusText struct {
	path string
	docs []string
}

// readCorpus reads a corpus file (data.ReadDocuments), or the built-in
// corpus.
func readCorpus(path string) (*corpusText, error) {
	c := &corpusText{path: path}
	if path == data.BuiltinCorpusName {
		c.docs = []string{data.BuiltinCorpus()}
		return c, nil
	}
	n := 0
	err := data.ReadDocuments(path, func(doc string) error {
		c.docs = append(c.docs, doc)
		n += len(doc)
		return nil
	})
	if err := readError(path, err, n); err != nil {
		return nil, err
	}
	return c, nil
}

// readError is the outcome of reading n bytes of text from corpus file path:
// its input errors as they are, other errors (the file's) as input errors,
// and nothing read as an empty file; nil when there is text.
func readError(path string, err error, n int) error {
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return err
	case err != nil:
		return inputErrorf("data: %w", err)
	case n == 0:
		return inputErrorf("data %s: the file is empty", path)
	}
	return nil
}

// jsonl reports whether the documents are the lines of a .jsonl file: each
// is then followed by the tokenizer's end-of-text token, as data prepare
// writes them (a text file is one document with none after it).
func (c *corpusText) jsonl() bool { return strings.HasSuffix(c.path, ".jsonl") }

// text is the documents joined, for building a char vocabulary.
func (c *corpusText) text() string { return strings.Join(c.docs, "") }

// encode returns the ids of the documents, refusing characters a char
// tokenizer does not have.
func (c *corpusText) encode(tok data.Tokenizer) (Tokens, error) {
	var ids Tokens
	for _, doc := range c.docs {
		part, err := checkedEncode(tok, c.path, doc)
		if err != nil {
			return nil, err
		}
		ids = append(ids, part...)
		if eot := tok.EOT(); eot >= 0 && c.jsonl() {
			ids = append(ids, int32(eot))
		}
	}
	return ids, nil
}

// corpus is the training and validation data: text tokenized in memory, or
// token shards read through memory maps.
type corpus struct {
	tok              data.Tokenizer
	train, val       Tokens
	trainSh, valSh   *data.ShardSet
	trainLen, valLen int64
}

// samplers returns the training and validation batch sources.
func (c *corpus) samplers(t int, seed uint64) (train, val batchSource, err error) {
	if c.trainSh != nil {
		if train, err = newShardSampler(c.trainSh, t, seed+2); err == nil {
			val, err = newShardSampler(c.valSh, t, seed+3)
		}
	} else if train, err = NewSampler(c.train, t, seed+2); err == nil {
		val, err = NewSampler(c.val, t, seed+3)
	}
	if err != nil {
		return nil, nil, &InputError{Err: err}
	}
	return train, val, nil
}

func (c *corpus) close() {
	if c.trainSh != nil {
		c.trainSh.Close()
		c.valSh.Close()
	}
}

// loadCorpus reads and tokenizes cfg.Data (and cfg.ValData), or opens the
// shards of a directory made by gptctl data prepare. tok is the tokenizer
// of a resumed run, or nil to build one from cfg.Tokenizer.
func loadCorpus(cfg Config, tok data.Tokenizer) (*corpus, error) {
	if fi, err := os.Stat(cfg.Data); err == nil && fi.IsDir() {
		return loadShards(cfg, tok)
	}
	text, err := readCorpus(cfg.Data)
	if err != nil {
		return nil, err
	}
	val := &corpusText{}
	if cfg.ValData != "" {
		if val, err = readCorpus(cfg.ValData); err != nil {
			return nil, err
		}
	}
	if tok == nil {
		if tok, err = newTokenizer(cfg.Tokenizer, text.text()+val.text()); err != nil {
			return nil, err
		}
	}
	c := &corpus{tok: tok}
	if c.train, err = text.encode(tok); err != nil {
		return nil, err
	}
	if cfg.ValData != "" {
		if c.val, err = val.encode(tok); err != nil {
			return nil, err
		}
	} else {
		n := int(float64(len(c.train)) * (1 - cfg.ValFraction))
		c.train, c.val = c.train[:n], c.train[n:]
	}
	c.trainLen, c.valLen = int64(len(c.train)), int64(len(c.val))
	need := cfg.T() + 2
	if len(c.train) < need || len(c.val) < need {
		return nil, inputErrorf("data %s: %d training and %d validation tokens; windows of %d need at least %d each (use a longer corpus or a smaller seq_len)",
			cfg.Data, len(c.train), len(c.val), cfg.T(), need)
	}
	return c, nil
}

func newTokenizer(spec, text string) (data.Tokenizer, error) {
	switch spec {
	case "char":
		if !utf8.ValidString(text) {
			return nil, inputErrorf("data: the corpus is not valid UTF-8 (use tokenizer: byte)")
		}
		return data.NewCharTokenizer(text), nil
	case "byte":
		return data.ByteTokenizer{}, nil
	}
	tok, err := data.ResolveTokenizer(spec)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return tok, nil
}

// unknownChars returns the distinct characters of text that tok, when it
// is char-level, would drop; nil for other tokenizers, which encode any text.
func unknownChars(tok data.Tokenizer, text string) []rune {
	if ct, ok := tok.(*data.CharTokenizer); ok {
		return ct.Unknown(text)
	}
	return nil
}

// checkedEncode encodes text from file, refusing characters a char
// tokenizer does not have.
func checkedEncode(tok data.Tokenizer, file, text string) (Tokens, error) {
	if unk := unknownChars(tok, text); len(unk) > 0 {
		return nil, inputErrorf("data %s: characters %q are not in the model's vocabulary", file, string(unk))
	}
	return encode(tok, text), nil
}

func encode(tok data.Tokenizer, text string) Tokens {
	ids := tok.Encode(text)
	out := make(Tokens, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// loadShards opens DIR/train_*.bin and DIR/val_*.bin. The tokenizer is the
// one prepare saved in DIR/tokenizer unless the config names another.
func loadShards(cfg Config, tok data.Tokenizer) (*corpus, error) {
	c := &corpus{}
	var err error
	if c.trainSh, err = data.OpenShardSet(cfg.Data, "train"); err != nil {
		return nil, &InputError{Err: err}
	}
	if c.valSh, err = data.OpenShardSet(cfg.Data, "val"); err != nil {
		c.trainSh.Close()
		return nil, &InputError{Err: err}
	}
	if tok == nil {
		spec := cfg.Tokenizer
		if spec == "char" || spec == "byte" || spec == "" {
			spec = filepath.Join(cfg.Data, "tokenizer")
		}
		if tok, err = data.ResolveTokenizer(spec); err != nil {
			c.trainSh.Close()
			c.valSh.Close()
			return nil, &InputError{Err: fmt.Errorf("data %s: %w", cfg.Data, err)}
		}
	}
	c.tok = tok
	if err := checkShardTokenizer(cfg.Data, c.trainSh, tok); err != nil {
		c.close()
		return nil, err
	}
	c.trainLen, c.valLen = c.trainSh.Len(), c.valSh.Len()
	return c, nil
}

// checkShardTokenizer refuses shards that tok did not make: ids beyond its
// vocabulary, or a tokenizer saved beside them (DIR/tokenizer, as gptctl
// data prepare writes it) with another vocabulary.
func checkShardTokenizer(dir string, set *data.ShardSet, tok data.Tokenizer) error {
	if v := set.VocabSize(); v > tok.VocabSize() {
		return inputErrorf("data %s: the shards hold ids up to %d, the tokenizer %s has %d", dir, v, tok.Name(), tok.VocabSize())
	}
	saved, err := data.LoadTokenizer(filepath.Join(dir, "tokenizer"))
	if err != nil {
		return &InputError{Err: fmt.Errorf("data %s: %w", dir, err)}
	}
	if saved != nil && !data.SameVocabulary(saved, tok) {
		return inputErrorf("data %s: the shards were made with another tokenizer (%s, %d tokens in %s) than this run's (%s, %d tokens); prepare them again with --tokenizer set to the model's directory",
			dir, saved.Name(), saved.VocabSize(), filepath.Join(dir, "tokenizer"), tok.Name(), tok.VocabSize())
	}
	return nil
}
