package train

// Bench: the speed of the real training step (forward, backward, gradient
// clipping, AdamW) on synthetic tokens, for gptctl bench and for comparing
// against PyTorch (../shared/bench/torch_ref.py) on the same shapes.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"gptctl/graph"
)

// BenchResult is the one JSON line gptctl bench prints.
type BenchResult struct {
	TokensPerS     float64 `json:"tokens_per_s"`    // B*T*grad_accum / median step time
	StepMS         float64 `json:"step_ms"`         // median
	MinStepMS      float64 `json:"min_step_ms"`     //
	CPUMSPerStep   float64 `json:"cpu_ms_per_step"` // user+system CPU of the process per timed step
	MFU            float64 `json:"mfu"`             // achieved_gflops / sgemm_gflops
	AchievedGFLOPS float64 `json:"achieved_gflops"` // flops_per_token * tokens_per_s
	SgemmGFLOPS    float64 `json:"sgemm_gflops"`    // measured sgemm peak at this thread count
	FlopsPerToken  int64   `json:"flops_per_token"` // 6N + 12*L*T*d
	Params         int     `json:"params"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`     // VmHWM after the timed steps
	AllocsPerStep  float64 `json:"allocs_per_step"` // heap allocations per timed step
	BytesPerStep   float64 `json:"alloc_bytes_per_step"`
	Loss           float64 `json:"loss"` // of the last step
	Steps          int     `json:"steps"`
	Warmup         int     `json:"warmup"`
	GradAccum      int     `json:"grad_accum"` // micro-batches per step
	Threads        int     `json:"threads"`
	BLAS           string  `json:"blas"`      // the CPU's (openblas/SkylakeX, gonum), or the GPU's: cublas/12.4.5, gemm.cu
	Device         string  `json:"device"`    // cpu | cuda
	Precision      string  `json:"precision"` // of the products: fp32, or on a GPU tf32 or bf16
	Shape          string  `json:"shape"`     // L/d/heads/T/B/V
	Attention      string  `json:"attention"` // fused (CPU), or on a GPU flash (flash.cu) or batched (products and row kernels)
	// Profile is the device time of each kind of op over one more step,
	// each op timed alone (BenchSpec.Profile, device cuda only).
	Profile []graph.OpTime `json:"profile,omitempty"`
}

// BenchSpec is what Bench measures: steps timed steps after warmup untimed
// ones, with threads goroutines (0: all cores); Profile adds one step with
// every device op timed.
type BenchSpec struct {
	Steps, Warmup, Threads int
	Profile                bool
}

// Bench trains warmup untimed and then steps timed steps of cfg's model on
// uniformly random tokens, with threads goroutines (0: all cores), and
// measures the sgemm peak afterwards (so that its buffers do not count in the
// peak RSS). The vocabulary is cfg.VocabSize, else its tokenizer's (one
// whose size needs no corpus: not char), unless cfg.InitFrom names a
// model, whose shape is then the one measured.
func Bench(cfg Config, spec BenchSpec, log io.Writer) (*BenchResult, error) {
	cfg, err := benchConfig(cfg, spec)
	if err != nil {
		return nil, err
	}
	r, err := benchOn(cfg, spec, log)
	return r, deviceMemory(err, cfg.memoryFix())
}

// benchOn is Bench of the checked cfg.
func benchOn(cfg Config, spec BenchSpec, log io.Writer) (*BenchResult, error) {
	device, err := SetupDevice(cfg, log)
	if err != nil {
		return nil, err
	}
	if spec.Profile && device != "cuda" { // before the steps it would follow
		return nil, &ConfigError{fmt.Errorf("bench: --profile times device ops; device is %s (on the CPU, each op has a benchmark: %s, from the repository root)", device, cpuOpBenchmarks())}
	}
	if device == "cpu" { // as pretrain refuses it, before the memory is asked for
		if err := cfg.fitsTraining(nil); err != nil {
			return nil, &ConfigError{err}
		}
	}
	b, err := newBenchRun(cfg, device)
	if err != nil {
		return nil, err
	}
	defer b.close()
	fmt.Fprintf(log, "bench: %s, %s, C=%d, %s, T=%d, B=%d, grad_accum %d, vocab %d, %.2fM parameters, %s, BLAS %s\n",
		cfg.Arch, plural(cfg.NLayer, "layer"), cfg.NEmbd, plural(cfg.NHead, "head"), cfg.T(), cfg.BatchSize, cfg.GradAccum, cfg.VocabSize,
		float64(b.params.Count())/1e6, plural(runtime.GOMAXPROCS(0), "thread"), graph.BLASName())
	logBLASNote(log, device)
	b.total = spec.Warmup + spec.Steps
	if spec.Profile {
		b.total++
	}
	var cpuPeak float64 // measured before the steps and after: a load on a shared machine in one window leaves the other
	if device == "cpu" {
		cpuPeak = graph.SgemmPeak()
	}
	r, err := b.measure(spec.Warmup, spec.Steps)
	if err != nil {
		return nil, err
	}
	r.Device = device
	if spec.Profile {
		if err := b.profile(r, log); err != nil {
			return nil, err
		}
	}
	if err := b.peak(r, device, cpuPeak); err != nil {
		return nil, err
	}
	return r, nil
}

// cpuOpBenchmarks is the command that times each op on the CPU, with this
// build's BLAS.
func cpuOpBenchmarks() string {
	tags := ""
	if strings.HasPrefix(graph.BLASName(), "openblas") {
		tags = "-tags openblas "
	}
	return "go test " + tags + "-run '^$' -bench . ./kernels"
}

// benchRun is one model with its trainer, optimizer and token source.
type benchRun struct {
	cfg    Config
	params *graph.Params
	model  *graph.Model
	tr     *graph.Trainer
	gpu    gpuTrainer // device cuda, instead of tr, grads and optim
	idx    []int32
	tgt    []int32
	grads  [][]float32
	optim  *AdamW
	rng    *rand.Rand
	n      int // steps run
	total  int // steps to run, for the messages (0: not known)
}

func newBenchRun(cfg Config, device string) (*benchRun, error) {
	params, err := graph.NewParams(cfg.Config, graph.NewRNG(cfg.Seed))
	if err != nil {
		return nil, &ConfigError{err}
	}
	model, err := graph.New(params, cfg.BatchSize, cfg.T(), graph.NewRNG(cfg.Seed+1), modelOptions(device)...)
	if err != nil {
		return nil, err
	}
	loss, targets, err := model.LMLoss()
	if err != nil {
		return nil, err
	}
	b := &benchRun{cfg: cfg, params: params, model: model,
		idx: graph.Int32Data(model.Idx), tgt: graph.Int32Data(targets),
		optim: cfg.newAdamW(params),
		rng:   rand.New(rand.NewPCG(cfg.Seed, 2))}
	if device == "cuda" {
		b.gpu, err = newGPUTrainer(model, loss, b.optim, cfg.GPUMath)
		return b, err
	}
	if b.tr, err = model.Differentiate(loss); err != nil {
		return nil, err
	}
	b.grads = stepGrads(b.tr, params, cfg.GradAccum)
	return b, nil
}

func (b *benchRun) close() {
	if b.gpu != nil {
		b.gpu.close()
	}
}

// step is one training step on fresh batches of random tokens, as pretrain's
// trainStep does it (cpuStep on the CPU): grad_accum forwards and
// backwards, clip, AdamW. A step whose loss or gradient norm is not finite
// stops the bench with a *NonFiniteError naming it (bench does not read
// on_nonfinite: a skipped step is not the training step it times).
func (b *benchRun) step() (float32, error) {
	v := uint32(b.cfg.VocabSize)
	fill := func() error {
		for i := range b.idx {
			b.idx[i], b.tgt[i] = int32(b.rng.Uint32N(v)), int32(b.rng.Uint32N(v))
		}
		return nil
	}
	b.n++
	var loss, norm float64
	var err error
	if b.gpu != nil { // the step waits for the gradient norm, so its time is the device's
		loss, norm, err = b.gpu.step(fill, b.cfg.GradAccum, nil, b.cfg.GradClip, b.cfg.LR, true)
	} else {
		loss, norm, err = cpuStep(b.tr, b.params, b.optim, b.grads, b.cfg.GradAccum, b.cfg.GradClip, b.cfg.LR, fill)
	}
	var nf *nonFiniteStep
	switch {
	case errors.As(err, &nf):
		return 0, b.diverged(nf.what, nf.v)
	case err != nil:
		return 0, err
	case !finite(norm): // the GPU's report of a step it refused
		return 0, b.diverged("gradient norm", norm)
	case !finite(loss):
		return 0, b.diverged("training loss", loss)
	}
	return float32(loss), nil
}

// diverged is the *NonFiniteError of the step just run, whose what (the
// training loss or the gradient norm) is v. The tokens are random, so the
// data is not the cause: the learning rate is.
func (b *benchRun) diverged(what string, v float64) error {
	at := fmt.Sprintf("step %d", b.n)
	if b.total > 0 {
		at += fmt.Sprintf(" of %d", b.total)
	}
	return &NonFiniteError{fmt.Errorf("bench: %s: the %s is %v: the model diverged at lr %g (lower lr)", at, what, v, b.cfg.LR)}
}

// finite is whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// measure trains warmup untimed steps and then steps timed ones, and
// returns what the timed steps measured: their times and the rates that
// follow, CPU time, allocations, peak RSS and the last loss.
func (b *benchRun) measure(warmup, steps int) (*BenchResult, error) {
	for range warmup {
		if _, err := b.step(); err != nil {
			return nil, err
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuSeconds()
	times := make([]float64, steps)
	var loss float32
	var err error
	for i := range times {
		t0 := time.Now()
		if loss, err = b.step(); err != nil {
			return nil, err
		}
		times[i] = time.Since(t0).Seconds()
	}
	cpu := cpuSeconds() - cpu0
	runtime.ReadMemStats(&after)
	cfg := b.cfg
	r := &BenchResult{
		CPUMSPerStep: cpu * 1e3 / float64(steps),
		Params:       b.params.Count(), Loss: float64(loss), Steps: steps, Warmup: warmup, GradAccum: cfg.GradAccum,
		Threads: runtime.GOMAXPROCS(0), BLAS: graph.BLASName(), PeakRSSMB: peakRSSMB(),
		AllocsPerStep: float64(after.Mallocs-before.Mallocs) / float64(steps),
		BytesPerStep:  float64(after.TotalAlloc-before.TotalAlloc) / float64(steps),
		Shape:         fmt.Sprintf("%d/%d/%d/%d/%d/%d", cfg.NLayer, cfg.NEmbd, cfg.NHead, cfg.T(), cfg.BatchSize, cfg.VocabSize),
	}
	r.FlopsPerToken = 6*int64(r.Params) + 12*int64(cfg.NLayer)*int64(cfg.T())*int64(cfg.NEmbd)
	r.setRates(times, int64(cfg.BatchSize)*int64(cfg.T())*int64(cfg.GradAccum))
	return r, nil
}

// setRates sets the median and fastest step of times (seconds, sorted in
// place) and the token and FLOP rates of the median, tokens a step.
func (r *BenchResult) setRates(times []float64, tokens int64) {
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + med) / 2
	}
	r.StepMS, r.MinStepMS = med*1e3, times[0]*1e3
	r.TokensPerS = float64(tokens) / med
	r.AchievedGFLOPS = float64(r.FlopsPerToken) * r.TokensPerS / 1e9
}

// profile times every device op over one more step into r.Profile and
// writes the table to log.
func (b *benchRun) profile(r *BenchResult, log io.Writer) error {
	graph.StartDeviceProfile()
	_, err := b.step()
	r.Profile = graph.StopDeviceProfile()
	if err != nil {
		return err
	}
	writeProfile(log, r.Profile, r.StepMS)
	return nil
}

// peak sets how the products were computed (BLAS, precision, attention),
// the sgemm peak they are measured against (on the CPU the better of
// before, measured before the steps, and now), and the MFU that follows.
func (b *benchRun) peak(r *BenchResult, device string, before float64) error {
	r.Precision, r.Attention = "fp32", "fused"
	if device == "cuda" {
		r.BLAS, r.Attention = gpuBLASName(), b.gpu.attention()
		switch {
		case b.cfg.BF16:
			r.Precision = "bf16"
		case b.cfg.TF32:
			r.Precision = "tf32"
		}
		var err error
		if r.SgemmGFLOPS, err = gpuSgemmPeak(b.cfg.TF32, b.cfg.BF16); err != nil {
			return err
		}
	} else {
		r.SgemmGFLOPS = max(before, graph.SgemmPeak())
	}
	r.MFU = r.AchievedGFLOPS / r.SgemmGFLOPS
	return nil
}

// peakRSSMB is the process's peak resident set (VmHWM) in MiB, or 0 where
// /proc is not available.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// writeProfile prints the op profile as a table, beside the median step.
func writeProfile(w io.Writer, ops []graph.OpTime, stepMS float64) {
	var total float64
	for _, o := range ops {
		total += o.MS
	}
	fmt.Fprintf(w, "profile: %.1f ms in graph ops (each timed alone), median step %.1f ms\n", total, stepMS)
	for _, o := range ops {
		fmt.Fprintf(w, "  %-28s %5d calls %9.2f ms %5.1f%%\n", o.Op, o.Calls, o.MS, 100*o.MS/max(total, 1e-9))
	}
}
