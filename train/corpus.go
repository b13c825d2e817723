package train

// The pretraining corpus: a text file (or the built-in corpus) tokenized in
// memory and split into training and validation streams.

import (
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"gptctl/data"
)

// InputError is bad input data (a missing or empty corpus, a model directory
// that does not fit): data's, so that one type covers the input errors of
// both packages; the CLI exits with status 2 on it.
type InputError = data.InputError

func inputErrorf(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// readText returns the text of a corpus file, or of the built-in corpus.
func readText(path string) (string, error) {
	if path == data.BuiltinCorpusName {
		return data.BuiltinCorpus(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", inputErrorf("data: %w", err)
	}
	if b = data.TrimBOM(b); len(b) == 0 {
		return "", inputErrorf("data %s: the file is empty", path)
	}
	return string(b), nil
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
	text, err := readText(cfg.Data)
	if err != nil {
		return nil, err
	}
	var valText string
	if cfg.ValData != "" {
		if valText, err = readText(cfg.ValData); err != nil {
			return nil, err
		}
	}
	if tok == nil {
		if tok, err = newTokenizer(cfg.Tokenizer, text+valText); err != nil {
			return nil, err
		}
	}
	if unk := unknownChars(tok, text+valText); len(unk) > 0 {
		return nil, inputErrorf("data %s: characters %q are not in the tokenizer's vocabulary", cfg.Data, string(unk))
	}
	c := &corpus{tok: tok, train: encode(tok, text)}
	if cfg.ValData != "" {
		c.val = encode(tok, valText)
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
