package train

// The finetuning loop: one AdamW step per batch of examples, evaluation on
// the validation examples every eval_interval steps (or every epoch) and at
// the end, the best model kept in DIR/best, checkpoints as in pretraining
// (the step itself is in finetune_step.go).

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// logWindow sums the step results since the last metrics line, which
// averages them. It is part of the checkpoint state, so that the first line
// after a resume averages the same steps as in an uninterrupted run.
type logWindow struct {
	N    int     `json:"steps"`
	Loss float64 `json:"loss"`
	L2   float64 `json:"l2"`
	L1   float64 `json:"l1"`
}

func (w *logWindow) add(s stepResult) {
	w.N++
	w.Loss, w.L2, w.L1 = w.Loss+s.loss, w.L2+s.l2, w.L1+s.l1
}

func (r *ftRun) loop(ctx context.Context) (*FinetuneSummary, error) {
	start, elapsed0 := time.Now(), r.state.Elapsed
	r.elapsed = func() float64 { return elapsed0 + time.Since(start).Seconds() }
	clock := r.opt.clock(start) // max_time counts from the job's start
	order := epochOrder{epoch: -1}
	// What this job started from: progress is a step past it, or the
	// evaluation a signal left due.
	first, ranDue := r.state.Step, r.state.EvalDue != nil
	if due := r.state.EvalDue; due != nil { // a signal stopped it before the checkpoint
		// Cleared first: a checkpoint the step writes holds its line.
		r.state.EvalDue = nil
		due["step"] = r.state.Step // an int again after JSON
		if err := r.startGPU(); err != nil {
			return nil, err
		}
		if err := r.afterStep(ctx, due, true); err != nil {
			return r.evalFailed(ctx, due, err)
		}
	}
	for r.state.Step < r.total && !r.state.stopped(r.opt.Log, r.state.Step) {
		why, err := stopBefore(ctx, r.opt, r.cfg.MaxDuration(), clock, r.budget(r.state.Step+1), r.state.Step, r.state.Step > first || ranDue)
		if err != nil {
			return nil, err
		}
		if why != "" {
			r.sum.interrupt(why)
			break
		}
		m, skipped, err := r.stepMetrics(r.state.Step, &order)
		if err != nil {
			return nil, err
		}
		if !skipped && r.evalsAt(r.state.Step) && r.stopsBeforeEval(clock, m) {
			return r.finish()
		}
		if err := r.afterStep(ctx, m, false); err != nil {
			return r.evalFailed(ctx, m, err)
		}
	}
	return r.finish()
}

// stopsBeforeEval reports whether the run stops before the evaluation due
// after the step just trained, whose metrics are m, for a wall-time limit
// it would pass; the checkpoint then keeps the evaluation due.
func (r *ftRun) stopsBeforeEval(clock time.Time, m metrics) bool {
	why := r.pace.stopBeforeEval(r.opt, r.cfg.MaxDuration(), clock, r.evalBatches(), r.cfg.GradAccum, r.state.Step)
	if why == "" {
		return false
	}
	r.sum.interrupt(why)
	m["tokens_per_s"] = r.sum.TokensPerS
	r.state.EvalDue = m
	return true
}

// skip counts step as skipped under on_nonfinite: skip (err says why);
// see skipState.skip.
func (r *ftRun) skip(step int, err error) error {
	r.state.Step++
	return r.state.skip(r.opt.Log, step, err)
}

// evalFailed ends the run after the step whose metrics are m failed with
// err: a signal stopped its evaluation (the checkpoint keeps the evaluation
// due, and the run ends interrupted), or it failed.
func (r *ftRun) evalFailed(ctx context.Context, m metrics, err error) (*FinetuneSummary, error) {
	if !evalStopped(ctx, err, &r.sum.Outcome, r.opt.Log, r.state.Step) {
		return nil, err
	}
	if _, ok := m["tokens_per_s"]; !ok { // this process's, not the resumed one's (which trains nothing first)
		m["tokens_per_s"] = r.sum.TokensPerS
	}
	r.state.EvalDue = m
	return r.finish()
}

// budget is the time to leave before a wall-time limit when step (counted
// from 1) begins: pace.budget, with an evaluation's forward batches over
// the validation examples before the first evaluation was timed.
func (r *ftRun) budget(step int) time.Duration {
	return r.pace.budget(r.evalsAt(step), r.savesAt(step), r.evalBatches(), r.cfg.GradAccum) // a step is grad_accum batches
}

// evalBatches is the number of forward batches of an evaluation.
func (r *ftRun) evalBatches() int { return (len(r.val) + r.graphs.E - 1) / max(r.graphs.E, 1) }

// evalsAt reports whether the run evaluates after step (counted from 1),
// and logsAt whether it writes a metrics line then.
func (r *ftRun) evalsAt(step int) bool {
	return step == r.total || r.cfg.evalsAt(step, r.perEpoch)
}

func (r *ftRun) logsAt(step int) bool { return step%r.cfg.LogInterval == 0 || r.evalsAt(step) }

// savesAt reports whether the run checkpoints after step, before its end.
func (r *ftRun) savesAt(step int) bool {
	return r.cfg.CheckpointInterval > 0 && step%r.cfg.CheckpointInterval == 0 && step != r.total
}

// writeLine writes the metrics line m of the step just done: a skipped
// step's as it is (the log window waits for the next line), another's with
// the mean losses of the steps since the last line.
func (r *ftRun) writeLine(m metrics) error {
	if skipped, _ := m["skipped"].(bool); skipped {
		return r.metrics.write(m)
	}
	win := &r.state.Window
	n := float64(win.N)
	m["train_loss"], m["l2_loss"] = win.Loss/n, win.L2/n
	if r.cfg.Lambda > 0 {
		m["l1_loss"] = win.L1 / n
	}
	if _, ok := m["tokens_per_s"]; !ok {
		m["tokens_per_s"] = r.sum.TokensPerS
	}
	r.state.TrainLoss, r.state.HasTrainLoss = win.Loss/n, true
	if err := r.metrics.write(m); err != nil {
		return err
	}
	r.progress.log(m, r.total)
	*win = logWindow{}
	return nil
}

// afterStep evaluates, logs and checkpoints as the step calls for; due
// says that it evaluates and logs whatever the intervals say (the step's
// evaluation was due when a signal stopped it, before a resume that may
// have changed them).
func (r *ftRun) afterStep(ctx context.Context, m metrics, due bool) error {
	step := r.state.Step
	evalNow := due || r.evalsAt(step)
	var val map[string]float64
	if evalNow {
		var err error
		t := time.Now()
		if val, err = r.evaluate(ctx, m); err != nil {
			err = fmt.Errorf("evaluation at step %d: %w", step, err)
			var nf *NonFiniteError
			if errors.As(err, &nf) { // the step's line, without its metrics, before the run stops
				return errors.Join(err, r.writeLine(m))
			}
			return err
		}
		r.pace.evaluated(time.Since(t))
	}
	if skipped, _ := m["skipped"].(bool); skipped || due || r.logsAt(step) { // a skipped step whatever log_interval says
		if err := r.writeLine(m); err != nil {
			return err
		}
	}
	if val != nil {
		b := r.shownBest()
		fmt.Fprintf(r.opt.Log, "eval at step %d: %s (best %s %.4f at step %d)\n", step, metricsText(val),
			r.model.info.Metric, b.Value, b.Step)
	}
	if r.savesAt(step) && r.state.StoppedEarly == "" { // a run stopping early checkpoints as it ends
		t := time.Now()
		if err := r.save(); err != nil {
			return err
		}
		r.pace.save = max(r.pace.save, time.Since(t))
	}
	if r.opt.AfterStep != nil {
		r.opt.AfterStep(step)
	}
	return nil
}

// evaluate adds the validation metrics to m, keeps the best model and
// returns the metrics.
func (r *ftRun) evaluate(ctx context.Context, m metrics) (map[string]float64, error) {
	outs, err := r.graphs.predict(ctx, r.val)
	if err != nil {
		return nil, err
	}
	if err := finiteOutputs("the model", r.val, outs); err != nil {
		return nil, fmt.Errorf("validation at step %d: %w", r.state.Step, err)
	}
	val := taskMetrics(r.model.info, r.val, outs)
	for k, v := range val {
		m["val_"+k] = v
	}
	r.state.Val = val
	metric := r.model.info.Metric
	v := val[metric]
	// The state takes the evaluation once best/ holds what it says: a
	// write that fails leaves both as they were.
	b, kept, improved, rejoined, save := settleBest(r.state.Step, v, r.state.best(), r.kept, r.better)
	if save {
		if err := r.saveBest(v); err != nil {
			return nil, err
		}
	}
	r.kept, r.state.BestStep, r.state.BestMetric = kept, b.Step, b.Value
	r.state.rejoined(rejoined)
	r.state.evaluated(improved, r.cfg.Patience, r.state.Step, r.total, r.state.BestStep, "val "+metric)
	return val, nil
}

// better says whether v is a better value of the run's metric than than.
func (r *ftRun) better(v, than float64) bool { return isBetter(r.model.info.Metric, v, than) }

// shownBest is the best evaluation the run reports: its own, or what
// best/ holds beyond it (nil before any).
func (r *ftRun) shownBest() *bestEval { return shownBest(r.state.best(), r.kept, r.better) }

// finish writes the last checkpoint and the summary.
func (r *ftRun) finish() (*FinetuneSummary, error) {
	if r.savedAt == r.state.Step+1 && r.state.EvalDue == nil { // stopped right after its interval checkpoint: as run.end
		if r.elapsed != nil {
			r.state.Elapsed = r.elapsed()
		}
	} else if err := r.save(); err != nil {
		return nil, err
	}
	r.progress.done()
	r.fillSummary("completed")
	if err := writeJSON(filepath.Join(r.opt.OutDir, summaryFile), r.sum); err != nil {
		return nil, err
	}
	return r.sum, nil
}

// finishedSummary is the outcome of a resume at the last step, which trains
// and writes nothing: the run's summary.json, or, when a kill came between
// the last checkpoint and the summary, one written from the checkpoint.
func (r *ftRun) finishedSummary() (*FinetuneSummary, error) {
	var s FinetuneSummary
	if status, step := readSummary(r.opt.OutDir, &s); status == "completed" && step == r.state.Step {
		return &s, nil
	}
	r.fillSummary("completed")
	return r.sum, writeJSON(filepath.Join(r.opt.OutDir, summaryFile), r.sum)
}

// fillSummary copies the run's state into its summary; status is the
// outcome unless one was set (interrupted, failed).
func (r *ftRun) fillSummary(status string) {
	s, st := r.sum, r.state
	s.settle(status)
	s.StoppedEarly = st.StoppedEarly
	s.Step, s.Epoch = st.Step, float64(st.Step)/float64(r.perEpoch)
	s.TrainLoss, s.Val, s.WallSeconds = nil, st.Val, st.Elapsed
	if st.HasTrainLoss || st.TrainLoss != 0 {
		s.TrainLoss = new(st.TrainLoss)
	}
	s.BestValue, s.BestStep, s.Checkpoint, s.Best = nil, 0, "", ""
	if hasCheckpoint(r.opt.OutDir) {
		s.Checkpoint = filepath.Join(r.opt.OutDir, checkpointDir)
	}
	if b := r.shownBest(); b != nil && hasBest(r.opt.OutDir) { // not where writing it failed
		s.BestValue, s.BestStep = &b.Value, b.Step
		s.Best = filepath.Join(r.opt.OutDir, bestDir)
	}
}
