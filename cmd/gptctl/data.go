package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"gptctl/data"
	"gptctl/train"
)

// DataPrepareOptions are the flags of gptctl data prepare.
type DataPrepareOptions struct {
	Spec        string
	Data        []string
	OutDir      string
	ValFraction float64
	ShardTokens int
	Workers     int
	Out, ErrOut io.Writer
}

// NewCmdData builds gptctl data and its subcommands.
func NewCmdData() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "data",
		Short:   "Prepare corpora as token shards",
		Example: "  gptctl data prepare --tokenizer gpt2 --data 'corpus/*.txt' --out runs/corpus-gpt2",
		Args:    usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newCmdDataPrepare(nil))
	return cmd
}

func newCmdDataPrepare(runF func(*DataPrepareOptions) error) *cobra.Command {
	opts := &DataPrepareOptions{}
	def := data.DefaultPrepareOptions()
	cmd := &cobra.Command{
		Use:   "prepare --tokenizer SPEC --data FILE_OR_GLOB... --out DIR",
		Short: "Tokenize text files of any size into train and val token shards",
		Long: `prepare tokenizes the corpus on every core, streaming, and writes DIR/train_000.bin,
DIR/train_001.bin, ... and DIR/val_000.bin, ..., token shards that training
memory-maps, plus the tokenizer in DIR/tokenizer. A .jsonl file holds one
document per line, {"text": "..."}, as does a .json file whose first line is
such an object; any other file is one document. The
end-of-text token follows every document, where the tokenizer has one (char,
byte and the GPT-1 BPE have none). --val-fraction of the text, in
evenly spread chunks or documents chosen deterministically, goes to val.
--tokenizer char builds the vocabulary of the inputs' characters, as
pretrain does from its corpus. A file named twice is read once. The new
set replaces an earlier one in DIR whole, once it is all written. It prints
what it wrote as one JSON object on stdout (train_tokens, val_tokens, ...),
and the same as a line for people on stderr.`,
		Example: `  gptctl data prepare --tokenizer gpt2 --data 'corpus/*.txt' --out runs/corpus-gpt2
  gptctl data prepare --tokenizer char --data tinyshakespeare.txt --val-fraction 0.1 --out runs/shk-char
  gptctl data prepare --tokenizer tok/shk2k --data tinyshakespeare.txt --val-fraction 0.1 --out runs/shk-shards`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.ErrOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(opts)
			}
			return dataPrepareRun(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Spec, "tokenizer", "t", "", "char (the inputs' characters), "+specHelp)
	inputsFlag(f, &opts.Data, "input files or globs (repeatable, comma-separated; - is standard input); .jsonl is one document per line")
	f.StringVarP(&opts.OutDir, "out", "o", "", "directory to write the shards into")
	f.Float64Var(&opts.ValFraction, "val-fraction", def.ValFraction, "share of the text for the validation split, 0 for none")
	f.IntVar(&opts.ShardTokens, "shard-tokens", def.ShardTokens, "most tokens per shard")
	f.IntVar(&opts.Workers, "workers", 0, "encoding goroutines (default: one per CPU)")
	return cmd
}

func dataPrepareRun(opts *DataPrepareOptions) error {
	if err := checkPrepareOptions(opts); err != nil {
		return err
	}
	tok, err := prepareTokenizer(opts)
	if err != nil {
		return err
	}
	// From here a signal stops the prepare, which removes what it wrote
	// (before, nothing is written and the signal ends the process).
	errOut := terminalLog(opts.ErrOut)
	ctx, stop := signalContext(errOut)
	defer stop()
	line := newProgressLine(errOut)
	stats, err := data.Prepare(data.PrepareOptions{
		Tokenizer:   tok,
		Inputs:      opts.Data,
		OutDir:      opts.OutDir,
		ShardTokens: opts.ShardTokens,
		ValFraction: opts.ValFraction,
		Workers:     opts.Workers,
		Progress:    prepareProgress(line),
		Context:     ctx,
	})
	line.done()
	if err != nil {
		return err
	}
	return reportPrepared(opts, stats, tok)
}

// checkPrepareOptions refuses data prepare's flags when they are missing or
// out of range, or when --out holds a run, and reads --data - as standard
// input.
func checkPrepareOptions(opts *DataPrepareOptions) error {
	switch {
	case len(opts.Data) == 0:
		return &usageError{errors.New("data prepare: --data is required")}
	case opts.OutDir == "":
		return &usageError{errors.New("data prepare: --out is required")}
	case !(opts.ValFraction >= 0 && opts.ValFraction < 1): // NaN fails both
		return &usageError{fmt.Errorf("data prepare: --val-fraction %g must be in [0, 1)", opts.ValFraction)}
	case opts.ShardTokens <= 0:
		return &usageError{fmt.Errorf("data prepare: --shard-tokens %d must be positive", opts.ShardTokens)}
	case opts.Workers < 0:
		return &usageError{fmt.Errorf("data prepare: --workers %d must not be negative (0: one per CPU)", opts.Workers)}
	}
	if held := heldRun(opts.OutDir); held != "" {
		return &usageError{fmt.Errorf("data prepare: --out %s holds a gptctl run (it has %s): the shards would go in among its files; choose another --out", opts.OutDir, held)}
	}
	for i, in := range opts.Data {
		if in != "-" {
			continue
		}
		if runtime.GOOS == "windows" {
			return &usageError{errors.New("data prepare: --data -: standard input cannot be read here; give the text as a file")}
		}
		opts.Data[i] = "/dev/stdin" // standard input, as tools take -
	}
	return nil
}

// prepareTokenizer is the tokenizer --tokenizer names; char is the
// characters of the inputs, as pretrain builds it.
func prepareTokenizer(opts *DataPrepareOptions) (data.Tokenizer, error) {
	if opts.Spec != "char" {
		return resolveSpec("data prepare", opts.Spec)
	}
	start := time.Now()
	fmt.Fprintln(opts.ErrOut, "prepare: reading the inputs' characters for the char vocabulary")
	tok, err := data.CharTokenizerOf(opts.Data)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.ErrOut, "prepare: char vocabulary of %d characters in %.1fs\n", tok.VocabSize(), time.Since(start).Seconds())
	return tok, nil
}

// prepareProgress prints a prepare's progress on line: the bytes read, of
// how many when the size is known, the tokens and the rate.
func prepareProgress(line *progressLine) func(data.PrepareStats) {
	return func(s data.PrepareStats) {
		rate := float64(s.Bytes) / 1e6 / max(s.Seconds, 1e-9)
		if s.SizeUnknown { // a pipe: no total to go by
			line.print("prepare: %s, %d tokens, %.1f MB/s", humanBytes(s.Bytes), s.Tokens(), rate)
			return
		}
		line.print("prepare: %s / %s (%.0f%%), %d tokens, %.1f MB/s",
			humanBytes(s.Bytes), humanBytes(s.InputBytes), 100*float64(s.Bytes)/float64(max(s.InputBytes, 1)), s.Tokens(), rate)
	}
}

// reportPrepared writes a finished prepare's warnings and summary line to
// the log and its stats as JSON to stdout.
func reportPrepared(opts *DataPrepareOptions, stats data.PrepareStats, tok data.Tokenizer) error {
	// A share far from the one asked for: the text came in a few long
	// pieces (it is a share of the bytes on average).
	if got := float64(stats.ValTokens) / float64(max(stats.Tokens(), 1)); opts.ValFraction > 0 && (got < opts.ValFraction/2 || got > 2*opts.ValFraction) {
		fmt.Fprintf(opts.ErrOut, "prepare: warning: --val-fraction %g selected %d tokens (%.2g%%): %s\n",
			opts.ValFraction, stats.ValTokens, 100*got, valSplitWhy(stats, opts.ValFraction, tok, got < opts.ValFraction))
	}
	if shards, limit := stats.TrainShards+stats.ValShards, mapLimit(); limit > 0 && shards > limit/2 {
		fmt.Fprintf(opts.ErrOut, "prepare: warning: %d shards: pretraining maps each into memory, and a process may hold %d maps (vm.max_map_count), its own included: prepare again with a larger --shard-tokens (%d now), or raise the limit\n",
			shards, limit, opts.ShardTokens)
	}
	mbps, tps := float64(stats.Bytes)/1e6/max(stats.Seconds, 1e-9), float64(stats.Tokens())/max(stats.Seconds, 1e-9)
	fmt.Fprintf(opts.ErrOut, "prepared %s: %d docs, %s -> %d train tokens (%d shards), %d val tokens (%d shards) in %.1fs: %.1f MB/s, %.0f tokens/s\n",
		opts.OutDir, stats.Docs, humanBytes(stats.Bytes), stats.TrainTokens, stats.TrainShards, stats.ValTokens, stats.ValShards,
		stats.Seconds, mbps, tps)
	stats.Seconds = round3(stats.Seconds)
	err := printJSON(opts.Out, preparedSummary{Out: opts.OutDir, Tokenizer: tok.Name(), PrepareStats: stats, MBPerS: round3(mbps), TokensPerS: math.Round(tps)})
	if stdoutGone(err) {
		return nil // no reader left: the shards are written and kept
	}
	return err
}

// mapLimit is data.MapLimit; tests stand in for the system's.
var mapLimit = data.MapLimit

// heldRun names what shows that dir holds a pretrain or finetune run (a
// checkpoint, best/, its summary or its job config), which a prepare's
// shards would be mixed in with; "" when none does.
func heldRun(dir string) string {
	if held := train.HeldRun(dir); held != "" {
		return held
	}
	if train.IsRunDir(dir) {
		return "a run's job config, train.yaml or finetune.yaml"
	}
	return ""
}

// valSplitWhy says why a prepare's validation split is far from its share
// f of the bytes (too small, low, or too large), and what to do: the text
// came in pieces too large for the share, each going to one split whole.
func valSplitWhy(s data.PrepareStats, f float64, tok data.Tokenizer, low bool) string {
	pieces := "a .jsonl line is one piece"
	if data.CutsOf(tok) != data.CharCuts {
		pieces += fmt.Sprintf(", and a text file is cut only between words %s keeps apart, or after 1 MiB without such a point", tok.Name())
	}
	noun := "pieces"
	if s.Pieces == 1 {
		noun = "piece"
	}
	why := fmt.Sprintf("the text came in %d %s of up to %s, against a validation share of %s, and a piece goes to one split whole (%s)",
		s.Pieces, noun, humanBytes(s.LargestPiece), humanBytes(int64(f*float64(s.Bytes))), pieces)
	fix := "; give pretrain a validation file of its own (val_data) instead"
	// At a fraction of the largest piece's share, at least that piece is taken.
	if need := float64(s.LargestPiece) / float64(max(s.Bytes, 1)); low && need > f && need < 0.5 {
		unit := math.Pow(10, math.Floor(math.Log10(need))-1) // round up to two digits
		fix = fmt.Sprintf("; raise --val-fraction to %.2g or more, or give pretrain a validation file of its own (val_data)", math.Ceil(need/unit-1e-9)*unit)
	}
	return why + fix
}

// preparedSummary is data prepare's result, printed as JSON on stdout.
type preparedSummary struct {
	Out       string `json:"out"`
	Tokenizer string `json:"tokenizer"`
	data.PrepareStats
	MBPerS     float64 `json:"mb_per_s"`
	TokensPerS float64 `json:"tokens_per_s"`
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
