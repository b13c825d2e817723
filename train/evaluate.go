package train

// gptctl eval for language models: the mean next-token loss over a whole
// text file, in consecutive windows of the model's context.

import (
	"io"
	"math"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
	"gptctl/kernels"
)

// LMEval is the result of evaluating a language model on a file.
type LMEval struct {
	Loss       float64 `json:"loss"`
	Perplexity float64 `json:"perplexity"`
	Tokens     int     `json:"tokens"`
	Stride     int     `json:"stride"` // new tokens per window: each token after the first window sees at least n_ctx - stride before it
	File       string  `json:"file"`
}

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
	// Progress, when set, is called after each batch with the windows (or
	// examples) done and their total.
	Progress func(done, total int)
}

func (o InferOptions) progress(done, total int) {
	if o.Progress != nil {
		o.Progress(min(done, total), total)
	}
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

// EvalLM computes the loss of the model in modelDir on every token of file
// (each predicted from up to n_ctx tokens before it, window by window).
func EvalLM(modelDir, file string, o InferOptions) (*LMEval, error) {
	device, err := o.setup()
	if err != nil {
		return nil, err
	}
	batch := o.Batch
	p, tok, err := LoadModelForText(modelDir, "text cannot be encoded for it")
	if err != nil {
		return nil, err
	}
	text, err := readText(file)
	if err != nil {
		return nil, err
	}
	if unk := unknownChars(tok, text); len(unk) > 0 {
		return nil, inputErrorf("data %s: characters %q are not in the model's vocabulary", file, string(unk))
	}
	ids := encode(tok, text)
	if len(ids) < 2 {
		return nil, inputErrorf("data %s: %d tokens; at least 2 are needed", file, len(ids))
	}
	T := p.Config.NCtx
	if len(ids)-1 < T {
		T = len(ids) - 1
	}
	m, err := graph.New(p, batch, T, &kernels.Mode{}, kernels.NewRNG(0), modelOptions(device)...)
	if err != nil {
		return nil, err
	}
	loss, targets, err := m.LMLoss()
	if err != nil {
		return nil, err
	}
	run, err := newForwardRun(m, loss, device)
	if err != nil {
		return nil, err
	}
	defer run.close()
	S := T
	if o.Stride > 0 {
		S = min(o.Stride, T)
	}
	var nll float64
	var count int
	in, tg := graph.Int32Data(m.Idx), graph.Int32Data(targets)
	n := len(ids) - 1 // positions with a next token
	windows := 1 + (max(0, n-T)+S-1)/S
	// Window k covers positions k*S .. k*S+T-1 and scores those the window
	// before it did not reach: all of the first, then the last S.
	for start, scored, done := 0, 0, 0; scored < n; {
		for b := 0; b < batch; b++ {
			for t := 0; t < T; t++ {
				i, pos := b*T+t, start+t
				switch {
				case pos >= n:
					in[i], tg[i] = 0, -1 // padding, not counted
				case pos < scored:
					in[i], tg[i] = ids[pos], -1 // context only
				default:
					in[i], tg[i] = ids[pos], ids[pos+1]
				}
			}
			scored = max(scored, min(start+T, n))
			start += S
		}
		l, err := run.values()
		if err != nil {
			return nil, err
		}
		rows, err := run.lossRows()
		if err != nil {
			return nil, err
		}
		nll += float64(l[0]) * float64(rows)
		count += rows
		done += batch
		o.progress(done, windows)
	}
	l := nll / float64(count)
	return &LMEval{Loss: l, Perplexity: math.Exp(l), Tokens: count, Stride: S, File: file}, nil
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
	return kernels.Floats(f.m.Machine().Value(f.out)), nil
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
