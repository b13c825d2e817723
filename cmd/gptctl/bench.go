package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"gptctl/train"
)

// BenchOptions are the flags of gptctl bench.
type BenchOptions struct {
	ConfigPath string
	Sets       []string
	Steps      int
	Warmup     int
	Threads    int
	Device     string
	Profile    bool
	Out, Log   io.Writer
}

// NewCmdBench builds gptctl bench; runF replaces the run in tests.
func NewCmdBench(runF func(*BenchOptions) error) *cobra.Command {
	opts := &BenchOptions{}
	cmd := &cobra.Command{
		Use:   "bench --config FILE [--steps N] [--threads N] [--set key=value]...",
		Short: "Measure training speed on synthetic tokens and print it as JSON",
		Long: `bench trains the config's model on random tokens (forward, backward, gradient
clipping and AdamW: the real training step) and prints one JSON line:
tokens_per_s and step_ms (the median of the timed steps), mfu (achieved
GFLOP/s over the sgemm rate measured on this machine at the same thread count,
printed as sgemm_gflops), flops_per_token (6N + 12*L*T*d), params and
peak_rss_mb. Compare with ../shared/bench/torch_ref.py on the same shape.`,
		Example: `  gptctl bench -c configs/bench-small.yaml
  gptctl bench -c configs/bench-gpt1.yaml --steps 4 --warmup 2 --threads 1
  gptctl bench -c configs/bench-medium.yaml --set batch_size=16
  gptctl bench -c configs/bench-gpt2-124m.yaml --device cuda --profile`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := requireFlags("config", opts.ConfigPath); err != nil {
				return err
			}
			switch {
			case opts.Steps < 1:
				return &usageError{fmt.Errorf("--steps %d must be at least 1", opts.Steps)}
			case opts.Warmup < 0:
				return &usageError{fmt.Errorf("--warmup %d must not be negative", opts.Warmup)}
			case opts.Threads < 0 || opts.Threads > train.MaxThreads:
				return &usageError{fmt.Errorf("--threads %d is not in [0, %d] (0: all cores)", opts.Threads, train.MaxThreads)}
			}
			if runF != nil {
				return runF(opts)
			}
			return benchRun(opts)
		},
	}
	f := cmd.Flags()
	onceFlag(f, &opts.ConfigPath, "config", "c", "YAML config (configs/bench-*.yaml)", configOnce)
	f.StringArrayVar(&opts.Sets, "set", nil, "override a config key, key=value (repeatable)")
	f.IntVar(&opts.Steps, "steps", 20, "timed training steps")
	f.IntVar(&opts.Warmup, "warmup", 3, "untimed steps first")
	f.IntVar(&opts.Threads, "threads", 0, "goroutines the kernels use (0: the config's threads, where 0 is all cores)")
	f.StringVar(&opts.Device, "device", "", "auto, cpu or cuda (overrides device:); on a GPU mfu is against a measured cuBLAS GEMM rate")
	f.BoolVar(&opts.Profile, "profile", false, "device cuda: time each kind of op over one more step (a table on stderr, \"profile\" in the JSON)")
	return cmd
}

func benchRun(opts *BenchOptions) error {
	sets := opts.Sets
	if opts.Device != "" {
		sets = append(sets, "device="+quote(opts.Device))
	}
	cfg, err := train.LoadBench(opts.ConfigPath, sets)
	if err != nil {
		return err
	}
	noteUnusedSets(opts.Log, opts.Sets)
	res, err := train.Bench(cfg, train.BenchSpec{Steps: opts.Steps, Warmup: opts.Warmup, Threads: opts.Threads,
		Profile: opts.Profile}, opts.Log)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(opts.Out, string(b))
	return err
}

// noteUnusedSets says on log which --set keys bench does not read
// (train.BenchUnread), so that a --set max_steps=5 is not taken for a
// shorter run, nor a --set on_nonfinite=skip for a bench that skips.
func noteUnusedSets(log io.Writer, sets []string) {
	for _, kv := range sets {
		key, _, _ := strings.Cut(kv, "=")
		key = strings.TrimSpace(key)
		if why, ok := train.BenchUnread(key); ok {
			fmt.Fprintf(log, "bench: note: --set %s is not used (%s)\n", key, why)
		}
	}
}
