package train

// The finetuning loop: one AdamW step per batch of examples, evaluation on
// the validation examples every eval_interval steps (or every epoch) and at
// the end, the best model kept in DIR/best, checkpoints as in pretraining.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// stepResult is what one training step reports.
type stepResult struct {
	loss, l2, l1, gradNorm float64
	tokens                 int
}

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
	var batches [][]int
	epoch := -1
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
		step := r.state.Step
		if e := step / r.perEpoch; e != epoch {
			epoch, batches = e, epochBatches(r.train, r.cfg.BatchSize, r.cfg.Seed, e)
		}
		lr := LR(step, r.warmup, r.total, r.cfg.LR, r.cfg.MinLR, r.cfg.LRDecay) * r.state.lrScale()
		t0 := time.Now()
		res, err := r.trainStep(r.stepBatches(batches, step), lr)
		var nf *NonFiniteError
		if errors.As(err, &nf) && r.cfg.OnNonFinite == "skip" { // the weights are as before it
			r.state.Elapsed = r.elapsed() // the summary's wall time counts skipped steps too
			m := metrics{"step": step + 1, "lr": lr, "skipped": true, "elapsed_s": r.state.Elapsed}
			if err := r.skip(step, err); err != nil { // exit status 3 even if the line cannot be written
				return nil, errors.Join(err, r.metrics.write(m))
			}
			if err := r.afterStep(ctx, m, false); err != nil {
				return r.evalFailed(ctx, m, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		}
		r.trainTime += time.Since(t0)
		r.pace.step(time.Since(t0))
		r.tokens += int64(res.tokens)
		r.state.Step++
		r.state.TokensSeen += int64(res.tokens)
		r.state.Window.add(res)
		r.state.Elapsed = r.elapsed()
		m := metrics{"step": r.state.Step, "epoch": float64(r.state.Step) / float64(r.perEpoch), "lr": lr,
			"grad_norm": res.gradNorm, "elapsed_s": r.state.Elapsed}
		r.sum.TokensPerS = float64(r.tokens) / r.trainTime.Seconds()
		if r.evalsAt(r.state.Step) {
			if why := r.pace.stopBeforeEval(r.opt, r.cfg.MaxDuration(), clock, r.evalBatches(), r.cfg.GradAccum, r.state.Step); why != "" {
				r.sum.interrupt(why)
				m["tokens_per_s"] = r.sum.TokensPerS
				r.state.EvalDue = m
				return r.finish()
			}
		}
		if err := r.afterStep(ctx, m, false); err != nil {
			return r.evalFailed(ctx, m, err)
		}
	}
	return r.finish()
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

// rowWeights is each micro-batch's share of the step's rows: its weight in
// the step's mean gradient and losses, so that a short batch (an epoch's
// last) counts for its rows, not as much as a full one.
func rowWeights(micro [][]int) []float32 {
	rows := 0
	for _, b := range micro {
		rows += len(b)
	}
	w := make([]float32, len(micro))
	for k, b := range micro {
		w[k] = float32(len(b)) / float32(rows)
	}
	return w
}

// stepBatches returns the micro-batches of step (0-based) among its
// epoch's batches: grad_accum of them, fewer at the end of an epoch.
func (r *ftRun) stepBatches(batches [][]int, step int) [][]int {
	lo := step % r.perEpoch * r.cfg.GradAccum
	return batches[lo:min(lo+r.cfg.GradAccum, len(batches))]
}

// trainStep runs forward and backward on each micro-batch, averages their
// gradients, each weighing by its rows (rowWeights), clips them and
// applies AdamW. The step's losses are the micro-batches' means, weighed
// alike: the task loss of the step's rows, as one batch of them has it.
func (r *ftRun) trainStep(micro [][]int, lr float64) (stepResult, error) {
	if r.device == "cuda" {
		return r.trainStepGPU(micro, lr)
	}
	var res stepResult
	var bad error
	n, weights := len(micro), rowWeights(micro)
	for k, batch := range micro {
		g, err := r.graphs.get(batchWidth(r.train, batch))
		if err != nil {
			return res, err
		}
		tr, err := g.trainer()
		if err != nil {
			return res, err
		}
		res.tokens += g.fill(r.train, batch)
		l, err := tr.Step()
		if err != nil {
			return res, err
		}
		// A non-finite step still runs its other micro-batches, as the GPU
		// trainer does, so that it draws as much dropout randomness.
		if bad == nil && (math.IsNaN(float64(l)) || math.IsInf(float64(l), 0)) {
			bad = &NonFiniteError{fmt.Errorf("the training loss is %v (lower lr, or check the data)", l)}
		}
		if bad != nil {
			continue
		}
		w := float64(weights[k])
		res.loss += w * float64(l)
		res.l2 += w * float64(tr.Value(g.task.TaskLoss)[0])
		if g.task.LMLoss != nil {
			res.l1 += w * float64(tr.Value(g.task.LMLoss)[0])
		}
		if n == 1 {
			for i := range r.grads {
				r.grads[i] = tr.Grad(i)
			}
			continue
		}
		graph.AccumulateGrads(r.accGrads, tr.Grad, k, weights[k])
	}
	if bad != nil {
		return res, bad
	}
	if n > 1 {
		copy(r.grads, r.accGrads)
	}
	res.gradNorm = graph.ClipGrads(r.grads, r.cfg.GradClip)
	if math.IsNaN(res.gradNorm) || math.IsInf(res.gradNorm, 0) {
		return res, &NonFiniteError{fmt.Errorf("the gradient norm is %v (lower lr)", res.gradNorm)}
	}
	r.optim.Update(r.model.params, r.grads, lr)
	return res, nil
}

// startGPU builds the GPU trainer of a run on the GPU, once, over the
// max_len graph every batch is padded to and the host weights and moments:
// the first step does, or a resume whose first act is the evaluation a
// signal stopped, which runs on it.
func (r *ftRun) startGPU() error {
	if r.device != "cuda" || r.graphs.gpu != nil {
		return nil
	}
	g, err := r.graphs.get(r.graphs.fixedT)
	if err != nil {
		return err
	}
	mc := g.task.Model.Params.Config
	r.cfg.GPUMath.flashNotice(r.opt.Log, mc.NEmbd/mc.NHead)
	gt, err := newGPUTrainer(g.task.Model, g.task.Loss, r.optim, r.cfg.GPUMath, g.extra...)
	if err != nil {
		return err
	}
	r.graphs.gpu = gt
	return nil
}

// trainStepGPU is trainStep on the GPU, where every batch is padded to
// the one graph's length.
func (r *ftRun) trainStepGPU(micro [][]int, lr float64) (stepResult, error) {
	var res stepResult
	if err := r.startGPU(); err != nil {
		return res, err
	}
	g, err := r.graphs.get(r.graphs.fixedT)
	if err != nil {
		return res, err
	}
	gpu := r.graphs.gpu
	outs := append([]*G.Node{g.task.Loss}, g.extra...) // the loss, L2 and (with lambda > 0) L1
	weights := rowWeights(micro)
	k := 0
	fill := func() error {
		if k > 0 { // the last micro-batch's losses into the log window, before this one's replace them
			if _, err := gpu.window(false, weights[k-1], outs...); err != nil {
				return err
			}
		}
		res.tokens += g.fill(r.train, micro[k])
		k++
		return nil
	}
	// Only a step that logs or checkpoints waits for the device: the others
	// leave their loss, L2 and L1 in device sums (reported as 0 here, so
	// that the log window's totals come out right) and a non-finite step to
	// the device's guard, which the next step that looks reports. A
	// checkpoint step takes the sums, so that the saved window holds them.
	look := r.logsAt(r.state.Step+1) || r.savesAt(r.state.Step+1) || r.cfg.OnNonFinite == "skip" // skip: each step's norm decides
	_, norm, err := gpu.step(fill, len(micro), weights, r.cfg.GradClip, lr, look)
	var late *lateNonFinite
	if errors.As(err, &late) {
		return res, &NonFiniteError{late.at(r.state.Step + 1)}
	}
	if err != nil {
		return res, err
	}
	sums, err := gpu.window(look, weights[len(micro)-1], outs...)
	r.winOnGPU = !look
	if err != nil || !look {
		res.gradNorm = math.NaN()
		return res, err
	}
	res.loss, res.l2, res.gradNorm = sums[0], sums[1], norm
	if len(sums) > 2 {
		res.l1 = sums[2]
	}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return res, &NonFiniteError{fmt.Errorf("the gradient norm is %v (lower lr)", norm)}
	}
	if math.IsNaN(res.loss) || math.IsInf(res.loss, 0) {
		return res, &NonFiniteError{fmt.Errorf("the training loss is %v (lower lr, or check the data)", res.loss)}
	}
	return res, nil
}

// syncGPU brings the GPU's weights and moments back to the host, before a
// checkpoint or the best model is written.
func (r *ftRun) syncGPU() error {
	if r.graphs.gpu == nil {
		return nil
	}
	err := r.graphs.gpu.sync(r.optim)
	var late *lateNonFinite
	if errors.As(err, &late) {
		return fmt.Errorf("step %d: %w", r.state.Step, &NonFiniteError{late.at(r.state.Step)})
	}
	return err
}

// graphLens is the lengths of the graphs a graphSet builds on the CPU for
// the examples of sets (paddedLen of their widths, at most maxLen), in
// increasing order: an upper bound, since a batch takes its longest row's.
func graphLens(maxLen int, sets ...[]taskExample) []int {
	seen := map[int]bool{}
	for _, exs := range sets {
		for _, e := range exs {
			seen[paddedLen(e.width, maxLen)] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func batchWidth(exs []taskExample, batch []int) int {
	w := 0
	for _, i := range batch {
		w = max(w, exs[i].width)
	}
	return w
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
	r.sum.Params, r.sum.MaxSteps = r.model.params.Count(), r.total
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
