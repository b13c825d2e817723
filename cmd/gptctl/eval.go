package main

import (
	"io"

	"github.com/spf13/cobra"

	"gptctl/train"
)

// EvalOptions are the flags of gptctl eval.
type EvalOptions struct {
	ModelDir string
	DataPath string
	train.InferOptions
	Out io.Writer
}

// NewCmdEval builds gptctl eval; runF replaces the run in tests.
func NewCmdEval(runF func(*EvalOptions) error) *cobra.Command {
	opts := &EvalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --model DIR --data FILE",
		Short: "Evaluate a model on a file and print the result as JSON",
		Long: `eval prints one JSON object. For a language model: the mean next-token loss
and the perplexity over every token of FILE, read in windows of the model's
context. For a finetuned model (one with task.json): the task metrics on a
labeled task file with the columns it was finetuned on (accuracy, F1 and
Matthews correlation, or Pearson and Spearman correlation). On a GPU (--device
auto finds a usable one) the products run in float32, so both devices give
the same numbers.`,
		Example: `  gptctl eval --model runs/shk --data heldout.txt
  gptctl eval --model runs/ft-sst2/best --data ../shared/data/tasks/sst2/dev.tsv`,
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
			return evalRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ModelDir, "model", "m", "", "gptctl run directory or Hugging Face model directory")
	cmd.Flags().StringVarP(&opts.DataPath, "data", "d", "", "text file to evaluate on")
	cmd.Flags().IntVar(&opts.Batch, "batch-size", 8, "windows per forward pass")
	addInferFlags(cmd.Flags(), &opts.InferOptions)
	return cmd
}

func evalRun(opts *EvalOptions) error {
	line := newProgressLine(opts.Log)
	defer line.done()
	if train.IsTaskModel(opts.ModelDir) { // a finetuned model: task metrics
		opts.Progress = line.counter("eval", "examples")
		res, err := train.EvalTask(opts.ModelDir, opts.DataPath, opts.InferOptions)
		if err != nil {
			return err
		}
		return printJSON(opts.Out, res)
	}
	opts.Progress = line.counter("eval", "windows")
	res, err := train.EvalLM(opts.ModelDir, opts.DataPath, opts.InferOptions)
	if err != nil {
		return err
	}
	return printJSON(opts.Out, res)
}
