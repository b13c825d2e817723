package train

// A pretraining step: micro-batches, clipping and AdamW on the CPU or the
// GPU, counted in the run's state, and a step whose loss or gradients are
// not finite, which stops the run or, under on_nonfinite: skip, is skipped.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"gptctl/graph"
)

// stepMetrics trains step (0-based) at its scheduled learning rate and
// returns its metrics, and whether they are logged: at log_interval, at an
// evaluation (evaluated), and for a skipped step whatever log_interval says.
func (r *run) stepMetrics(l *runLoop, step int, evaluated bool) (metrics, bool, error) {
	cfg := r.cfg
	lr := LR(step, cfg.WarmupSteps, cfg.MaxSteps, cfg.LR, cfg.MinLR, cfg.LRDecay) * r.state.lrScale()
	t0 := time.Now()
	logged := (step+1)%cfg.LogInterval == 0 || evaluated
	loss, err := r.trainStep(lr, logged)
	switch {
	case errors.Is(err, errSkipped): // the evaluation and checkpoint due at it still happen
		giveUp := r.skip(step, err)
		r.state.Elapsed = l.elapsed() // the summary's wall time counts skipped steps too
		// Logged whatever log_interval says, the last skipped step too.
		m := metrics{"step": r.state.Step, "lr": lr, "skipped": true, "elapsed_s": r.state.Elapsed}
		if giveUp != nil { // exit status 3 even if the line cannot be written
			return nil, false, errors.Join(giveUp, r.metrics.write(m))
		}
		return m, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("step %d: %w", step+1, err)
	}
	l.p.step(time.Since(t0))
	r.countStep(loss, l.elapsed())
	r.sum.TokensPerS = l.p.tokensPerS(int64(r.model.B) * int64(r.model.T) * int64(cfg.GradAccum))
	return metrics{"step": r.state.Step, "train_loss": loss, "lr": lr, "grad_norm": r.gradNorm,
		"tokens_per_s": r.sum.TokensPerS, "elapsed_s": l.elapsed()}, logged, nil
}

// skip counts step as skipped under on_nonfinite: skip (err says why);
// see skipState.skip.
func (r *run) skip(step int, err error) error {
	r.state.Step++
	return r.state.skip(r.opt.Log, step, err)
}

// skipState is what on_nonfinite: skip keeps in a run's checkpoint, a
// pretrain's or a finetune's: the steps skipped and the learning rate
// scale they lowered.
type skipState struct {
	LRScale float64 `json:"lr_scale,omitempty"` // 0 means 1
	Skipped int     `json:"skipped_steps,omitempty"`
}

// skip counts step (0-based) as skipped (err says why) and halves the
// learning rate scale; it fails once maxSkipped steps were.
func (s *skipState) skip(log io.Writer, step int, err error) error {
	s.Skipped++
	s.LRScale = s.lrScale() / 2
	fmt.Fprintf(log, "step %d: %v; skipped, learning rate scale now %g\n", step+1, err, s.LRScale)
	if s.Skipped >= maxSkipped {
		return &NonFiniteError{fmt.Errorf("step %d: %d steps skipped for non-finite values; giving up", step+1, s.Skipped)}
	}
	return nil
}

func (s skipState) lrScale() float64 {
	if s.LRScale == 0 {
		return 1
	}
	return s.LRScale
}

// countStep adds a trained step, with its training loss, to the run's state;
// elapsed is the run's wall time so far.
func (r *run) countStep(loss, elapsed float64) {
	r.state.Step++
	r.state.TokensSeen += int64(r.model.B) * int64(r.model.T) * int64(r.cfg.GradAccum)
	r.state.Elapsed = elapsed // for the summary of a run that fails later
	if !math.IsNaN(loss) {    // on a GPU the loss comes back on logged steps only
		r.state.TrainLoss, r.state.HasTrainLoss = loss, true
	}
}

// trainStep runs GradAccum micro-batches, clips and applies AdamW. On a GPU
// the loss is downloaded only when logged (NaN otherwise).
func (r *run) trainStep(lr float64, logged bool) (float64, error) {
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
		loss, norm, err := r.gpu.step(fill, r.cfg.GradAccum, nil, r.cfg.GradClip, lr, look)
		r.gradNorm = norm
		var late *lateNonFinite
		switch {
		case errors.As(err, &late):
			err = r.nonFinite(late.at(r.state.Step + 1))
			r.uncount(late.back) // the refused steps since, this one aside (not counted yet)
		case err == nil && look && (math.IsNaN(norm) || math.IsInf(norm, 0)):
			err = r.nonFinite(fmt.Errorf("the gradient norm is %v: %s", norm, r.firstNonFinite()))
		}
		return loss, err
	}
	fill := func() error {
		return r.train.Fill(graph.Int32Data(r.model.Idx), graph.Int32Data(r.targets), r.model.B)
	}
	loss, norm, err := cpuStep(r.tr, r.params, r.optim, r.grads, r.cfg.GradAccum, r.cfg.GradClip, lr, fill)
	r.gradNorm = norm
	var nf *nonFiniteStep
	switch {
	case errors.As(err, &nf) && nf.what == "gradient norm":
		return 0, r.nonFinite(fmt.Errorf("%v: %s", nf, r.firstNonFinite()))
	case errors.As(err, &nf):
		return 0, r.nonFinite(nf)
	}
	return loss, err
}

// uncount takes the last n counted steps out of the run's state, steps the
// device refused after a non-finite gradient norm, so that the summary of
// the stopped run names the last step whose update stands, as on the CPU.
func (r *run) uncount(n int) {
	n = min(n, r.state.Step)
	r.state.Step -= n
	r.state.TokensSeen -= int64(n) * int64(r.model.B) * int64(r.model.T) * int64(r.cfg.GradAccum)
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
