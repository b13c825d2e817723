package train

// What the inference commands share (eval, predict, zero-shot scoring):
// InferOptions, how they run, and forwardRun, a model's forward pass to one
// output on the CPU or the GPU.

import (
	"context"
	"fmt"
	"io"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// InferOptions are how eval and predict run.
type InferOptions struct {
	Batch   int       // windows or examples per forward pass
	Device  string    // auto, cpu or cuda, as in a config; "" = cpu, silently
	Threads int       // CPU threads; 0 = all cores
	Log     io.Writer // the device notice and skipped rows; nil = none
	// Stride (EvalLM) is how far each window of the text moves on: 0 or
	// n_ctx, windows side by side (a token sees only the tokens before it in
	// its window); less, overlapping windows whose last Stride tokens are
	// scored, so that every token after the first window sees at least
	// n_ctx - Stride tokens before it (1: each sees a full context, one
	// window per token).
	Stride int
	// Format (a finetuned model's task files) is tsv, csv or jsonl; "" =
	// the one the file's extension names, else the model's own.
	Format string
	// SkipBadRows (a finetuned model's task files) skips the rows that
	// cannot be read, reporting them to Log, instead of failing on the first;
	// the finetune's skip_bad_rows does not carry over.
	SkipBadRows bool
	// Split (EvalLM on a directory of shards) is the split scored: "val"
	// (the default) or "train".
	Split string
	// Progress, when set, is called after each batch with the windows (or
	// examples) done and their total.
	Progress func(done, total int)
	// Context (PredictTask), when cancelled, stops the work between
	// batches (a signal); nil: never.
	Context context.Context
}

// ctx is o.Context, or one never cancelled.
func (o InferOptions) ctx() context.Context {
	if o.Context == nil {
		return context.Background()
	}
	return o.Context
}

func (o InferOptions) progress(done, total int) {
	if o.Progress != nil {
		o.Progress(min(done, total), total)
	}
}

// memory is deviceMemory for an inference command.
func (o InferOptions) memory(err error) error {
	return deviceMemory(err, fmt.Sprintf("lower --batch-size (%d) or use --device cpu", o.Batch))
}

// setup picks the device (SetupDevice) and returns it.
func (o InferOptions) setup() (string, error) {
	if o.Device == "" {
		o.Device = "cpu"
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	return SetupDevice(Config{Device: o.Device, Threads: o.Threads}, log)
}

// forwardRun runs a model's forward pass to one output over the batch in
// its inputs, on the CPU or the GPU.
type forwardRun struct {
	m    *graph.Model
	out  *G.Node
	prog *graph.Program // on the CPU
	gpu  gpuForward     // on the GPU
}

func newForwardRun(m *graph.Model, out *G.Node, device string) (*forwardRun, error) {
	f := &forwardRun{m: m, out: out}
	var err error
	if device == "cuda" {
		f.gpu, err = newGPUForward(m, out)
	} else {
		f.prog, err = m.Forward(out)
	}
	return f, err
}

// values runs the pass and returns the output's values.
func (f *forwardRun) values() ([]float32, error) {
	if f.gpu != nil {
		if err := f.gpu.run(); err != nil {
			return nil, err
		}
		return f.gpu.value(f.out)
	}
	if err := f.m.Run(f.prog); err != nil {
		return nil, err
	}
	return f.m.Value(f.out), nil
}

// lossRows is the number of positions the output, a loss, averaged over
// in the last run.
func (f *forwardRun) lossRows() (int, error) {
	if f.gpu != nil {
		return f.gpu.lossRows(f.out)
	}
	return graph.LossRows(f.out), nil
}

func (f *forwardRun) close() {
	if f.gpu != nil {
		f.gpu.close()
	}
}
