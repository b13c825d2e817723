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

// gpuBLASName names the GEMM the GPU's products go to: "cublas/12.4.5" or
// "gemm.cu" (kernels' own).
func gpuBLASName() string {
	dev, err := openGPU()
	if err != nil {
		return "cuda"
	}
	return dev.CuBLAS()
}

// gpuSgemmPeak measures the GPU's GEMM rate in GFLOP/s for the products
// training uses: float32 (TF32 when tf32), or bfloat16 operands with float32
// accumulation when bf16. The best of several 4096³ products of random
// matrices after a warm-up (bf16 operands converted beforehand), the
// yardstick of a GPU bench's MFU as graph.SgemmPeak is of a CPU one.
// (Products of zeros run faster: the tensor cores draw less power and the
// clocks stay higher; training's operands are not zeros.)
func gpuSgemmPeak(tf32, bf16 bool) (float64, error) {
	dev, err := openGPU()
	if err != nil {
		return 0, err
	}
	if err := dev.SetTF32(tf32); err != nil {
		return 0, err
	}
	var held []graph.Buffer // freed on return, the last allocated first
	defer func() {
		for i := len(held) - 1; i >= 0; i-- {
			dev.Free(held[i])
		}
	}()
	const n = peakN
	bufs, err := peakOperands(dev, &held)
	if err != nil {
		return 0, err
	}
	product := func() error { return dev.Sgemm(false, false, n, n, n, 1, bufs[0], n, bufs[1], n, 0, bufs[2], n) }
	if bf16 {
		ab, err := peakBF16Operands(dev, bufs, &held)
		if err != nil {
			return 0, err
		}
		product = func() error { return dev.GemmBF16(false, false, n, n, n, 1, ab[0], n, ab[1], n, 0, bufs[2], n) }
	}
	return bestGemmRate(dev, product)
}

// peakN is the size of gpuSgemmPeak's square matrices.
const peakN = 4096

// peakOperands allocates gpuSgemmPeak's three peakN² float32 matrices, each
// appended to held as it is, and fills them with the same random numbers in
// [-1, 1).
func peakOperands(dev *graph.Device, held *[]graph.Buffer) ([3]graph.Buffer, error) {
	const n = peakN
	var bufs [3]graph.Buffer
	for i := range bufs {
		var err error
		if bufs[i], err = dev.Alloc(n * n); err != nil {
			return bufs, err
		}
		*held = append(*held, bufs[i])
	}
	rng := graph.NewRNG(1)
	host := make([]float32, n*n)
	for i := range host {
		host[i] = rng.Float32()*2 - 1
	}
	for i := range bufs {
		if err := dev.Upload(bufs[i], host); err != nil {
			return bufs, err
		}
	}
	return bufs, nil
}

// peakBF16Operands allocates bfloat16 copies of the first two of bufs, the
// operands of gpuSgemmPeak's product, each appended to held as it is.
func peakBF16Operands(dev *graph.Device, bufs [3]graph.Buffer, held *[]graph.Buffer) ([2]graph.Buffer, error) {
	const n = peakN
	var ab [2]graph.Buffer
	for i := range ab {
		var err error
		if ab[i], err = dev.Alloc(n * n / 2); err != nil {
			return ab, err
		}
		*held = append(*held, ab[i])
		if err := dev.ToBF16(ab[i], bufs[i], n*n); err != nil {
			return ab, err
		}
	}
	return ab, nil
}

// bestGemmRate times six runs of product, a peakN³ GEMM, and returns the
// best rate of the last five in GFLOP/s (the first is a warm-up).
func bestGemmRate(dev *graph.Device, product func() error) (float64, error) {
	const n = peakN
	best := 0.0
	for i := range 6 {
		stop, err := dev.Timer()
		if err != nil {
			return 0, err
		}
		if err := product(); err != nil {
			stop() // frees the timer's events; the product's error is the one to report
			return 0, err
		}
		ms, err := stop()
		if err != nil {
			return 0, err
		}
		if i > 0 && ms > 0 {
			best = max(best, 2*n*n*n/(ms/1e3)/1e9)
		}
	}
	return best, nil
}
