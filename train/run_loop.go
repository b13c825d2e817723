package train

// The pretraining loop: each step at its scheduled learning rate, an
// evaluation (and DIR/best when it is the best so far) every eval_interval
// steps, a checkpoint every checkpoint_interval, and the end of the run. The
// step itself and the handling of one whose loss or gradients are not
// finite (on_nonfinite) are in run_step.go, the time limit in run_pace.go.

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
	start := time.Now()
	l := &runLoop{start: start, base: r.state.Elapsed, clock: r.opt.clock(start), first: r.state.Step}
	if due := r.state.EvalDue; due != nil { // a signal stopped it before the checkpoint
		due["step"] = r.state.Step // an int again after JSON
		if err := r.evalAndLog(ctx, due, true, true); err != nil {
			return r.evalFailed(ctx, due, err, l.elapsed())
		}
		r.state.EvalDue, l.ranDue = nil, true
	}
	for r.state.Step < r.cfg.MaxSteps && !r.state.stopped(r.opt.Log, r.state.Step) {
		step := r.state.Step
		evaluated := r.cfg.evalsAt(step + 1)
		why, err := r.stopBeforeStep(ctx, l, evaluated)
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
		m, logged, err := r.stepMetrics(l, step, evaluated)
		if err != nil {
			return nil, err
		}
		if s, err := r.afterStep(ctx, l, m, evaluated, logged); s != nil || err != nil {
			return s, err
		}
	}
	return r.end(l.elapsed())
}

// afterStep evaluates, logs and checkpoints the step just trained, whose
// metrics are m. It returns the run's end when the run stops here (a
// wall-time limit before the evaluation, a failed one, a stop the state
// asks for), and nil and nil when it goes on.
func (r *run) afterStep(ctx context.Context, l *runLoop, m metrics, evaluated, logged bool) (*Summary, error) {
	cfg := r.cfg
	if evaluated {
		if why := l.p.stopBeforeEval(r.opt, cfg.MaxDuration(), l.clock, cfg.EvalBatches, cfg.GradAccum, r.state.Step); why != "" {
			r.sum.interrupt(why)
			r.state.EvalDue = m
			return r.end(l.elapsed())
		}
	}
	last := r.state.Step == cfg.MaxSteps
	t1 := time.Now()
	if err := r.evalAndLog(ctx, m, evaluated, logged); err != nil {
		return r.evalFailed(ctx, m, err, l.elapsed())
	}
	if evaluated {
		l.p.evaluated(time.Since(t1))
	}
	if r.state.stopped(r.opt.Log, r.state.Step) { // its checkpoint is the last
		return r.end(l.elapsed())
	}
	if cfg.CheckpointInterval > 0 && r.state.Step%cfg.CheckpointInterval == 0 && !last {
		t2 := time.Now()
		if err := r.save(l.elapsed()); err != nil {
			return nil, err
		}
		l.p.save = max(l.p.save, time.Since(t2))
	}
	if r.opt.AfterStep != nil {
		r.opt.AfterStep(r.state.Step)
	}
	return nil, nil
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
			return sealBest(tmp, r.state.Step, "val_loss", v, r.val.contentSum(""))
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
// without a checkpoint. Its setup wrote the job config (which --resume
// reads) and cut metrics.jsonl back to where --resume goes on
// (openOutputs); it writes the summary, interrupted, and no checkpoint: a
// step-0 one would hold nothing that --resume of a run without one does
// not make again from the job config (it starts from step 0, as after a
// kill before the first checkpoint).
func (r *run) endUntrained() (*Summary, error) {
	if !r.stopped { // one stopped as it loaded its data drew no progress
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
