//go:build cuda

package train

import (
	"cmp"
	"fmt"
	"math"
	"sync"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// The one GPU of the process, opened on first use.
var gpu struct {
	once sync.Once
	dev  *graph.Device
	err  error
}

func openGPU() (*graph.Device, error) {
	gpu.once.Do(func() { gpu.dev, gpu.err = graph.OpenCUDA() })
	return gpu.dev, gpu.err
}

// deviceRun is gpuTrainer over a graph.DeviceTrainer and its AdamW.
type deviceRun struct {
	dt    *graph.DeviceTrainer
	opt   *graph.DeviceAdamW
	progs map[*G.Node]*graph.DeviceProgram // predict's, by output
	steps int                              // steps run, the numbers GuardStep records
	win   graph.Buffer                     // window's sums, allocated on first use
}

// newGPUTrainer compiles the gradient graph of loss (and the extra outputs
// window sums) for the GPU, uploads the weights and o's moments (a resumed
// run's), and takes over o's updates.
func newGPUTrainer(m *graph.Model, loss *G.Node, o *AdamW, gm GPUMath, extra ...*G.Node) (gpuTrainer, error) {
	dev, err := openGPU()
	if err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	if err := dev.SetTF32(gm.TF32); err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	dev.SetFlash(gm.Flash)
	if err := dev.SetBF16(gm.BF16); err != nil {
		return nil, &ConfigError{fmt.Errorf("bf16: %w (set bf16: false)", err)}
	}
	dt, err := m.DifferentiateOn(dev, loss, extra...)
	if err != nil {
		return nil, err
	}
	opt, err := dt.NewAdamW(o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	if err == nil && o.Step > 0 {
		opt.Step = o.Step
		err = opt.Upload(o.M, o.V)
	}
	if err != nil {
		dt.Close()
		return nil, err
	}
	return &deviceRun{dt: dt, opt: opt, progs: map[*G.Node]*graph.DeviceProgram{}}, nil
}

// deviceForward is gpuForward over a graph.DeviceMachine.
type deviceForward struct {
	dm   *graph.DeviceMachine
	prog *graph.DeviceProgram
}

// newGPUForward compiles m's forward pass to outs for the GPU. Products run
// in float32 (no TF32, no bfloat16): eval and predict give the CPU's
// numbers on either device.
func newGPUForward(m *graph.Model, outs ...*G.Node) (gpuForward, error) {
	dev, err := openGPU()
	if err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	dev.SetFlash(false)
	if err := cmp.Or(dev.SetTF32(false), dev.SetBF16(false)); err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	dm, prog, err := m.ForwardOn(dev, outs...)
	if err != nil {
		return nil, err
	}
	return &deviceForward{dm: dm, prog: prog}, nil
}

// newGPUDecoder uploads p to the GPU for sampling, with caches for slots
// sequences; its products run in float32, as eval's do.
func newGPUDecoder(p *graph.Params, slots int) (decoder, error) {
	dev, err := openGPU()
	if err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	if err := cmp.Or(dev.SetTF32(false), dev.SetBF16(false)); err != nil {
		return nil, fmt.Errorf("device cuda: %w", err)
	}
	return graph.NewDeviceDecoder(dev, p, slots)
}

func (f *deviceForward) run() error                         { return f.prog.Run() }
func (f *deviceForward) value(n *G.Node) ([]float32, error) { return f.dm.Value(n) }
func (f *deviceForward) lossRows(loss *G.Node) (int, error) { return f.dm.LossCount(loss) }
func (f *deviceForward) close()                             { f.dm.Close() }

func (g *deviceRun) step(fill func() error, accum int, weights []float32, clip float64, lr float64, look bool) (float64, float64, error) {
	g.steps++
	var sum float64
	for micro := range accum {
		if err := fill(); err != nil {
			return 0, 0, err
		}
		if err := g.dt.Step(); err != nil {
			return 0, 0, err
		}
		if look {
			l, err := g.dt.LossValue()
			if err != nil {
				return 0, 0, err
			}
			sum += float64(l)
		}
		w := 1 / float32(accum)
		if weights != nil {
			w = weights[micro]
		}
		if err := g.dt.AccumulateGrads(micro, accum, w); err != nil {
			return 0, 0, err
		}
	}
	if err := g.dt.ClipGrads(clip); err != nil {
		return 0, 0, err
	}
	if !look { // the device refuses a non-finite step itself; no wait
		if err := g.dt.GuardStep(g.steps); err != nil {
			return 0, 0, err
		}
		return math.NaN(), math.NaN(), g.opt.Update(lr)
	}
	norm, err := g.stepState() // the step's one wait
	if err != nil || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return math.NaN(), norm, err
	}
	if err := g.opt.Update(lr); err != nil {
		return 0, 0, err
	}
	return sum / float64(accum), norm, nil
}

func (g *deviceRun) eval() (float64, error) {
	if err := g.dt.Eval(); err != nil {
		return 0, err
	}
	l, err := g.dt.LossValue()
	return float64(l), err
}

func (g *deviceRun) grad(i int) ([]float32, error) { return g.dt.Grad(i) }

func (g *deviceRun) predict(out *G.Node) ([]float32, error) {
	p := g.progs[out]
	if p == nil {
		var err error
		if p, err = g.dt.Forward(out); err != nil {
			return nil, err
		}
		g.progs[out] = p
	}
	if err := g.dt.RunEval(p); err != nil {
		return nil, err
	}
	return g.dt.Value(out)
}

// windowSlots is how many outputs window can sum.
const windowSlots = 4

func (g *deviceRun) window(take bool, scale float32, outs ...*G.Node) ([]float64, error) {
	if len(outs) > windowSlots {
		return nil, fmt.Errorf("device cuda: %d outputs to sum, at most %d", len(outs), windowSlots)
	}
	d := g.dt.Machine.Device()
	if g.win.IsNil() {
		var err error
		if g.win, err = d.Alloc(windowSlots); err == nil {
			err = d.Zero(g.win)
		}
		if err != nil {
			return nil, err
		}
	}
	for i, n := range outs {
		b, err := g.dt.Machine.Buffer(n)
		if err != nil {
			return nil, err
		}
		if err := d.AddScaled(g.win.Slice(i, 1), g.win.Slice(i, 1), b.Slice(0, 1), scale, 1); err != nil {
			return nil, err
		}
	}
	if !take {
		return nil, nil
	}
	var sums [windowSlots]float32
	if err := d.Download(sums[:], g.win); err != nil {
		return nil, err
	}
	out := make([]float64, len(outs))
	if len(outs) == 0 { // take every slot
		out = make([]float64, windowSlots)
	}
	for i := range out {
		out[i] = float64(sums[i])
	}
	return out, d.Zero(g.win)
}

// stepState waits for the device and returns the last step's gradient
// norm, or a *lateNonFinite when the device has refused a step.
func (g *deviceRun) stepState() (float64, error) {
	norm, refused, first, err := g.dt.StepState()
	if err == nil && refused > 0 {
		err = &lateNonFinite{back: g.steps - first}
	}
	return norm, err
}

func (g *deviceRun) sync(o *AdamW) error {
	if _, err := g.stepState(); err != nil {
		return err
	}
	if err := g.dt.DownloadWeights(); err != nil {
		return err
	}
	o.Step = g.opt.Step
	return g.opt.Download(o.M, o.V)
}

func (g *deviceRun) attention() string {
	switch flash, all := g.dt.Machine.Ops().FlashAttentions(); {
	case flash == 0:
		return "batched"
	case flash == all:
		return "flash"
	default:
		return fmt.Sprintf("flash in %d of %d layers", flash, all)
	}
}

func (g *deviceRun) close() {
	dev := g.dt.Machine.Device()
	g.dt.Close() // waits for the stream, whose last work may read the window
	if !g.win.IsNil() {
		dev.Free(g.win)
	}
}
