package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"gptctl/data"
	"gptctl/train"
)

// PretrainOptions are the flags of gptctl pretrain.
type PretrainOptions struct {
	ConfigPath string
	Sets       []string
	Data       string
	InitDir    string
	OutDir     string
	Resume     bool
	Device     string
	MaxTime    string
	Out, Log   io.Writer
}

// NewCmdPretrain builds gptctl pretrain; runF replaces the run in tests.
func NewCmdPretrain(runF func(*PretrainOptions) error) *cobra.Command {
	opts := &PretrainOptions{}
	cmd := &cobra.Command{
		Use:   "pretrain [--config FILE] [--set key=value]... [--data FILE] [--out DIR]",
		Short: "Train a GPT language model on a text corpus",
		Long: `pretrain trains a GPT language model by maximum likelihood on a corpus. With no
flags it trains a small char-level model on the built-in corpus. The run
directory (--out) receives train.yaml, metrics.jsonl, summary.json and the
checkpoint/ directory, a Hugging Face model directory. --init continues
pretraining from a model (a gptctl run or a Hugging Face gpt2 / openai-gpt
directory) with its architecture, weights and tokenizer. SIGTERM, SIGINT,
SIGUSR1 or SIGHUP write a checkpoint and stop; --resume continues the run.`,
		Example: `  gptctl pretrain
  gptctl pretrain -c configs/shakespeare-char.yaml --data ../shared/data/pretrain/tinyshakespeare.txt --out runs/shk
  gptctl pretrain -c configs/shakespeare-char.yaml --set arch=gpt2 --set max_steps=500 --out runs/shk2
  gptctl pretrain --init runs/shk --data more.txt --set lr=3e-4 --set warmup_steps=0 --out runs/shk-more
  gptctl pretrain --resume --out runs/shk`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(opts)
			}
			return pretrainRun(opts)
		},
	}
	f := cmd.Flags()
	onceFlag(f, &opts.ConfigPath, "config", "c", "YAML config (default: the built-in small model)", configOnce)
	f.StringArrayVar(&opts.Sets, "set", nil, "override a config key, key=value (repeatable)")
	onceFlag(f, &opts.Data, "data", "", "corpus file or glob (text, or .jsonl (or JSON-lines .json) with one {\"text\": ...} per line) or shard directory (overrides data:)",
		"one corpus a run: a glob takes several files (quote it: --data 'dir/*.txt')")
	f.StringVar(&opts.InitDir, "init", "", "continue from this model: a gptctl run or Hugging Face model directory (overrides init_from:)")
	f.StringVarP(&opts.OutDir, "out", "o", "", "run directory (default runs/pretrain-TIME)")
	addJobFlags(f, &opts.Resume, &opts.Device, &opts.MaxTime)
	return cmd
}

// addJobFlags adds the flags pretrain and finetune share.
func addJobFlags(f *pflag.FlagSet, resume *bool, device, maxTime *string) {
	f.BoolVar(resume, "resume", false, "continue the run in --out from its checkpoint")
	f.StringVar(device, "device", "", "auto, cpu or cuda (overrides device:)")
	f.StringVar(maxTime, "max-time", "", "stop cleanly, with a checkpoint, before this wall time, e.g. 3h50m (this job's, over max_time:)")
}

// modelSetsWithInit refuses a --set of a key the model of init_from
// replaces (its architecture and tokenizer), which would be dropped
// without a word. A config file's keys may be there: a recipe serves runs
// from scratch and from a model alike. Every such --set is named, each on
// its line.
func modelSetsWithInit(sets []string) error {
	var errs []error
	for _, set := range sets {
		key, _, _ := strings.Cut(set, "=")
		switch strings.TrimSpace(key) {
		case "arch", "n_layer", "n_head", "n_embd", "n_ctx", "vocab_size", "layer_norm_epsilon", "gelu", "tokenizer":
			errs = append(errs, fmt.Errorf("--set %s with init_from: the model's architecture and tokenizer come from init_from, which replaces %s; leave it out, or train a new model without init_from", set, strings.TrimSpace(key)))
		}
	}
	if len(errs) > 0 {
		return &usageError{errors.Join(errs...)}
	}
	return nil
}

// parseMaxTime reads --max-time: "" is none.
func parseMaxTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, &usageError{fmt.Errorf("--max-time %q is not a positive duration such as 3h50m (the job's max_time)", s)}
}

func pretrainRun(opts *PretrainOptions) error {
	sets := opts.Sets
	if opts.InitDir != "" {
		if opts.Resume {
			return &usageError{errors.New("--resume continues the run in --out; --init starts a new run from another model: pass one of them")}
		}
		sets = append(slices.Clip(sets), "init_from="+quote(opts.InitDir))
	}
	cfg, err := loadJobConfig(opts.ConfigPath, sets, opts.Data, opts.Device, opts.OutDir, opts.Resume)
	if err != nil {
		return err
	}
	if cfg.InitFrom != "" && !opts.Resume {
		if err := modelSetsWithInit(opts.Sets); err != nil {
			return err
		}
	}
	maxTime, err := parseMaxTime(opts.MaxTime)
	if err != nil {
		return err
	}
	return runJob("pretrain", opts.OutDir, opts.Resume, maxTime, opts.Out, opts.Log, func(ctx context.Context, o train.Options) (*train.Summary, error) {
		return train.Pretrain(ctx, cfg, o)
	})
}

// runJob runs a pretrain or finetune job under the stop signals (SIGTERM,
// SIGINT, SIGUSR1, SIGHUP), in outDir or a new runs/KIND-TIME, and prints
// its summary as JSON: a run that failed once it had started too (status
// failed, with its error), so that a script reading stdout learns what
// DIR/summary.json says.
func runJob[S any](kind, outDir string, resume bool, maxTime time.Duration, out, log io.Writer, job func(context.Context, train.Options) (*S, error)) error {
	made := outDir == ""
	if made {
		var err error
		if outDir, err = newRunDir(filepath.Join("runs", kind+"-"+time.Now().Format("20060102-150405"))); err != nil {
			return err
		}
	}
	log = terminalLog(log)
	ctx, stop := signalContext(log)
	defer stop()
	sum, err := job(ctx, train.Options{OutDir: outDir, Resume: resume, MaxTime: maxTime, Started: processStart, Log: log, Terminal: isTerminal(log)})
	if err != nil {
		if made {
			removeIfUnused(outDir)
		}
		if sum != nil {
			printJSON(out, sum) // best effort: the error is the one to report
		}
		return err
	}
	err = printJSON(out, sum)
	switch {
	case stdoutGone(err):
		return nil // no reader left (| head): the summary is in DIR/summary.json
	case err != nil: // a full disk: the job is done, only the printing failed
		return fmt.Errorf("the %s job ended as %s says; printing its summary failed: %w", kind, filepath.Join(outDir, "summary.json"), err)
	}
	return nil
}

// removeIfUnused removes the run directory dir that gptctl named for a job
// that failed before writing anything into it: it holds no file but the
// lock, and no one would look for it. (An --out the job created is
// removed by the job itself, under its lock: see train's runJob.)
func removeIfUnused(dir string) {
	data.RemoveCreated(dir, dir, filepath.Join(dir, data.RunLockFile), func() {}) // the job let go of the lock already
}

// loadJobConfig reads the config of a new run, or of the run being resumed,
// and applies the command-line overrides.
func loadJobConfig(path string, sets []string, data, device, outDir string, resume bool) (train.Config, error) {
	if resume {
		if outDir == "" {
			return train.Config{}, &usageError{fmt.Errorf("--resume needs --out, the run directory to continue")}
		}
		if path != "" {
			return train.Config{}, &usageError{fmt.Errorf("--resume takes the config saved in %s; use --set to change it, not --config", outDir)}
		}
		var err error
		if path, err = resumeConfig(outDir, "train.yaml", "run"); err != nil {
			return train.Config{}, err
		}
	}
	if data != "" {
		sets = append(sets, "data="+quote(data))
	}
	if device != "" {
		sets = append(sets, "device="+quote(device))
	}
	return train.Load(path, sets)
}

// resumeConfig returns the path of the job config, name, that the run in
// outDir saved: an error when there is none (not a run of this kind), it
// is empty (damaged: read as it is, it would be every default, and the
// resume would be refused for changes the user never asked for), or it
// lacks keys its checkpoint's copy holds (cut short at a line's end, it
// reads as YAML, and the resume would take those keys' defaults).
func resumeConfig(outDir, name, kind string) (string, error) {
	path := filepath.Join(outDir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		// A run of the other command has its own job file: name the
		// command that resumes it.
		other := map[string]struct{ file, cmd string }{"train.yaml": {"finetune.yaml", "finetune"}, "finetune.yaml": {"train.yaml", "pretrain"}}[name]
		if other.file != "" && fileExists(filepath.Join(outDir, other.file)) {
			return "", &usageError{fmt.Errorf("--resume: %s is a %s run (it has %s, not %s): gptctl %s --resume --out %s continues it", outDir, other.cmd, other.file, name, other.cmd, outDir)}
		}
		return "", &usageError{fmt.Errorf("--resume: %s is not a gptctl %s directory (no %s)", outDir, kind, name)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		for _, ck := range []string{"checkpoint", "checkpoint.prev"} {
			if copy := filepath.Join(outDir, ck, name); fileExists(copy) {
				return "", &usageError{fmt.Errorf("--resume: %s is empty (damaged); the run's checkpoint holds a copy: cp %s %s", path, copy, path)}
			}
		}
		return "", &usageError{fmt.Errorf("--resume: %s is empty (damaged), and the run has no checkpoint holding a copy: start the run again", path)}
	}
	for _, ck := range []string{"checkpoint", "checkpoint.prev"} {
		if copy := filepath.Join(outDir, ck, name); fileExists(copy) {
			if lost := train.LostKeys(path, copy); len(lost) > 0 {
				n, shown := "a key", lost
				if len(lost) > 1 {
					n = fmt.Sprintf("%d keys", len(lost))
				}
				if len(shown) > 4 {
					shown = append(shown[:3:3], "...")
				}
				return "", &usageError{fmt.Errorf("--resume: %s lacks %s that the copy in the run's checkpoint holds (%s): was it cut short? A resume would take defaults in their place; cp %s %s restores it (then --set a key to change it)",
					path, n, strings.Join(shown, ", "), copy, path)}
			}
			break
		}
	}
	return path, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func isTerminal(w io.Writer) bool {
	if _, ok := w.(*termLog); ok {
		return true
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// newRunDir creates and returns the directory base, or base-2, base-3, ...
// when another job took it (jobs started in the same second): os.Mkdir
// makes one job the owner of each name.
func newRunDir(base string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", train.RunDirError(filepath.Dir(base), err)
	}
	for i := 1; ; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) || i >= 1000 {
			return "", train.RunDirError(dir, err)
		}
	}
}

// fileExists reports whether path names a regular file.
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
