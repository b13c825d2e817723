package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"gptctl/data"
	"gptctl/train"
)

// PredictOptions are the flags of gptctl predict.
type PredictOptions struct {
	ModelDir string
	DataPath string
	OutPath  string
	train.InferOptions
	Out io.Writer
}

// NewCmdPredict builds gptctl predict; runF replaces the run in tests.
func NewCmdPredict(runF func(*PredictOptions) error) *cobra.Command {
	opts := &PredictOptions{}
	cmd := &cobra.Command{
		Use:   "predict --model DIR --data FILE [--out preds.jsonl]",
		Short: "Score a task file with a finetuned model, one JSON line per row",
		Long: `predict reads FILE with the columns the model was finetuned on (the label
column may be absent or empty) and writes one JSON object per row, in file
order: {"line": N, "label": L, "probabilities": {...}} (in class order) for
classification and multiple choice, {"line": N, "score": S} for regression.
LINE is the row's line in FILE. FILE is read twice, whatever its size (a
headerless TSV or CSV four times, each reading counting its row widths
first): first to check every row, then 4,096 rows at a time, their
predictions written before it reads on (a pipe is read into memory). A row that cannot be read
(a missing column, bad JSON) stops predict before its first prediction, with
its file and line (exit 2); with --skip-bad-rows it gets no prediction and
is reported on stderr (a CSV syntax error, such as a stray quote, always
stops: past it, where rows start is unknown). --out is written atomically;
it may not be the --data file, nor a file in the model directory other than
a .jsonl of earlier predictions. Without --out the predictions go to stdout
as they are made: after a later error (a full disk, a file that changed
since it was checked), those of the rows before it stay printed.
SIGINT, SIGTERM, SIGHUP or SIGUSR1 stop predict between batches with status
1, --out not written. On Linux --out is written without a name until it is
complete, so not even a SIGKILL leaves a file behind; elsewhere (or on a file
system without O_TMPFILE) a SIGKILL leaves its temporary file, .NAME.tmp-*.
On a GPU (--device auto finds a usable one) the products run in float32, so
both devices give the same predictions.`,
		Example: `  gptctl predict --model runs/ft-sst2/best --data new-reviews.tsv --out preds.jsonl
  gptctl predict --model runs/ft-stsb --data pairs.tsv | jq .score`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := requireFlags("model", opts.ModelDir, "data", opts.DataPath); err != nil {
				return err
			}
			if err := checkInferFlags(&opts.InferOptions); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return predictRun(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ModelDir, "model", "m", "", "finetuned model: a gptctl finetune run, its best/ or checkpoint/")
	onceFlag(f, &opts.DataPath, "data", "d", "task file (TSV, CSV or JSONL) with the model's columns", "predict reads one task file a run")
	f.StringVarP(&opts.OutPath, "out", "o", "", "output JSONL file (default stdout)")
	f.IntVar(&opts.Batch, "batch-size", 32, "examples per forward pass")
	addFormatFlag(f, &opts.InferOptions)
	addInferFlags(f, &opts.InferOptions)
	return cmd
}

// noteModel writes what a reader of the model directory dir should know
// (a damaged latest checkpoint passed over for the one before it) to log;
// it fails where dir holds no model.
func noteModel(log io.Writer, dir string) error {
	_, note, err := train.ModelDirNote(dir)
	if err != nil {
		return &train.InputError{Err: err}
	}
	if note != "" {
		fmt.Fprintln(log, "note:", note)
	}
	return nil
}

func predictRun(opts *PredictOptions) error {
	if err := noteModel(opts.Log, opts.ModelDir); err != nil {
		return err
	}
	if !train.IsTaskModel(opts.ModelDir) {
		return &train.InputError{Err: fmt.Errorf("model %s has no task.json: predict needs a finetuned model (gptctl finetune)", opts.ModelDir)}
	}
	if opts.OutPath != "" && opts.OutPath != "-" { // before the work, not after
		if fi, err := os.Stat(filepath.Dir(opts.OutPath)); err != nil || !fi.IsDir() {
			return &usageError{fmt.Errorf("--out %s: %s is not a directory (create it first)", opts.OutPath, filepath.Dir(opts.OutPath))}
		}
		if fi, err := os.Stat(opts.OutPath); err == nil && fi.IsDir() {
			return &usageError{fmt.Errorf("--out %s is a directory: name the file to write", opts.OutPath)}
		}
		if err := checkPredictOut(opts.OutPath, opts.DataPath, opts.ModelDir); err != nil {
			return &usageError{err}
		}
		// The first predictions are written after the first chunk's work: a
		// directory that takes no file is found before any of it.
		if err := takesFiles(filepath.Dir(opts.OutPath)); err != nil {
			return &usageError{fmt.Errorf("--out %s: %w (name a file in a directory you can write)", opts.OutPath, err)}
		}
	}
	// A signal stops predict between batches; --out is then not written
	// (its temporary file is removed) and the status is 1.
	ctx, stop := signalContext(opts.Log)
	defer stop()
	opts.Context = ctx
	line := newProgressLine(opts.Log)
	defer line.done()
	opts.Progress = line.counter("predict", "examples")
	if opts.OutPath == "" || opts.OutPath == "-" {
		_, err := train.PredictTask(opts.ModelDir, opts.DataPath, opts.Out, opts.InferOptions)
		return err
	}
	var n int
	err := data.WriteFileAtomic(opts.OutPath, func(w io.Writer) error {
		var err error
		n, err = train.PredictTask(opts.ModelDir, opts.DataPath, w, opts.InferOptions)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: --out %s is not written", err, opts.OutPath)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.Log, "wrote %d predictions to %s\n", n, opts.OutPath)
	return err
}

// takesFiles reports whether a file can be made in dir, by making one and
// removing it: an output found unwritable before the work, not after.
func takesFiles(dir string) error {
	probe, err := os.CreateTemp(dir, ".gptctl-probe-*")
	if err != nil {
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// addInferFlags adds the flags eval and predict share besides --batch-size.
func addInferFlags(f *pflag.FlagSet, o *train.InferOptions) {
	f.StringVar(&o.Device, "device", "auto", "auto, cpu or cuda")
	f.IntVar(&o.Threads, "threads", 0, "CPU threads (0: all cores)")
}

// addFormatFlag adds --format, for task files whose name does not say it.
func addFormatFlag(f *pflag.FlagSet, o *train.InferOptions) {
	f.StringVar(&o.Format, "format", "", "task file format, tsv, csv or jsonl (default: from the extension, else the model's)")
	f.BoolVar(&o.SkipBadRows, "skip-bad-rows", false, "task file: skip rows that cannot be read, reporting them, instead of stopping at the first (skip_bad_rows of the finetune or --task config does not carry over)")
}

// checkInferFlags refuses bad values of the inference flags.
func checkInferFlags(o *train.InferOptions) error {
	switch {
	case o.Batch <= 0:
		return &usageError{errBatch(o.Batch)}
	case o.Device != "auto" && o.Device != "cpu" && o.Device != "cuda":
		return &usageError{fmt.Errorf("--device %q is not auto, cpu or cuda", o.Device)}
	case o.Threads < 0 || o.Threads > train.MaxThreads:
		return &usageError{fmt.Errorf("--threads %d is not in [0, %d] (0: all cores)", o.Threads, train.MaxThreads)}
	case o.Format != "" && o.Format != "tsv" && o.Format != "csv" && o.Format != "jsonl":
		return &usageError{fmt.Errorf("--format %q is not tsv, csv or jsonl", o.Format)}
	}
	return nil
}

// checkPredictOut refuses an --out that would replace the data file being
// read or a file of the model directory (its weights, configs, metrics):
// a slip of tab completion that the atomic write would otherwise carry
// out. Another .jsonl file there (earlier predictions) may be replaced.
func checkPredictOut(out, dataPath, modelDir string) error {
	fo, err := os.Lstat(out) // a link is replaced, not its target
	if err != nil {
		return nil // a new file
	}
	if fd, err := os.Stat(dataPath); err == nil && os.SameFile(fo, fd) {
		return fmt.Errorf("--out %s is the --data file: the predictions would replace the data; name another file", out)
	}
	absOut, err1 := filepath.Abs(out)
	absModel, err2 := filepath.Abs(modelDir)
	if err1 != nil || err2 != nil {
		return nil
	}
	// The directory the link or file --out names lives in, links resolved:
	// an --out that is a link is replaced, not its target.
	if real, err := filepath.EvalSymlinks(filepath.Dir(absOut)); err == nil {
		absOut = filepath.Join(real, filepath.Base(absOut))
	}
	if real, err := filepath.EvalSymlinks(absModel); err == nil {
		absModel = real
	}
	// A run's best/ or checkpoint/: the run around it is the model's too.
	switch filepath.Base(absModel) {
	case "best", "checkpoint", "checkpoint.prev":
		if train.IsRunDir(filepath.Dir(absModel)) {
			absModel = filepath.Dir(absModel)
		}
	}
	rel, err := filepath.Rel(absModel, absOut)
	inside := err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	if inside && (filepath.Ext(out) != ".jsonl" || filepath.Base(out) == "metrics.jsonl") {
		return fmt.Errorf("--out %s would replace a file of the model directory %s: name a new file, or one outside it", out, modelDir)
	}
	return nil
}
