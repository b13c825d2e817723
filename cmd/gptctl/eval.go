package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"gptctl/train"
)

// EvalOptions are the flags of gptctl eval.
type EvalOptions struct {
	ModelDir string
	DataPath string
	TaskPath string // --task: score a multiple-choice file zero-shot
	train.InferOptions
	Out io.Writer
}

// NewCmdEval builds gptctl eval; runF replaces the run in tests.
func NewCmdEval(runF func(*EvalOptions) error) *cobra.Command {
	opts := &EvalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --model DIR --data FILE",
		Short: "Evaluate a model on a file and print the result as JSON",
		Long: `eval prints one JSON object. For a language model: the mean next-token loss and
the perplexity over every token of FILE, read in windows of the model's context,
side by side, or overlapping with --stride (each window scores its last STRIDE
tokens, so that every token sees at least n_ctx-STRIDE before it). FILE may be a
directory of token shards made by gptctl data prepare with the model's
tokenizer: its val shards (--split train: its training shards) are read through
memory maps, so a corpus of any size can be scored. For a finetuned model (one
with task.json): the task metrics on a labeled task file with the columns it was
finetuned on (accuracy, F1 and Matthews correlation, or Pearson and Spearman
correlation). For a language model with --task (a finetune config whose task: is
multiple_choice): zero-shot accuracy on FILE, each option scored by the mean
log-probability of its tokens after the context and question, no finetuning. On
a GPU (--device auto finds a usable one) the products run in float32, so both
devices give the same numbers.`,
		Example: `  gptctl eval --model runs/shk --data heldout.txt
  gptctl eval --model runs/big --data runs/corpus-gpt2 --stride 32
  gptctl eval --model runs/ft-sst2/best --data ../shared/data/tasks/sst2/dev.tsv
  gptctl eval --model runs/pre-tasks --task configs/finetune-storycloze.yaml --data runs/tasks/storycloze-val.csv`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := checkEvalOptions(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return evalRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ModelDir, "model", "m", "", "gptctl run directory or Hugging Face model directory")
	onceFlag(cmd.Flags(), &opts.DataPath, "data", "d", "text or task file to evaluate on, or a directory of token shards", "eval reads one file, glob or shard directory a run (quote a glob: --data 'dir/*.txt')")
	cmd.Flags().StringVar(&opts.Split, "split", "", "shards: the split to score, val or train (default val)")
	cmd.Flags().IntVar(&opts.Batch, "batch-size", 8, "windows (with --task: option rows) per forward pass")
	cmd.Flags().IntVar(&opts.Stride, "stride", 0, "language model: tokens each window moves on; below n_ctx, windows overlap and every token sees at least n_ctx-stride before it (0: n_ctx)")
	cmd.Flags().StringVar(&opts.TaskPath, "task", "", "finetune config whose multiple_choice task: says how to read FILE; scores a language model zero-shot")
	addFormatFlag(cmd.Flags(), &opts.InferOptions)
	addInferFlags(cmd.Flags(), &opts.InferOptions)
	return cmd
}

// checkEvalOptions refuses eval's flags when they are missing or out of
// range.
func checkEvalOptions(opts *EvalOptions) error {
	if err := requireFlags("model", opts.ModelDir, "data", opts.DataPath); err != nil {
		return err
	}
	if err := checkInferFlags(&opts.InferOptions); err != nil {
		return err
	}
	if opts.Stride < 0 {
		return &usageError{fmt.Errorf("--stride %d must not be negative (0: n_ctx)", opts.Stride)}
	}
	if opts.Split != "" && opts.Split != "val" && opts.Split != "train" {
		return &usageError{fmt.Errorf("--split %q: want val or train", opts.Split)}
	}
	return nil
}

// evalRun evaluates a finetuned model on its task, a language model
// zero-shot on a --task file, or a language model's loss over a text file.
func evalRun(opts *EvalOptions) error {
	if err := noteModel(opts.Log, opts.ModelDir); err != nil {
		return err
	}
	line := newProgressLine(opts.Log)
	defer line.done()
	taskModel := train.IsTaskModel(opts.ModelDir)
	if err := checkEvalFileFlags(opts, opts.TaskPath != "" || taskModel); err != nil {
		return err
	}
	if opts.TaskPath != "" { // a language model, zero-shot on a multiple-choice file
		if taskModel {
			return &usageError{fmt.Errorf("--task: %s is a finetuned model, which brings its own task (leave --task out)", opts.ModelDir)}
		}
		return evalZeroShot(opts, line)
	}
	if taskModel { // a finetuned model: task metrics
		opts.Progress = line.counter("eval", "examples")
		res, err := train.EvalTask(opts.ModelDir, opts.DataPath, opts.InferOptions)
		if err != nil {
			return err
		}
		return printJSON(opts.Out, res)
	}
	return evalLM(opts, line)
}

// checkEvalFileFlags refuses the flags that are not for the kind of file
// eval reads: taskFile, a task file (a finetuned model's, or --task's), or
// text.
func checkEvalFileFlags(opts *EvalOptions, taskFile bool) error {
	switch {
	case opts.Stride > 0 && taskFile:
		return &usageError{errors.New("--stride is for a language model's loss over a text file, not for task files")}
	case opts.Split != "" && taskFile:
		return &usageError{errors.New("--split is for a language model's loss over token shards, not for task files")}
	case opts.Format != "" && !taskFile:
		return &usageError{errors.New("--format is for task files (a finetuned model, or --task); a language model reads text, .jsonl or shards")}
	case opts.SkipBadRows && !taskFile:
		return &usageError{errors.New("--skip-bad-rows is for task files (a finetuned model, or --task); a language model reads text, .jsonl or shards")}
	}
	return nil
}

// evalZeroShot prints a language model's zero-shot accuracy on the
// multiple-choice file --data, read as the task of the --task config says.
func evalZeroShot(opts *EvalOptions, line *progressLine) error {
	// The task's train file is the one scored here: a config made for
	// zero-shot needs none.
	cfg, err := train.LoadFinetune(opts.TaskPath, []string{"task.train=" + quote(opts.DataPath)})
	if err != nil {
		return err
	}
	if opts.Format != "" {
		cfg.Task.Format = opts.Format
	}
	opts.Progress = line.counter("eval", "option rows")
	res, err := train.ZeroShotChoice(opts.ModelDir, opts.DataPath, cfg.Task, opts.InferOptions)
	if err != nil {
		return err
	}
	return printJSON(opts.Out, res)
}

// evalLM prints a language model's loss and perplexity over --data.
func evalLM(opts *EvalOptions, line *progressLine) error {
	opts.Progress = line.counter("eval", "windows")
	res, err := train.EvalLM(opts.ModelDir, opts.DataPath, opts.InferOptions)
	if err != nil {
		return err
	}
	line.done()
	if math.IsInf(res.Perplexity, 0) {
		fmt.Fprintf(opts.Log, "note: the perplexity, e^%.2f, overflows a float64: it is null in the JSON (the loss is finite)\n", res.Loss)
	}
	return printJSON(opts.Out, res)
}
