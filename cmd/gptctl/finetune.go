package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"gptctl/train"
)

// FinetuneOptions are the flags of gptctl finetune.
type FinetuneOptions struct {
	ConfigPath string
	InitDir    string
	OutDir     string
	Sets       []string
	Resume     bool
	Device     string
	MaxTime    string
	Out, Log   io.Writer
}

// NewCmdFinetune builds gptctl finetune; runF replaces the run in tests.
func NewCmdFinetune(runF func(*FinetuneOptions) error) *cobra.Command {
	opts := &FinetuneOptions{}
	cmd := &cobra.Command{
		Use:   "finetune --config FILE [--init MODEL_DIR] [--out DIR] [--set key=value]...",
		Short: "Finetune a pretrained model on a labeled task",
		Long: `finetune adapts a pretrained model to a labeled task as GPT-1 does: the task
tokens <s>, $ and <e> join the vocabulary, a linear head reads the final state
at <e>, and the loss is L2 + lambda*L1, the task loss plus the language-model
loss on the task inputs. The config's task: section names the task type
(classification, entailment, similarity or multiple_choice), the TSV, CSV or
JSONL files and their columns; everything else defaults to the GPT-1 recipe.
--out receives finetune.yaml, metrics.jsonl, summary.json, checkpoint/ and
best/, the model with the best validation metric. SIGTERM, SIGINT, SIGUSR1
or SIGHUP checkpoint and stop; --resume continues.`,
		Example: `  gptctl finetune -c configs/finetune-sst2.yaml --init runs/pre-tasks --out runs/ft-sst2
  gptctl finetune -c configs/finetune-rte.yaml --set lambda=0 --set task.max_len=96 --out runs/ft-rte-nolm
  gptctl finetune -c configs/finetune-sst2.yaml --set random_init=true --out runs/ft-sst2-scratch
  gptctl finetune --resume --out runs/ft-sst2`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(opts)
			}
			return finetuneRun(opts)
		},
	}
	f := cmd.Flags()
	onceFlag(f, &opts.ConfigPath, "config", "c", "finetune YAML config with a task: section", configOnce)
	f.StringVar(&opts.InitDir, "init", "", "pretrained model: a gptctl run or Hugging Face model directory (overrides init_from:)")
	f.StringVarP(&opts.OutDir, "out", "o", "", "run directory (default runs/finetune-TIME)")
	f.StringArrayVar(&opts.Sets, "set", nil, "override a config key, key=value or task.key=value (repeatable)")
	addJobFlags(f, &opts.Resume, &opts.Device, &opts.MaxTime)
	return cmd
}

func finetuneRun(opts *FinetuneOptions) error {
	cfg, err := loadFinetuneConfig(opts)
	if err != nil {
		return err
	}
	maxTime, err := parseMaxTime(opts.MaxTime)
	if err != nil {
		return err
	}
	return runJob("finetune", opts.OutDir, opts.Resume, maxTime, opts.Out, opts.Log, func(ctx context.Context, o train.Options) (*train.FinetuneSummary, error) {
		return train.Finetune(ctx, cfg, o)
	})
}

// loadFinetuneConfig reads the config of a new finetune, or the one saved in
// the run being resumed, and applies the command-line overrides.
func loadFinetuneConfig(opts *FinetuneOptions) (train.FinetuneConfig, error) {
	path, sets := opts.ConfigPath, opts.Sets
	switch {
	case opts.Resume && opts.OutDir == "":
		return train.FinetuneConfig{}, &usageError{errors.New("--resume needs --out, the run directory to continue")}
	case opts.Resume && (path != "" || opts.InitDir != ""):
		return train.FinetuneConfig{}, &usageError{fmt.Errorf("--resume takes the config and model saved in %s; use --set to change it, not --config or --init", opts.OutDir)}
	case opts.Resume:
		var err error
		if path, err = resumeConfig(opts.OutDir, "finetune.yaml", "finetune run"); err != nil {
			return train.FinetuneConfig{}, err
		}
	case path == "":
		return train.FinetuneConfig{}, &usageError{errors.New("--config is required: a finetune YAML with a task: section (see configs/finetune-*.yaml)")}
	}
	if opts.InitDir != "" {
		sets = append(sets, "init_from="+quote(opts.InitDir))
	}
	if opts.Device != "" {
		sets = append(sets, "device="+quote(opts.Device))
	}
	return train.LoadFinetune(path, sets)
}
