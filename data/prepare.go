package data

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// PrepareOptions says what Prepare tokenizes and where the shards go.
type PrepareOptions struct {
	Tokenizer Tokenizer
	// Inputs are files or glob patterns. A .jsonl file holds one document
	// per line, {"text": "..."}; any other file is one document of text.
	Inputs []string
	// OutDir receives train_000.bin, train_001.bin, ..., val_000.bin, ...
	// and the tokenizer in OutDir/tokenizer.
	OutDir string
	// ShardTokens is the most tokens a shard holds (0: DefaultShardTokens).
	ShardTokens int
	// ValFraction is the share of the text that goes to the validation
	// split, 0 for none. See Prepare for how it is chosen.
	ValFraction float64
	// Workers is the number of encoding goroutines (0: one per CPU).
	Workers int
	// Progress, when set, is called about twice a second and at the end.
	Progress func(PrepareStats)
	// Context, when set, stops Prepare when it is done (a signal): the
	// shards written so far are removed and an earlier set stays as it was.
	Context context.Context
}

// Defaults of PrepareOptions.
const (
	DefaultShardTokens = 100_000_000
	DefaultValFraction = 0.005
)

// DefaultPrepareOptions returns the options with their defaults set.
func DefaultPrepareOptions() PrepareOptions {
	return PrepareOptions{ShardTokens: DefaultShardTokens, ValFraction: DefaultValFraction}
}

// PrepareStats is how far Prepare has got.
type PrepareStats struct {
	Files       int     `json:"files"`
	InputBytes  int64   `json:"input_bytes"` // size of all inputs (of the files among them, when SizeUnknown)
	SizeUnknown bool    `json:"-"`           // an input is a pipe or device, of no size until read
	Bytes       int64   `json:"bytes"`       // bytes tokenized so far
	Docs        int64   `json:"docs"`
	TrainTokens int64   `json:"train_tokens"`
	ValTokens   int64   `json:"val_tokens"`
	TrainShards int     `json:"train_shards"`
	ValShards   int     `json:"val_shards"`
	Seconds     float64 `json:"seconds"`
	// Pieces are the units the text came in (a .jsonl line, a text file's
	// chunk), each wholly in one split, and LargestPiece the bytes of the
	// largest: where it is not much smaller than the validation share,
	// the split cannot come near that share.
	Pieces       int64 `json:"-"`
	LargestPiece int64 `json:"-"`
}

// Tokens returns the tokens written to both splits.
func (s PrepareStats) Tokens() int64 { return s.TrainTokens + s.ValTokens }

// Prepare tokenizes the inputs into token shards, streaming: memory stays
// bounded whatever the input size. A reader cuts the inputs into units (a
// .jsonl line, or a chunk of a text file cut where tokenization does not
// change, about InputBytes·ValFraction/8 bytes, 256 bytes to 1 MiB), workers
// encode batches of units on every core, and the results are written in
// input order. The tokenizer's EOT id follows every document (nothing when
// it has none): in train too where a document's last chunk went to val.
// The validation split is an evenly spread, deterministic share f =
// ValFraction of the bytes: a unit (a text chunk, or a .jsonl line) goes
// to it when its middle byte falls in the middle f of a period of the
// input (a unit over the smaller of f and 1-f), whatever its length
// (prepReader.isVal). A text chunk taken for val from within a document
// leaves the train text around it joined, with no end-of-text token.
// Shards hold at most ShardTokens tokens.
// Shards and tokenizer are written into a hidden directory in OutDir and
// moved into place once all are written, replacing an earlier run's whole
// set: a failed run leaves the earlier set as it was.
func Prepare(opts PrepareOptions) (_ PrepareStats, err error) {
	start := time.Now()
	var stats PrepareStats
	if err := opts.check(); err != nil {
		return stats, err
	}
	files, total, err := expandInputs(opts.Inputs)
	if err != nil {
		return stats, fmt.Errorf("prepare: %w", err)
	}
	stats.Files, stats.InputBytes, stats.SizeUnknown = len(files), total, !sizesKnown(files)
	created := FirstMissing(opts.OutDir) // what lockOutDir creates
	unlock, err := lockOutDir(opts.OutDir)
	if err != nil {
		return stats, err
	}
	defer func() {
		if err == nil || created == "" {
			unlock()
			return
		}
		// A prepare that fails leaves no --out it created behind: once its
		// stage is gone (removed before this runs), the directory holds
		// the lock file alone.
		RemoveCreated(opts.OutDir, created, filepath.Join(opts.OutDir, prepareLockFile), unlock)
	}()
	stage, err := newStage(opts.OutDir)
	if err != nil {
		return stats, fmt.Errorf("prepare: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := saveTokenizer(stage, opts.Tokenizer); err != nil {
		return stats, err
	}
	w := newPrepWriter(opts, stage)
	err = runPipeline(opts, files, total, w, &stats, start)
	if cerr := w.close(err == nil); err == nil {
		err = cerr
	}
	err = finishSet(opts, stage, w, stats.Docs, err)
	stats.TrainShards, stats.ValShards = w.train.shards, w.val.shards
	stats.Seconds = time.Since(start).Seconds()
	if err != nil {
		return stats, fmt.Errorf("prepare: %w", err)
	}
	if opts.Progress != nil {
		opts.Progress(stats)
	}
	return stats, nil
}

// saveTokenizer writes tok into the stage's tokenizer directory.
func saveTokenizer(stage string, tok Tokenizer) error {
	tokDir := filepath.Join(stage, shardTokenizerDir)
	if err := os.MkdirAll(tokDir, 0o755); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := tok.Save(tokDir); err != nil {
		return fmt.Errorf("prepare: save tokenizer: %w", err)
	}
	return nil
}

// finishSet ends a prepare whose shards were written into stage with err,
// their writer closed: a stop, err itself, or inputs that gave no text
// (docs documents) or no training text, are the error, without "prepare:";
// otherwise the manifest is written and the set moved into place.
func finishSet(opts PrepareOptions, stage string, w *prepWriter, docs int64, err error) error {
	switch {
	case opts.Context != nil && opts.Context.Err() != nil:
		err = fmt.Errorf("stopped (%v) before the end: the shards written so far are removed and %s is as it was", context.Cause(opts.Context), opts.OutDir)
	case err != nil:
	case w.text == 0: // no file, or every document empty: shards of end-of-text tokens alone
		err = &InputError{fmt.Errorf("the inputs hold no text (%s%s)", strings.Join(opts.Inputs, ", "), emptyDocs(docs))}
	case w.train.tokens == 0:
		err = &InputError{fmt.Errorf("--val-fraction %g leaves no training text: lower it", opts.ValFraction)}
	default:
		err = writeManifest(stage, opts.Tokenizer, w)
		if err == nil {
			err = publish(stage, opts.OutDir)
		}
	}
	return err
}

// FirstMissing is the outermost directory of path (path itself, or one
// above it) that does not exist, which creating path creates; "" when path
// exists.
func FirstMissing(path string) string {
	top := filepath.Clean(path)
	if _, err := os.Lstat(top); !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	for {
		up := filepath.Dir(top)
		if up == top {
			return top
		}
		if _, err := os.Lstat(up); !errors.Is(err, fs.ErrNotExist) {
			return top
		}
		top = up
	}
}

// emptyDocs says, for a message, that the docs documents of the inputs
// are all empty; "" when there are none.
func emptyDocs(docs int64) string {
	switch docs {
	case 0:
		return ""
	case 1:
		return ": the one document is empty"
	}
	return fmt.Sprintf(": the %d documents are all empty", docs)
}

func (o *PrepareOptions) check() error {
	var errs []error
	if o.Tokenizer == nil {
		errs = append(errs, errors.New("no tokenizer"))
	} else if o.Tokenizer.VocabSize() > math.MaxInt32 { // a job holds its ids as int32
		errs = append(errs, fmt.Errorf("a vocabulary of %d tokens: shards hold ids below 2^31", o.Tokenizer.VocabSize()))
	}
	if o.OutDir == "" {
		errs = append(errs, errors.New("no output directory"))
	}
	if o.ShardTokens == 0 {
		o.ShardTokens = DefaultShardTokens
	}
	if o.ShardTokens < 0 {
		errs = append(errs, fmt.Errorf("shard tokens %d must be positive", o.ShardTokens))
	}
	if !(o.ValFraction >= 0 && o.ValFraction < 1) { // NaN fails both
		errs = append(errs, fmt.Errorf("val fraction %g must be in [0, 1)", o.ValFraction))
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}
