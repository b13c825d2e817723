package train

// Pretrain: the training loop of gptctl pretrain.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"gptctl/graph"
	"gptctl/kernels"
)

// Options are the parts of a run that are not in its config.
type Options struct {
	OutDir   string
	Resume   bool
	Log      io.Writer // progress and log lines
	Terminal bool      // Log is a terminal: draw a live progress line
	// MaxTime, when above 0, is this job's wall-time limit (--max-time), in
	// place of the config's max_time; it is not written into the run's
	// config, so a later --resume takes the config's again.
	MaxTime time.Duration
	// AfterStep, if set, is called after each optimizer step with the number
	// of steps done (tests use it to interrupt a run at a known step).
	AfterStep func(step int)
}

// wallLimit is the job's wall-time limit: MaxTime, else the config's.
func (o Options) wallLimit(config time.Duration) time.Duration {
	if o.MaxTime > 0 {
		return o.MaxTime
	}
	return config
}

// Summary is the outcome of a run, also written to DIR/summary.json.
type Summary struct {
	Status      string  `json:"status"` // completed | interrupted | failed
	Step        int     `json:"step"`
	MaxSteps    int     `json:"max_steps"`
	TrainLoss   float64 `json:"train_loss,omitempty"` // the last logged step's; absent before any
	ValLoss     float64 `json:"val_loss,omitempty"`   // the last evaluation's; absent before any
	BestValLoss float64 `json:"best_val_loss,omitempty"`
	BestStep    int     `json:"best_step,omitempty"` // the evaluation step of best_val_loss
	Best        string  `json:"best,omitempty"`      // DIR/best: the model at best_step
	TokensSeen  int64   `json:"tokens_seen"`
	RunInfo
}

// RunInfo ends the summary of every run, pretraining or finetuning.
type RunInfo struct {
	TokensPerS   float64 `json:"tokens_per_s,omitempty"` // the last session's; absent when it trained no step
	WallSeconds  float64 `json:"wall_seconds"`
	Params       int     `json:"params"`
	Checkpoint   string  `json:"checkpoint,omitempty"` // absent when the run wrote none
	OutDir       string  `json:"out_dir"`
	Device       string  `json:"device"`
	Interruption string  `json:"interruption,omitempty"` // why an interrupted run stopped
	Error        string  `json:"error,omitempty"`        // why a failed run stopped
}

// SetupDevice checks the device setting against this build and the
// machine and returns the device the run uses: "cuda" when the config asks
// for it (an error if no GPU is usable) or says auto and a GPU is usable,
// else "cpu", with a one-line notice of why.
func SetupDevice(cfg Config, log io.Writer) (string, error) {
	device := "cpu"
	switch {
	case cfg.Device == "cuda" && !kernels.CUDA:
		return "", &ConfigError{errors.New("device cuda: this gptctl was built without CUDA (build it with make build-cuda, or use device: cpu)")}
	case cfg.Device == "cuda":
		desc, err := kernels.ProbeCUDA()
		if err != nil {
			return "", &ConfigError{fmt.Errorf("device cuda: no usable GPU (%v); use device: auto or cpu", err)}
		}
		fmt.Fprintf(log, "device: cuda (%s)\n", desc)
		device = "cuda"
	case cfg.Device == "auto" && !kernels.CUDA:
		fmt.Fprintln(log, "device: cpu (this build has no CUDA support)")
	case cfg.Device == "auto":
		desc, err := kernels.ProbeCUDA()
		switch {
		case err != nil:
			fmt.Fprintf(log, "device: cpu (no usable GPU: %v)\n", err)
		default:
			fmt.Fprintf(log, "device: cuda (%s)\n", desc)
			device = "cuda"
		}
	}
	if cfg.Threads > 0 {
		runtime.GOMAXPROCS(cfg.Threads)
	}
	kernels.SetThreads(1) // BLAS runs single-threaded; our kernels split work across goroutines
	return device, nil
}

// Pretrain trains a language model as cfg says and writes the run into
// opt.OutDir. A cancelled ctx (SIGTERM, SIGINT) checkpoints and returns a
// Summary with status "interrupted".
func Pretrain(ctx context.Context, cfg Config, opt Options) (*Summary, error) {
	device, unlock, err := claim(cfg, opt)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := newRun(cfg, opt, device)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if r.finished {
		return r.finishedSummary()
	}
	sum, err := r.loop(ctx)
	if err != nil {
		r.fillSummary("failed")
		r.sum.Error = err.Error()
		writeJSON(filepath.Join(r.opt.OutDir, "summary.json"), r.sum) // best effort: the disk may be full
	}
	return sum, err
}

// claim picks the device of a run and locks its directory; a new run (not
// opt.Resume) is refused a directory that holds a run (heldRun).
func claim(cfg Config, opt Options) (device string, unlock func(), err error) {
	if device, err = SetupDevice(cfg, opt.Log); err != nil {
		return "", nil, err
	}
	if unlock, err = lockRunDir(opt.OutDir); err != nil {
		return "", nil, err
	}
	if err := recoverDir(opt.OutDir, bestDir); err != nil { // a kill in the middle of its swap
		unlock()
		return "", nil, fmt.Errorf("run directory: %w", err)
	}
	if held := heldRun(opt.OutDir); !opt.Resume && held != "" { // a new run would write over it
		unlock()
		return "", nil, inputErrorf("run directory %s already holds a run (it has %s): --resume continues it; to start again, remove it or choose another --out", opt.OutDir, held)
	}
	return device, unlock, nil
}

// fillSummary copies the run's state into its summary.
func (r *run) fillSummary(status string) {
	r.sum.Step, r.sum.BestValLoss, r.sum.BestStep = r.state.Step, r.state.BestVal, r.state.BestStep
	r.sum.ValLoss, r.sum.TrainLoss = r.state.ValLoss, r.state.TrainLoss
	r.sum.TokensSeen, r.sum.WallSeconds = r.state.TokensSeen, r.state.Elapsed
	if r.state.BestStep > 0 {
		r.sum.Best = filepath.Join(r.opt.OutDir, bestDir)
	}
	if r.sum.Status == "" {
		r.sum.Status = status
	}
}

// finishedSummary is the outcome of a resume at max_steps, which trains
// and writes nothing: the run's summary.json, or, when a kill came between
// the last checkpoint and the summary, one written from the checkpoint.
func (r *run) finishedSummary() (*Summary, error) {
	var s Summary
	if status, step := readSummary(r.opt.OutDir, &s); status == "completed" && step == r.state.Step {
		return &s, nil
	}
	r.sum.Params = r.params.Count()
	r.fillSummary("completed")
	return r.sum, writeJSON(filepath.Join(r.opt.OutDir, "summary.json"), r.sum)
}

// readSummary reads runDir/summary.json into sum (when not nil) and returns
// its status and step; "" when there is none or it does not parse.
func readSummary(runDir string, sum any) (status string, step int) {
	b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		return "", 0
	}
	var head struct {
		Status string `json:"status"`
		Step   int    `json:"step"`
	}
	if json.Unmarshal(b, &head) != nil || sum != nil && json.Unmarshal(b, sum) != nil {
		return "", 0
	}
	return head.Status, head.Step
}

// evaluate returns the mean validation loss over cfg.EvalBatches batches,
// the same batches at every evaluation.
func (r *run) evaluate() (float64, error) {
	r.val.Reset()
	var sum float64
	for i := 0; i < r.cfg.EvalBatches; i++ {
		if err := r.val.Fill(graph.Int32Data(r.model.Idx), graph.Int32Data(r.targets), r.model.B); err != nil {
			return 0, err
		}
		l, err := r.evalBatch()
		if err != nil {
			return 0, err
		}
		sum += l
	}
	return sum / float64(r.cfg.EvalBatches), nil
}

func (r *run) evalBatch() (float64, error) {
	if r.gpu != nil {
		return r.gpu.eval()
	}
	l, err := r.tr.Eval()
	return float64(l), err
}

func (r *run) loop(ctx context.Context) (*Summary, error) {
	cfg := r.cfg
	B, T := r.model.B, r.model.T
	start, base := time.Now(), r.state.Elapsed
	elapsed := func() float64 { return base + time.Since(start).Seconds() }
	var trainTime time.Duration
	var slowest time.Duration // the longest step or checkpoint so far
	for r.state.Step < cfg.MaxSteps {
		if ctx.Err() != nil {
			r.sum.Status, r.sum.Interruption = "interrupted", context.Cause(ctx).Error()
			break
		}
		if limit := r.opt.wallLimit(cfg.MaxDuration()); limit > 0 && time.Since(start)+3*slowest > limit {
			r.sum.Status, r.sum.Interruption = "interrupted", fmt.Sprintf("max_time %v reached", limit)
			break
		}
		step := r.state.Step
		lr := LR(step, cfg.WarmupSteps, cfg.MaxSteps, cfg.LR, cfg.MinLR, cfg.LRDecay) * r.lrScale()
		t0 := time.Now()
		done := step + 1 // the step count after this step
		evaluated := cfg.EvalInterval > 0 && done%cfg.EvalInterval == 0 || done == cfg.MaxSteps
		logged := done%cfg.LogInterval == 0 || evaluated
		loss, err := r.trainStep(float32(lr), logged)
		if errors.Is(err, errSkipped) {
			r.state.Step++
			r.state.Skipped++
			r.state.LRScale = r.lrScale() / 2
			fmt.Fprintf(r.opt.Log, "step %d: %v; skipped, learning rate scale now %g\n", step+1, err, r.state.LRScale)
			if r.state.Skipped >= maxSkipped {
				return nil, &NonFiniteError{fmt.Errorf("step %d: %d steps skipped for non-finite values; giving up", step+1, r.state.Skipped)}
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		}
		slowest = max(slowest, time.Since(t0))
		trainTime += time.Since(t0)
		r.state.Step++
		r.state.TokensSeen += int64(B * T * cfg.GradAccum)
		r.state.Elapsed = elapsed() // for the summary of a run that fails later
		if !math.IsNaN(loss) {      // on a GPU the loss comes back on logged steps only
			r.state.TrainLoss = loss
		}
		tps := float64(int64(B*T*cfg.GradAccum)*int64(r.state.Step-r.startStep)) / trainTime.Seconds()
		last := r.state.Step == cfg.MaxSteps
		m := metrics{"step": r.state.Step, "train_loss": loss, "lr": lr, "grad_norm": r.gradNorm, "tokens_per_s": tps,
			"elapsed_s": elapsed()}
		if evaluated {
			v, err := r.evaluate()
			if err != nil {
				return nil, fmt.Errorf("evaluation at step %d: %w", r.state.Step, err)
			}
			m["val_loss"] = v
			r.state.ValLoss = v
			if r.state.BestVal == 0 || v < r.state.BestVal {
				r.state.BestVal, r.state.BestStep = v, r.state.Step
				if err := r.syncGPU(); err != nil {
					return nil, err
				}
				if err := commitDir(r.opt.OutDir, bestDir, "", func(tmp string) error {
					return writeModelDir(tmp, r.params, r.tok)
				}); err != nil {
					return nil, fmt.Errorf("best model at step %d: %w", r.state.Step, err)
				}
			}
		}
		if logged {
			if err := r.metrics.write(m); err != nil {
				return nil, err
			}
			r.progress.log(m, cfg.MaxSteps)
		}
		r.sum.TokensPerS = tps
		if cfg.CheckpointInterval > 0 && r.state.Step%cfg.CheckpointInterval == 0 && !last {
			t1 := time.Now()
			if err := r.save(elapsed()); err != nil {
				return nil, err
			}
			slowest = max(slowest, time.Since(t1))
		}
		if r.opt.AfterStep != nil {
			r.opt.AfterStep(r.state.Step)
		}
	}
	if err := r.save(elapsed()); err != nil {
		return nil, err
	}
	r.progress.done()
	r.fillSummary("completed")
	if err := writeJSON(filepath.Join(r.opt.OutDir, "summary.json"), r.sum); err != nil {
		return nil, err
	}
	return r.sum, nil
}

// trainStep runs GradAccum micro-batches, clips and applies AdamW. On a GPU
// the loss is downloaded only when logged (NaN otherwise).
func (r *run) trainStep(lr float32, logged bool) (float64, error) {
	if r.gpu != nil {
		fill := func() error {
			return r.train.Fill(graph.Int32Data(r.model.Idx), graph.Int32Data(r.targets), r.model.B)
		}
		// A logged step waits for the loss and the gradient norm; so does
		// every step under on_nonfinite: skip, which must know at once to
		// halve the next step's learning rate. Other steps do not wait: the
		// device refuses a non-finite step itself, and the next step that
		// looks reports it.
		look := logged || r.cfg.OnNonFinite == "skip"
		loss, norm, err := r.gpu.step(fill, r.cfg.GradAccum, r.cfg.GradClip, lr, look)
		r.gradNorm = norm
		var late *lateNonFinite
		switch {
		case errors.As(err, &late):
			err = r.nonFinite(late.at(r.state.Step + 1))
		case err == nil && look && (math.IsNaN(norm) || math.IsInf(norm, 0)):
			err = r.nonFinite(fmt.Errorf("the gradient norm is %v: %s", norm, r.firstNonFinite()))
		}
		return loss, err
	}
	var sum float64
	for micro := 0; micro < r.cfg.GradAccum; micro++ {
		if err := r.train.Fill(graph.Int32Data(r.model.Idx), graph.Int32Data(r.targets), r.model.B); err != nil {
			return 0, err
		}
		l, err := r.tr.Step()
		if err != nil {
			return 0, err
		}
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return 0, r.nonFinite(fmt.Errorf("the training loss is %v (lower lr, or check the data)", l))
		}
		sum += float64(l)
		r.accumulate(micro)
	}
	r.gradNorm = ClipGrads(r.grads, r.cfg.GradClip)
	if math.IsNaN(r.gradNorm) || math.IsInf(r.gradNorm, 0) {
		return 0, r.nonFinite(fmt.Errorf("the gradient norm is %v: %s", r.gradNorm, r.firstNonFinite()))
	}
	r.optim.Update(r.params, r.grads, lr)
	return sum / float64(r.cfg.GradAccum), nil
}

// accumulate adds this micro-batch's gradients, scaled by 1/GradAccum.
func (r *run) accumulate(micro int) {
	if r.cfg.GradAccum > 1 {
		accumulateGrads(r.grads, r.tr.Grad, micro, r.cfg.GradAccum)
	}
}

func (r *run) firstNonFinite() string {
	for i := range r.params.List {
		var g []float32
		if r.gpu == nil {
			g = r.grads[i]
		} else {
			var err error
			if g, err = r.gpu.grad(i); err != nil {
				return "the gradients could not be read back: " + err.Error()
			}
		}
		for _, v := range g {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return "first in the gradient of " + r.params.List[i].Name
			}
		}
	}
	return "no single tensor"
}

// errSkipped marks a step skipped under on_nonfinite: skip.
var errSkipped = errors.New("non-finite values")

// maxSkipped is how many non-finite steps on_nonfinite: skip tolerates.
const maxSkipped = 10

func (r *run) nonFinite(err error) error {
	if r.cfg.OnNonFinite == "skip" {
		return fmt.Errorf("%w: %v", errSkipped, err)
	}
	return &NonFiniteError{err}
}

// NonFiniteError stops a run whose loss or gradients are not finite: the
// model diverged, and resuming it as it is would diverge again. gptctl exits
// with status 3 on it, so a job script can tell it from an I/O failure.
type NonFiniteError struct{ err error }

func (e *NonFiniteError) Error() string { return e.err.Error() }
func (e *NonFiniteError) Unwrap() error { return e.err }

func (r *run) lrScale() float64 {
	if r.state.LRScale == 0 {
		return 1
	}
	return r.state.LRScale
}
