package train

// The pretraining loop: each step at its scheduled learning rate, an
// evaluation (and DIR/best when it is the best so far) every eval_interval
// steps, a checkpoint every checkpoint_interval, and the handling of a step
// whose loss or gradients are not finite (on_nonfinite).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"gptctl/graph"
)

// errEvalStopped is an evaluation that a cancelled context (a signal) cut
// short; the run checkpoints with the evaluation due (State.EvalDue).
var errEvalStopped = errors.New("evaluation stopped")

// evaluate returns the mean validation loss over cfg.EvalBatches batches,
// the same batches at every evaluation. It stops between batches when ctx
// is cancelled (errEvalStopped): an evaluation of a large model can take
// longer than the grace a scheduler gives between its signal and a kill.
func (r *run) evaluate(ctx context.Context) (float64, error) {
	r.val.Reset()
	var sum float64
	for i := 0; i < r.cfg.EvalBatches; i++ {
		if ctx.Err() != nil {
			return 0, errEvalStopped
		}
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
	if r.stopped { // as the data loaded
		r.sum.interrupt(context.Cause(ctx).Error())
		return r.endUntrained()
	}
	cfg := r.cfg
	B, T := r.model.B, r.model.T
	start, base := time.Now(), r.state.Elapsed
	elapsed := func() float64 { return base + time.Since(start).Seconds() }
	clock := r.opt.clock(start) // max_time counts from the job's start
	var p pace
	// What this job started from: progress is a step past it, or the
	// evaluation a signal left due.
	first, ranDue := r.state.Step, false
	if due := r.state.EvalDue; due != nil { // a signal stopped it before the checkpoint
		due["step"] = r.state.Step // an int again after JSON
		if err := r.evalAndLog(ctx, due, true, true); err != nil {
			return r.evalFailed(ctx, due, err, elapsed())
		}
		r.state.EvalDue, ranDue = nil, true
	}
	for r.state.Step < cfg.MaxSteps && !r.state.stopped(r.opt.Log, r.state.Step) {
		step := r.state.Step
		done := step + 1 // the step count after this step
		evaluated := cfg.evalsAt(done)
		saves := cfg.CheckpointInterval > 0 && done%cfg.CheckpointInterval == 0 && done < cfg.MaxSteps
		why, err := stopBefore(ctx, r.opt, cfg.MaxDuration(), clock, p.budget(evaluated, saves, cfg.EvalBatches, cfg.GradAccum), step, step > first || ranDue)
		if err != nil {
			return nil, err
		}
		if why != "" {
			r.sum.interrupt(why)
			if r.state.Step == 0 && r.sum.Checkpoint == "" {
				return r.endUntrained()
			}
			break
		}
		lr := LR(step, cfg.WarmupSteps, cfg.MaxSteps, cfg.LR, cfg.MinLR, cfg.LRDecay) * r.state.lrScale()
		t0 := time.Now()
		logged := done%cfg.LogInterval == 0 || evaluated
		loss, err := r.trainStep(lr, logged)
		var m metrics
		switch {
		case errors.Is(err, errSkipped): // the evaluation and checkpoint due at it still happen
			giveUp := r.skip(step, err)
			r.state.Elapsed = elapsed() // the summary's wall time counts skipped steps too
			// Logged whatever log_interval says, the last skipped step too.
			m, logged = metrics{"step": r.state.Step, "lr": lr, "skipped": true, "elapsed_s": r.state.Elapsed}, true
			if giveUp != nil { // exit status 3 even if the line cannot be written
				return nil, errors.Join(giveUp, r.metrics.write(m))
			}
		case err != nil:
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		default:
			p.step(time.Since(t0))
			r.countStep(loss, elapsed())
			r.sum.TokensPerS = p.tokensPerS(int64(B) * int64(T) * int64(cfg.GradAccum))
			m = metrics{"step": r.state.Step, "train_loss": loss, "lr": lr, "grad_norm": r.gradNorm,
				"tokens_per_s": r.sum.TokensPerS, "elapsed_s": elapsed()}
		}
		if evaluated {
			if why := p.stopBeforeEval(r.opt, cfg.MaxDuration(), clock, cfg.EvalBatches, cfg.GradAccum, r.state.Step); why != "" {
				r.sum.interrupt(why)
				r.state.EvalDue = m
				return r.end(elapsed())
			}
		}
		last := r.state.Step == cfg.MaxSteps
		t1 := time.Now()
		if err := r.evalAndLog(ctx, m, evaluated, logged); err != nil {
			return r.evalFailed(ctx, m, err, elapsed())
		}
		if evaluated {
			p.evaluated(time.Since(t1))
		}
		if r.state.stopped(r.opt.Log, r.state.Step) { // its checkpoint is the last
			return r.end(elapsed())
		}
		if cfg.CheckpointInterval > 0 && r.state.Step%cfg.CheckpointInterval == 0 && !last {
			t2 := time.Now()
			if err := r.save(elapsed()); err != nil {
				return nil, err
			}
			p.save = max(p.save, time.Since(t2))
		}
		if r.opt.AfterStep != nil {
			r.opt.AfterStep(r.state.Step)
		}
	}
	return r.end(elapsed())
}

// evalFailed ends the run after the evaluation of the step whose metrics
// are m failed with err: a signal stopped it (the checkpoint keeps the
// evaluation due, and the run ends interrupted), or it failed.
func (r *run) evalFailed(ctx context.Context, m metrics, err error, elapsed float64) (*Summary, error) {
	if !evalStopped(ctx, err, &r.sum.Outcome, r.opt.Log, r.state.Step) {
		return nil, err
	}
	r.state.EvalDue = m
	return r.end(elapsed)
}

// evalStopped reports whether err is an evaluation that a signal stopped
// (errEvalStopped) after step; then the run's outcome o is interrupted,
// and the log says that a resume makes the evaluation first.
func evalStopped(ctx context.Context, err error, o *Outcome, log io.Writer, step int) bool {
	if !errors.Is(err, errEvalStopped) {
		return false
	}
	o.interrupt(context.Cause(ctx).Error())
	fmt.Fprintf(log, "step %d: the evaluation was stopped; --resume makes it first\n", step)
	return true
}

// pace measures the steps this process trained (skipped ones not counted):
// their time and tokens/s, and the slowest step, evaluation and checkpoint
// so far.
type pace struct {
	train, slowest time.Duration // slowest: the slowest training step
	eval, save     time.Duration // the slowest evaluation and checkpoint
	steps          int
	evals          bool
}

func (p *pace) step(d time.Duration) {
	p.train += d
	p.slowest = max(p.slowest, d)
	p.steps++
}

func (p *pace) tokensPerS(tokensPerStep int64) float64 {
	return float64(tokensPerStep*int64(p.steps)) / p.train.Seconds()
}

func (p *pace) evaluated(d time.Duration) {
	p.eval, p.evals = max(p.eval, d), true
}

// budget is the time to leave before a wall-time limit when the next step
// begins: twice the slowest step, the slowest evaluation if the step makes
// one, the slowest checkpoint if it writes one, and one for the last
// checkpoint. Before any evaluation was timed, an estimate stands in:
// evalBatches forward passes, each taken as half a training micro-batch
// (about what a small model's forward costs, where fixed costs weigh; a
// larger one's is nearer a third).
func (p *pace) budget(evaluates, saves bool, evalBatches, gradAccum int) time.Duration {
	b := 2*p.slowest + p.save
	if saves {
		b += p.save
	}
	if evaluates {
		b += p.evalTime(evalBatches, gradAccum)
	}
	return b
}

// evalTime is the time an evaluation of evalBatches forward batches is
// expected to take: the slowest one timed, else the estimate budget
// describes; 0 before any step was timed.
func (p *pace) evalTime(evalBatches, gradAccum int) time.Duration {
	switch {
	case p.evals:
		return p.eval
	case p.steps > 0:
		return p.train / time.Duration(p.steps) * time.Duration(evalBatches) / time.Duration(2*max(gradAccum, 1))
	}
	return 0
}

// stopBeforeEval says why a job stops after its first step, before that
// step's evaluation, "" when it goes on. The check before a job's first step
// has no timing to budget an evaluation with; after it, the estimate of
// evalTime, with the slowest checkpoint (for the one the stop writes), must
// fit in the wall-time limit. The evaluation is left due: the checkpoint
// keeps it, and --resume makes it first.
func (p *pace) stopBeforeEval(opt Options, config time.Duration, clock time.Time, evalBatches, gradAccum, step int) string {
	limit := opt.wallLimit(config)
	if limit <= 0 || p.steps != 1 || p.evals || time.Since(clock)+p.evalTime(evalBatches, gradAccum)+p.save <= limit {
		return ""
	}
	fmt.Fprintf(opt.Log, "max_time %v reached (with room for the evaluation, about %v): stopping at step %d with a checkpoint, the evaluation due; --resume makes it first\n",
		limit, p.evalTime(evalBatches, gradAccum).Round(time.Millisecond), step)
	return fmt.Sprintf("max_time %v reached", limit)
}

// noProgressError is a job stopped by its time limit before it made any
// progress: a ConfigError (exit status 2) that leaves the run as it was,
// its summary unwritten (the run did not fail; a resume with more time
// goes on).
type noProgressError struct{ err *ConfigError }

func (e *noProgressError) Error() string { return e.err.Error() }
func (e *noProgressError) Unwrap() error { return e.err }

// stopBefore says why a run stops before its next step, "" when it goes
// on: ctx was cancelled, or the step, with the room budget asks for, would
// pass the job's wall-time limit (opt's, else config, the run's max_time)
// counted from clock; the latter is logged with the steps done. A job
// whose limit passes before it has made any progress (progressed false:
// no step, no evaluation) fails with a ConfigError instead: stopped as
// interrupted, it would be resumed to stop there again, for ever.
func stopBefore(ctx context.Context, opt Options, config time.Duration, clock time.Time, budget time.Duration, done int, progressed bool) (string, error) {
	if ctx.Err() != nil {
		return context.Cause(ctx).Error(), nil
	}
	limit := opt.wallLimit(config)
	if limit <= 0 || time.Since(clock)+budget <= limit {
		return "", nil
	}
	if !progressed {
		return "", &noProgressError{&ConfigError{fmt.Errorf("max_time %v was spent before this job's first step (setting up took %v): raise it (--max-time, or max_time); resumed with the same limit, every job would stop there",
			limit, time.Since(clock).Round(time.Millisecond))}}
	}
	fmt.Fprintf(opt.Log, "max_time %v reached (with room for the next step): stopping at step %d with a checkpoint\n", limit, done)
	return fmt.Sprintf("max_time %v reached", limit), nil
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

// evalAndLog evaluates the model on an evaluated step, adding val_loss to
// the step's metrics m, and writes m on a logged one.
func (r *run) evalAndLog(ctx context.Context, m metrics, evaluated, logged bool) error {
	if evaluated {
		if err := r.evalBest(ctx, m); err != nil {
			var nf *NonFiniteError
			if errors.As(err, &nf) { // the step's line, without its validation loss, before the run stops
				return errors.Join(err, r.metrics.write(m))
			}
			return err
		}
	}
	if logged {
		if err := r.metrics.write(m); err != nil {
			return err
		}
		r.progress.log(m, r.cfg.MaxSteps)
	}
	if evaluated && r.cfg.SampleTokens > 0 {
		return r.sample(ctx)
	}
	return nil
}

// sample writes to the log sample_tokens tokens after sample_prompt from
// the model as it stands, drawn as gptctl generate draws by default, so
// that generate from a checkpoint of this step prints the same text. A
// signal cuts it short (what was drawn is logged) and the run stops as
// it would have after it.
func (r *run) sample(ctx context.Context) error {
	if err := r.syncGPU(); err != nil {
		return err
	}
	var b strings.Builder
	o := DefaultGenerate
	o.Prompt, o.MaxNewTokens, o.BatchSize, o.Context = r.cfg.SamplePrompt, r.cfg.SampleTokens, 1, ctx
	head := fmt.Sprintf("sample at step %d", r.state.Step)
	if err := generate(r.params, r.tok, o, &b); err != nil {
		if ctx.Err() == nil {
			return fmt.Errorf("%s: %w", head, err)
		}
		head += " (cut short by the stop)"
	}
	r.progress.text(head + ":\n" + b.String())
	return nil
}

// evalBest evaluates the model into m and the run's state, and writes it to
// DIR/best when its validation loss is the best so far.
func (r *run) evalBest(ctx context.Context, m metrics) error {
	v, err := r.evaluate(ctx)
	if err != nil {
		return fmt.Errorf("evaluation at step %d: %w", r.state.Step, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &NonFiniteError{fmt.Errorf("step %d: the validation loss is %v: the weights are no longer finite (lower lr)", r.state.Step, v)}
	}
	m["val_loss"] = v
	r.state.ValLoss, r.state.HasValLoss = v, true
	// The state takes the evaluation once best/ holds what it says: a
	// write that fails leaves both as they were.
	b, kept, improved, rejoined, save := settleBest(r.state.Step, v, r.state.best(), r.kept, lower)
	if save {
		if err := r.syncGPU(); err != nil {
			return err
		}
		if err := commitDir(r.opt.OutDir, bestDir, "", func(tmp string) error {
			if err := writeModelDir(tmp, r.params, r.tok); err != nil {
				return err
			}
			return sealBest(tmp, r.state.Step, "val_loss", v)
		}); err != nil {
			return fmt.Errorf("best model at step %d: %w", r.state.Step, err)
		}
	}
	r.kept, r.state.BestVal, r.state.BestStep = kept, b.Value, b.Step
	r.state.rejoined(rejoined)
	r.state.evaluated(improved, r.cfg.Patience, r.state.Step, r.cfg.MaxSteps, r.state.BestStep, "val_loss")
	return nil
}

// lower is better for a loss.
func lower(v, than float64) bool { return v < than }

// end checkpoints the run where the loop stopped and writes its summary:
// completed, unless it was interrupted; elapsed is its wall time.
func (r *run) end(elapsed float64) (*Summary, error) {
	if r.savedAt == r.state.Step+1 && r.state.EvalDue == nil {
		// Stopped right after its interval checkpoint, which holds the
		// state as it is (its wall time aside): not written again, which
		// would cost a stop signal's grace and replace checkpoint.prev.
		r.state.Elapsed = elapsed
	} else if err := r.save(elapsed); err != nil {
		return nil, err
	}
	r.progress.done()
	r.fillSummary("completed")
	if err := writeJSON(filepath.Join(r.opt.OutDir, summaryFile), r.sum); err != nil {
		return nil, err
	}
	return r.sum, nil
}

// endUntrained ends a run that a signal stopped before it trained a step:
// as it loaded its data (stopped), or before the first step of a run
// without a checkpoint. It writes the job config (which --resume reads)
// and the summary, interrupted, and no checkpoint: a step-0 one would hold
// nothing that --resume of a run without one does not make again from the
// job config (it starts from step 0, as after a kill before the first
// checkpoint).
func (r *run) endUntrained() (*Summary, error) {
	if r.stopped {
		if err := r.writeJob(); err != nil {
			return nil, err
		}
		if r.params != nil { // resumed: the checkpoint's model
			r.sum.Params = r.params.Count()
		}
	} else {
		r.progress.done()
	}
	fmt.Fprintf(r.opt.Log, "stopped before step %d (%s); --resume continues from %s\n", r.state.Step+1, r.sum.Interruption, r.resumePoint())
	r.fillSummary("interrupted")
	if err := writeJSON(filepath.Join(r.opt.OutDir, summaryFile), r.sum); err != nil {
		return nil, err
	}
	return r.sum, nil
}

// resumePoint is where --resume continues the run: its checkpoint, or step 0.
func (r *run) resumePoint() string {
	if r.sum.Checkpoint == "" {
		return "step 0"
	}
	return fmt.Sprintf("the checkpoint of step %d", r.state.Step)
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
