package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"gptctl/data"
	"gptctl/train"
)

// PredictOptions are the flags of gptctl predict.
type PredictOptions struct {
	ModelDir string
	DataPath string
	OutPath  string
	Batch    int
	Out, Log io.Writer
}

// NewCmdPredict builds gptctl predict; runF replaces the run in tests.
func NewCmdPredict(runF func(*PredictOptions) error) *cobra.Command {
	opts := &PredictOptions{}
	cmd := &cobra.Command{
		Use:   "predict --model DIR --data FILE [--out preds.jsonl]",
		Short: "Score a task file with a finetuned model, one JSON line per row",
		Long: `predict reads FILE with the columns the model was finetuned on (the label
column may be absent or empty) and writes one JSON object per row, in file
order: {"line": N, "label": L, "probabilities": {...}} for classification and
multiple choice, {"line": N, "score": S} for regression. LINE is the row's line
in FILE. --out is written atomically; without it the predictions go to stdout.`,
		Example: `  gptctl predict --model runs/ft-sst2/best --data new-reviews.tsv --out preds.jsonl
  gptctl predict --model runs/ft-stsb --data pairs.tsv | jq .score`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := requireFlags("model", opts.ModelDir, "data", opts.DataPath); err != nil {
				return err
			}
			if opts.Batch <= 0 {
				return &usageError{errBatch(opts.Batch)}
			}
			if runF != nil {
				return runF(opts)
			}
			return predictRun(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.ModelDir, "model", "m", "", "finetuned model: a gptctl finetune run, its best/ or checkpoint/")
	f.StringVarP(&opts.DataPath, "data", "d", "", "task file (TSV, CSV or JSONL) with the model's columns")
	f.StringVarP(&opts.OutPath, "out", "o", "", "output JSONL file (default stdout)")
	f.IntVar(&opts.Batch, "batch-size", 32, "examples per forward pass")
	return cmd
}

func predictRun(opts *PredictOptions) error {
	if !train.IsTaskModel(opts.ModelDir) {
		return &train.InputError{Err: fmt.Errorf("model %s has no task.json: predict needs a finetuned model (gptctl finetune)", opts.ModelDir)}
	}
	if opts.OutPath == "" || opts.OutPath == "-" {
		_, err := train.PredictTask(opts.ModelDir, opts.DataPath, opts.Batch, opts.Out, opts.Log)
		return err
	}
	var n int
	err := data.WriteFileAtomic(opts.OutPath, func(w io.Writer) error {
		var err error
		n, err = train.PredictTask(opts.ModelDir, opts.DataPath, opts.Batch, w, opts.Log)
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.Log, "wrote %d predictions to %s\n", n, opts.OutPath)
	return err
}
