package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"gptctl/data"
	"gptctl/train"
)

// GenerateOptions are the flags of gptctl generate.
type GenerateOptions struct {
	ModelDir    string
	PromptFile  string
	PromptsFile string
	train.GenerateOptions
	Out io.Writer
}

// NewCmdGenerate builds gptctl generate; runF replaces the run in tests.
func NewCmdGenerate(runF func(*GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{}
	cmd := &cobra.Command{
		Use:   "generate --model DIR [--prompt TEXT]",
		Short: "Sample text from a model",
		Long: `generate continues a prompt token by token, printing as it goes. Temperature 0
is greedy decoding; top-k and top-p (nucleus) limit the candidates, in that
order, as Hugging Face's generate does: top-p keeps the fewest most probable
of the top-k tokens whose share of the top-k probability reaches it. Each token
costs one pass over the weights (a key/value cache holds the window). Past the
model's context the window slides, each token seeing the n_ctx before it: a
token then reruns the whole window, several times the cost of one within the
context. A sample ends after --max-new-tokens, or
earlier where the model ends its document with the end-of-text token (not
printed; --ignore-eot samples on past it), or before the first --stop string
its new text reaches (not printed either; text that may begin one is held
back until the next tokens tell). The new text is UTF-8, as Hugging Face's
decode makes it: a character split over tokens prints once whole, and
bytes that are not UTF-8 (the start of a character the sample ends in)
become U+FFFD, in the text output and --json alike. With --num-samples N the samples follow
one another, separated by a line of dashes; one seed draws them all, each
sample from its own stream, so they do not depend on --batch-size, the
number drawn together (but for float32 rounding, which can move a draw on
the edge between two tokens). A step of the model takes a token of each,
several times the throughput of one at a time; the output comes as from one
at a time, the first unfinished sample printing as it goes.

--json prints one JSON object a sample instead, a line each, when the sample
is done: {"sample": 0, "prompt": ..., "text": the new text, "tokens": the
new tokens drawn (a stop string's included, the end-of-text token not),
"finish_reason": "length" | "eot" | "stop" | "interrupted", "stop": the
string that ended it}. SIGINT, SIGTERM, SIGHUP or SIGUSR1 stops generate after the
step at hand: the samples started are written as they stand (with --json,
finish_reason "interrupted"), the rest not at all, and the status is 1.
A prompt longer than the model's context is cut to its last n_ctx tokens,
with a note on stderr. A prompt is encoded as training text is, the
characters of "<|endoftext|>" included; --special reads them as the
end-of-text token instead, as Hugging Face's GPT-2 tokenizer does.

--prompts FILE samples from many prompts with one load of the model: a JSON
lines file, each line {"prompt": "...", "id": ...} or a JSON string; every
line is checked first. Each prompt gets --num-samples samples, drawn in file
order from the one seed; with --json each object also has "line" (the
prompt's line in FILE) and the prompt's "id", if it has one.

--device auto samples on a usable GPU (a cuda build), else on the CPU. On a
GPU the weights and the caches stay in device memory and a step's only
wait is for its logits; the products run in float32 there too, so the two
devices draw the same text but for float32 rounding.`,
		Example: `  gptctl generate --model runs/shk --prompt "ROMEO:" --max-new-tokens 300 --temperature 0.8 --top-k 40 --seed 7
  gptctl generate --model runs/gpt2 --prompt-file intro.txt --num-samples 5 --top-p 0.9
  gptctl generate --model runs/shk --prompt "ROMEO:" --stop $'\n\n' --num-samples 10 --json > samples.jsonl
  gptctl generate --model runs/gpt2 --prompts prompts.jsonl --max-new-tokens 64 --json > completions.jsonl`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.Log = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := checkGenerateFlags(cmd, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if err := noteModel(cmd.ErrOrStderr(), opts.ModelDir); err != nil {
				return err
			}
			// A signal stops the sampling after the step at hand: the
			// samples started are written as they stand, and the status is 1.
			ctx, stop := signalContext(opts.Log)
			defer stop()
			opts.Context = ctx
			return train.Generate(opts.ModelDir, opts.GenerateOptions, opts.Out)
		},
	}
	addGenerateFlags(cmd.Flags(), opts)
	return cmd
}

// checkGenerateFlags refuses flags out of range or given together, and
// reads --prompts and --prompt-file into opts.
func checkGenerateFlags(cmd *cobra.Command, opts *GenerateOptions) error {
	if err := requireFlags("model", opts.ModelDir); err != nil {
		return err
	}
	if opts.NumSamples < 1 { // the library's zero value means one
		return &usageError{fmt.Errorf("--num-samples %d: draw at least 1 sample", opts.NumSamples)}
	}
	if !(opts.RepetitionPenalty > 0) { // the library's zero value means off
		return &usageError{fmt.Errorf("--repetition-penalty %v must be positive (1: off)", opts.RepetitionPenalty)}
	}
	if opts.BatchSize < 1 {
		return &usageError{errBatch(opts.BatchSize)}
	}
	if d := opts.Device; d != "auto" && d != "cpu" && d != "cuda" {
		return &usageError{fmt.Errorf("--device %q is not auto, cpu or cuda", d)}
	}
	if n := countChanged(cmd, "prompt", "prompt-file", "prompts"); n > 1 {
		return &usageError{errors.New("--prompt, --prompt-file and --prompts: give one of them")}
	}
	if opts.PromptsFile != "" {
		b, err := os.ReadFile(opts.PromptsFile)
		if err != nil {
			return &train.InputError{Err: fmt.Errorf("--prompts: %w", err)}
		}
		if opts.Prompts, err = train.ReadPrompts(b, opts.PromptsFile); err != nil {
			return err
		}
		opts.PromptFrom = opts.PromptsFile
	}
	if opts.PromptFile != "" {
		b, err := os.ReadFile(opts.PromptFile)
		if err != nil {
			return &train.InputError{Err: fmt.Errorf("--prompt-file: %w", err)}
		}
		opts.Prompt = string(data.TrimBOM(b))
		opts.PromptFrom = "--prompt-file " + opts.PromptFile
	}
	return nil
}

// addGenerateFlags defines generate's flags on f, into opts.
func addGenerateFlags(f *pflag.FlagSet, opts *GenerateOptions) {
	def := train.DefaultGenerate
	f.StringVarP(&opts.ModelDir, "model", "m", "", "gptctl run directory or Hugging Face model directory")
	f.StringVarP(&opts.Prompt, "prompt", "p", "", "text to continue (default: start of a document: after the end-of-text token, else a newline, else a full stop)")
	f.IntVarP(&opts.MaxNewTokens, "max-new-tokens", "n", def.MaxNewTokens, "tokens to generate")
	f.Float64VarP(&opts.Temperature, "temperature", "t", def.Temperature, "sampling temperature; 0 = greedy")
	f.IntVar(&opts.TopK, "top-k", def.TopK, "sample from the k most likely tokens (and any tied with the k-th); 0 = all")
	f.Float64Var(&opts.TopP, "top-p", def.TopP, "sample from the smallest set with this probability mass")
	f.Uint64Var(&opts.Seed, "seed", def.Seed, "random seed")
	f.IntVar(&opts.NumSamples, "num-samples", def.NumSamples, "samples to draw from the prompt")
	f.BoolVar(&opts.IgnoreEOT, "ignore-eot", false, "keep sampling past the end-of-text token (printed as it decodes) instead of ending the sample there")
	f.StringVar(&opts.PromptFile, "prompt-file", "", "read the prompt from this file")
	f.StringVar(&opts.PromptsFile, "prompts", "", `sample from each prompt of this JSON lines file in turn: {"prompt": "...", "id": ...} (or a JSON string) a line`)
	f.StringArrayVar(&opts.Stop, "stop", nil, "end a sample before this string in its new text (repeatable; the text as given: $'\\n' in bash for a newline)")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON object a sample (sample, prompt, text, tokens, finish_reason, stop) instead of the text as it comes")
	f.Float64Var(&opts.RepetitionPenalty, "repetition-penalty", def.RepetitionPenalty, "above 1, make the tokens a sample already holds, its prompt's too, less likely (Hugging Face's repetition_penalty; 1 = off)")
	f.IntVar(&opts.BatchSize, "batch-size", def.BatchSize, "samples drawn together, one step of the model for a token of each (each holds a cache of 2 x n_layer x n_ctx x n_embd floats)")
	f.BoolVar(&opts.Special, "special", false, "read <|endoftext|> in the prompt as the end-of-text token, as Hugging Face's tokenizers do (default: as the characters it is, as in training text)")
	f.StringVar(&opts.Device, "device", "auto", "auto, cpu or cuda: where the model runs (on a GPU in float32)")
	f.IntVar(&opts.Threads, "threads", 0, "CPU threads (0: all cores)")
}

// countChanged returns how many of the named flags were given.
func countChanged(cmd *cobra.Command, names ...string) int {
	n := 0
	for _, name := range names {
		if cmd.Flags().Changed(name) {
			n++
		}
	}
	return n
}

func errBatch(n int) error { return fmt.Errorf("--batch-size %d must be positive", n) }
