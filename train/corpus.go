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

// corpusText is a corpus read into memory: its documents, the lines of a
// .jsonl file ({"text": ...}) or the whole text of any other file, from one
// file or from every file a glob pattern matches, in name order.
type corpusText struct {
	path string
	docs []string
}

// readCorpus reads a corpus file or the files of a glob pattern
// (data.ReadDocuments each), or the built-in corpus.
func readCorpus(path string) (*corpusText, error) {
	c := &corpusText{path: path}
	if path == data.BuiltinCorpusName {
		c.docs = []string{data.BuiltinCorpus()}
		return c, nil
	}
	files := []string{path}
	if isGlob(path) {
		var err error
		if files, err = data.ExpandInputs(files); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	n := 0
	for _, f := range files {
		err := data.ReadDocuments(f, func(doc string) error {
			c.docs = append(c.docs, doc)
			n += len(doc)
			return nil
		})
		if err != nil {
			return nil, readError(f, err, n)
		}
	}
	if err := readError(path, nil, n); err != nil {
		return nil, err
	}
	return c, nil
}

// isGlob reports whether a corpus path is a pattern of files.
func isGlob(path string) bool { return strings.ContainsAny(path, "*?[") }

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
		// Several documents are kept apart by the tokenizer's end-of-text
		// token, as data prepare writes them; one text file is as it is.
		if eot := tok.EOT(); eot >= 0 && len(c.docs) > 1 {
			ids = append(ids, int32(eot))
		}
	}
	return ids, nil
}

// corpus is the tokenizer with the training and validation data.
type corpus struct {
	tok        data.Tokenizer
	train, val split
}

// split is the training or the validation data: tokens in memory, or token
// shards read through memory maps.
type split struct {
	mem Tokens
	sh  *data.ShardSet
}

func (s split) len() int64 {
	if s.sh != nil {
		return s.sh.Len()
	}
	return int64(len(s.mem))
}

func (s split) sampler(t int, seed uint64) (batchSource, error) {
	if s.sh != nil {
		return newShardSampler(s.sh, t, seed)
	}
	return NewSampler(s.mem, t, seed)
}

// samplers returns the training and validation batch sources.
func (c *corpus) samplers(t int, seed uint64) (train, val batchSource, err error) {
	if train, err = c.train.sampler(t, seed+2); err == nil {
		val, err = c.val.sampler(t, seed+3)
	}
	if err != nil {
		return nil, nil, &InputError{Err: err}
	}
	return train, val, nil
}

func (c *corpus) close() {
	for _, s := range []split{c.train, c.val} {
		if s.sh != nil {
			s.sh.Close()
		}
	}
}

// loadCorpus reads and tokenizes cfg.Data, or opens the training shards of
// a directory made by gptctl data prepare, and the validation data: the
// file or the shards of cfg.ValData, else the tail of a text corpus or the
// val shards of a directory. tok is the tokenizer of a resumed run, or nil
// to build one from cfg.Tokenizer (a directory's own by default).
func loadCorpus(cfg Config, tok data.Tokenizer) (*corpus, error) {
	c := &corpus{}
	if err := c.load(cfg, tok); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *corpus) load(cfg Config, tok data.Tokenizer) error {
	dataDir, valDir := isDir(cfg.Data), cfg.ValData != "" && isDir(cfg.ValData)
	text, val, err := readTexts(cfg, dataDir, valDir)
	if err != nil {
		return err
	}
	ownTok := false // tok is the one saved beside the shards of cfg.Data
	if tok == nil {
		if tok, ownTok, err = corpusTokenizer(cfg, dataDir, text, val); err != nil {
			return err
		}
	}
	c.tok = tok
	if err := checkShardTokenizers(cfg, tok, dataDir && !ownTok, valDir); err != nil {
		return err
	}
	if dataDir {
		err = c.train.openShards(cfg.Data, "train", tok)
	} else {
		c.train.mem, err = text.encode(tok)
	}
	if err != nil {
		return err
	}
	if err := c.loadVal(cfg, val, dataDir, valDir); err != nil {
		return err
	}
	need := cfg.T() + 2
	if (c.train.sh == nil && len(c.train.mem) < need) || (c.val.sh == nil && len(c.val.mem) < need) {
		return inputErrorf("data %s: %d training and %d validation tokens; windows of %d need at least %d each (use a longer corpus or a smaller seq_len)",
			cfg.Data, c.train.len(), c.val.len(), cfg.T(), need)
	}
	return nil
}

// readTexts reads the text corpora of a run: cfg.Data unless it is a
// directory of shards (dataDir), and cfg.ValData when it is set and not
// one (valDir); nil for those not read.
func readTexts(cfg Config, dataDir, valDir bool) (text, val *corpusText, err error) {
	if !dataDir {
		if text, err = readCorpus(cfg.Data); err != nil {
			return nil, nil, err
		}
	}
	if cfg.ValData != "" && !valDir {
		if val, err = readCorpus(cfg.ValData); err != nil {
			return nil, nil, err
		}
	}
	return text, val, nil
}

// checkShardTokenizers compares tok with the tokenizer saved beside the
// shards of cfg.Data (when checkData) and of cfg.ValData (a directory of
// shards, valDir, other than cfg.Data): each directory's saved tokenizer is
// read and compared once.
func checkShardTokenizers(cfg Config, tok data.Tokenizer, checkData, valDir bool) error {
	if checkData {
		if err := checkSavedTokenizer(cfg.Data, tok); err != nil {
			return err
		}
	}
	if valDir && cfg.ValData != cfg.Data {
		if err := checkSavedTokenizer(cfg.ValData, tok); err != nil {
			return err
		}
	}
	return nil
}

// loadVal sets the validation data: the shards of cfg.ValData (valDir) or
// its text val, else the val shards of cfg.Data (dataDir), else the tail
// val_fraction of the training tokens, which it takes from them.
func (c *corpus) loadVal(cfg Config, val *corpusText, dataDir, valDir bool) error {
	var err error
	switch {
	case valDir: // a held-out set prepared alone has only training shards
		prefix := "val"
		if onlyTrainShards(cfg.ValData) {
			prefix = "train"
		}
		err = c.val.openShards(cfg.ValData, prefix, c.tok)
	case val != nil:
		c.val.mem, err = val.encode(c.tok)
	case dataDir:
		if onlyTrainShards(cfg.Data) {
			return inputErrorf("data %s: no validation shards (data prepare wrote none: --val-fraction 0, or too little text for the fraction); prepare it with a larger --val-fraction, or set val_data to a held-out file or shard directory", cfg.Data)
		}
		err = c.val.openShards(cfg.Data, "val", c.tok)
	default:
		n := int(float64(len(c.train.mem)) * (1 - cfg.ValFraction))
		c.train.mem, c.val.mem = c.train.mem[:n], c.train.mem[n:]
	}
	return err
}

// corpusTokenizer is the tokenizer cfg.Tokenizer names; for a directory of
// shards, unless the config names a vocabulary or a tokenizer directory,
// the one prepare saved in DIR/tokenizer (own reports that case).
func corpusTokenizer(cfg Config, dataDir bool, text, val *corpusText) (tok data.Tokenizer, own bool, err error) {
	if !dataDir {
		all := text.text()
		if val != nil {
			all += val.text()
		}
		tok, err = newTokenizer(cfg.Tokenizer, all)
		return tok, false, err
	}
	if err := data.CheckPrepared(cfg.Data); err != nil {
		return nil, false, err
	}
	spec := cfg.Tokenizer
	if spec == "char" || spec == "" { // the default: the one the shards were made with
		spec, own = filepath.Join(cfg.Data, "tokenizer"), true
	}
	if tok, err = data.ResolveTokenizer(spec); err != nil {
		return nil, false, &InputError{Err: fmt.Errorf("data %s: %w", cfg.Data, err)}
	}
	return tok, own, nil
}

// openShards opens the prefix shards of dir, whose ids must fit tok's
// vocabulary (checkSavedTokenizer compares the tokenizer saved beside
// them, once per directory).
func (s *split) openShards(dir, prefix string, tok data.Tokenizer) error {
	set, err := data.OpenShardSet(dir, prefix)
	if err != nil {
		return &InputError{Err: err}
	}
	if v := set.VocabSize(); v > tok.VocabSize() {
		set.Close()
		return inputErrorf("data %s: the shards hold ids up to %d, the tokenizer %s has %d", dir, v, tok.Name(), tok.VocabSize())
	}
	s.sh = set
	return nil
}

// onlyTrainShards reports whether dir was prepared without a validation
// split: training shards and no val shards.
func onlyTrainShards(dir string) bool {
	count := func(prefix string) int {
		n, _ := filepath.Glob(filepath.Join(dir, prefix+"_*.bin"))
		return len(n)
	}
	return count("val") == 0 && count("train") > 0
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
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

// checkedEncode encodes text from file, refusing characters a char
// tokenizer does not have.
func checkedEncode(tok data.Tokenizer, file, text string) (Tokens, error) {
	if unk := data.UnknownChars(tok, text); len(unk) > 0 {
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

// checkSavedTokenizer refuses a shard directory whose saved tokenizer
// (DIR/tokenizer, as gptctl data prepare writes it) has another vocabulary
// than tok: its ids would mean other text.
func checkSavedTokenizer(dir string, tok data.Tokenizer) error {
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
