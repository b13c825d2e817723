package train

// The pretraining corpus: a text or .jsonl file (or the built-in corpus)
// tokenized in memory and split into training and validation streams, or
// the token shards of gptctl data prepare.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gptctl/data"
)

// InputError is bad input data (a missing or empty corpus, a model directory
// that does not fit): data's, so that one type covers the input errors of
// both packages; the CLI exits with status 2 on it.
type InputError = data.InputError

func inputErrorf(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// corpus is the tokenizer with the training and validation data.
type corpus struct {
	tok        data.Tokenizer
	train, val split
}

// split is the training or the validation data: tokens in memory, or token
// shards read through memory maps.
type split struct {
	mem memTokens
	sh  *data.ShardSet
}

func (s split) len() int64 {
	switch {
	case s.sh != nil:
		return s.sh.Len()
	case s.mem != nil:
		return int64(s.mem.Len())
	}
	return 0
}

func (s split) sampler(t int, seed uint64) (batchSource, error) {
	if s.sh != nil {
		return newShardSampler(s.sh, t, seed)
	}
	return NewSampler(s.mem, t, seed)
}

// samplers returns the training and validation batch sources.
func (c *corpus) samplers(t int, seed uint64) (train, val batchSource, err error) {
	if train, err = c.train.sampler(t, seed+2); err != nil {
		return nil, nil, inputErrorf("training data: %w", err)
	}
	if val, err = c.val.sampler(t, seed+3); err != nil {
		return nil, nil, inputErrorf("validation data: %w", err)
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

// bigCorpus is the size of text corpus from which pretraining says that
// it reads it into memory, which takes a while.
const bigCorpus = 256 << 20

// loadCorpus reads and tokenizes cfg.Data, or opens the training shards of
// a directory made by gptctl data prepare, and the validation data: the
// file or the shards of cfg.ValData, else the tail of a text corpus or the
// val shards of a directory. tok is the tokenizer of a resumed run, or nil
// to build one from cfg.Tokenizer (a directory's own by default). A
// cancelled ctx stops it within a piece of text or a stride of shard
// tokens, with errLoadStopped.
func loadCorpus(ctx context.Context, cfg Config, tok data.Tokenizer, log io.Writer) (*corpus, error) {
	c := &corpus{}
	if !isDir(cfg.Data) {
		spec := cfg.Tokenizer
		if tok != nil {
			spec = tok.Name()
		}
		if err := fitsCorpus("data", cfg.Data, spec); err != nil {
			return nil, err
		}
		if n := corpusBytes(cfg.Data); n >= bigCorpus {
			fmt.Fprintf(log, "data %s: reading %.1f GB of text into memory as token ids (gptctl data prepare writes token shards, which pretraining reads from disk)\n", cfg.Data, float64(n)/1e9)
		}
	}
	if err := c.load(ctx, cfg, tok); err != nil {
		c.close()
		return nil, err
	}
	if f := trainedValFile(cfg); f != "" {
		fmt.Fprintf(log, "data: warning: val_data %s is one of the training files (%s): the validation loss, best/ and patience score text the model trains on; keep the held-out file out of data's\n", f, cfg.Data)
	}
	return c, nil
}

// trainedValFile is a file of the text corpus val_data that the corpus
// data holds too ("" for none): val_data data.txt beside data data.txt, or
// a val.txt among data's corpus/*.txt.
func trainedValFile(cfg Config) string {
	files := func(path string) []string {
		if path == "" || path == data.BuiltinCorpusName || isDir(path) {
			return nil
		}
		return corpusFiles(path)
	}
	trained := files(cfg.Data)
	for _, v := range files(cfg.ValData) {
		vi, err := os.Stat(v)
		if err != nil {
			continue
		}
		for _, f := range trained {
			if fi, err := os.Stat(f); err == nil && os.SameFile(vi, fi) {
				return v
			}
		}
	}
	return ""
}

// load is loadCorpus into c: the tokenizer (tok, or one built), the
// training data, then the validation data, refused when they are too short
// for one window.
func (c *corpus) load(ctx context.Context, cfg Config, tok data.Tokenizer) error {
	dataDir, valDir := isDir(cfg.Data), cfg.ValData != "" && isDir(cfg.ValData)
	valText := ""
	if cfg.ValData != "" && !valDir {
		valText = cfg.ValData
	}
	ownTok := false // tok is the one saved beside the shards of cfg.Data
	if tok == nil {
		var err error
		if tok, ownTok, err = corpusTokenizer(ctx, cfg, dataDir, valText); err != nil {
			return err
		}
	}
	c.tok = tok
	if err := checkShardTokenizers(cfg, tok, dataDir && !ownTok, valDir); err != nil {
		return err
	}
	if err := c.loadTrain(ctx, cfg.Data, dataDir); err != nil {
		return err
	}
	if err := c.loadVal(ctx, cfg, valText, dataDir, valDir); err != nil {
		return err
	}
	return c.checkWindows(cfg, valText)
}

// loadTrain sets the training data: the train shards of the directory
// path (dataDir), else the text corpus path, tokenized.
func (c *corpus) loadTrain(ctx context.Context, path string, dataDir bool) error {
	if dataDir {
		return c.train.openCheckedShards(ctx, "data", path, []string{"train"}, c.tok)
	}
	var err error
	c.train.mem, err = encodeCorpusContext(ctx, "data", path, c.tok)
	return err
}

// checkWindows refuses training or validation tokens in memory too few for
// one window of cfg's sequence length, naming the val_data file valText
// where it is the one short, else the corpus.
func (c *corpus) checkWindows(cfg Config, valText string) error {
	need := int64(cfg.T() + 1) // one window: t inputs and the target after them
	switch {
	case c.val.sh == nil && c.val.len() < need && valText != "":
		fix := "use a longer validation file"
		if cfg.T() > 1 {
			fix += " or a smaller seq_len"
		}
		return inputErrorf("val_data %s: %d tokens; windows of %d need at least %d (%s)",
			valText, c.val.len(), cfg.T(), need, fix)
	case (c.train.sh == nil && c.train.len() < need) || (c.val.sh == nil && c.val.len() < need):
		fix := "use a longer corpus"
		if c.train.sh == nil && c.train.len() >= need && c.val.sh == nil && valText == "" {
			// Only the held-out tail is short.
			fix = fmt.Sprintf("raise val_fraction (%g), name a val_data file, or use a longer corpus", cfg.ValFraction)
		}
		if cfg.T() > 1 {
			fix += " or a smaller seq_len"
		}
		return inputErrorf("data %s: %d training and %d validation tokens; windows of %d need at least %d each (%s)",
			cfg.Data, c.train.len(), c.val.len(), cfg.T(), need, fix)
	}
	return nil
}

// loadVal sets the validation data: the shards of cfg.ValData (valDir) or
// the text corpus valText, else the val shards of cfg.Data (dataDir), else
// the tail val_fraction of the training tokens, which it takes from them.
func (c *corpus) loadVal(ctx context.Context, cfg Config, valText string, dataDir, valDir bool) error {
	var err error
	switch {
	case valDir:
		err = c.val.openCheckedShards(ctx, "val_data", cfg.ValData, heldOutPrefixes(cfg), c.tok)
	case valText != "":
		c.val.mem, err = encodeCorpusContext(ctx, "val_data", valText, c.tok)
	case dataDir:
		if onlyTrainShards(cfg.Data) {
			return inputErrorf("data %s: no validation shards (data prepare wrote none: --val-fraction 0, or too little text for the fraction); prepare it with a larger --val-fraction, or set val_data to a held-out file or shard directory", cfg.Data)
		}
		err = c.val.openCheckedShards(ctx, "data", cfg.Data, []string{"val"}, c.tok)
	default:
		all := c.train.mem
		n := int(float64(all.Len()) * (1 - cfg.ValFraction))
		c.train.mem, c.val.mem = all.slice(0, n), all.slice(n, all.Len())
	}
	return err
}

// modelDir is what makes dir a model or run directory (a checkpoint, a
// model file, a job's config), "" for none.
func modelDir(dir string) string {
	if held := HeldRun(dir); held != "" {
		return held
	}
	for _, f := range []string{modelFile, "config.json", jobFile, finetuneJobFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return f
		}
	}
	return ""
}

// corpusTokenizer is the tokenizer cfg.Tokenizer names (a char vocabulary
// of the text corpora cfg.Data and valText); for a directory of shards, unless the config names a vocabulary or a tokenizer directory,
// the one prepare saved in DIR/tokenizer (own reports that case).
func corpusTokenizer(ctx context.Context, cfg Config, dataDir bool, valText string) (tok data.Tokenizer, own bool, err error) {
	if !dataDir {
		tok, err = newTokenizer(ctx, cfg.Tokenizer, cfg.Data, valText)
		if err != nil && cfg.Tokenizer != "char" && cfg.Tokenizer != "byte" {
			err = cfg.named(err) // the tokenizer key's value, not the corpus
		}
		return tok, false, err
	}
	if err := data.CheckPrepared(cfg.Data); err != nil {
		return nil, false, err
	}
	if shards, _ := data.ShardFiles(cfg.Data, "train"); len(shards) == 0 {
		if what := modelDir(cfg.Data); what != "" {
			return nil, false, inputErrorf("data %s is a model or run directory (it has %s), not a corpus: --init %s (or init_from) starts from its weights; data names the text to train on", cfg.Data, what, cfg.Data)
		}
		return nil, false, inputErrorf("data %s is a directory without token shards (train_*.bin): prepare it with gptctl data prepare --out %s (a prepare into it that did not finish left none), or name its text files (%s)",
			cfg.Data, cfg.Data, filepath.Join(cfg.Data, "*.txt"))
	}
	spec := cfg.Tokenizer
	if spec == "char" || spec == "" { // the default: the one the shards were made with
		spec, own = filepath.Join(cfg.Data, "tokenizer"), true
		if !isDir(spec) {
			return nil, false, noShardTokenizer("data", cfg.Data, "read as text")
		}
	}
	if tok, err = data.ResolveTokenizer(spec); err != nil && own { // the one saved beside the shards
		return nil, false, &InputError{Err: fmt.Errorf("data %s: %w", cfg.Data, err)}
	} else if err != nil { // the tokenizer key's value, not the shards: named where it was set, as for a text corpus
		return nil, false, cfg.named(&InputError{Err: err})
	}
	return tok, own, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
