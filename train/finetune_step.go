package train

// A finetuning step: forward and backward over its micro-batches, their
// gradients averaged by their rows, clipped and applied by AdamW, on the
// CPU over the graph of each batch's length or on the GPU over the one of
// max_len.

import (
	"errors"
	"fmt"
	"math"
	"time"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// epochOrder is the order of the batches of the epoch the loop is in,
// drawn again when a step begins another epoch.
type epochOrder struct {
	epoch   int
	batches [][]int
}

// stepMetrics trains step (0-based) on its batches of the epoch's order and
// returns its metrics, and whether it was skipped (under on_nonfinite:
// skip, its weights as before it).
func (r *ftRun) stepMetrics(step int, o *epochOrder) (metrics, bool, error) {
	if e := step / r.perEpoch; e != o.epoch {
		o.epoch, o.batches = e, epochBatches(r.train, r.cfg.BatchSize, r.cfg.Seed, e)
	}
	lr := LR(step, r.warmup, r.total, r.cfg.LR, r.cfg.MinLR, r.cfg.LRDecay) * r.state.lrScale()
	t0 := time.Now()
	res, err := r.trainStep(r.stepBatches(o.batches, step), lr)
	var nf *NonFiniteError
	if errors.As(err, &nf) && r.cfg.OnNonFinite == "skip" { // the weights are as before it
		r.state.Elapsed = r.elapsed() // the summary's wall time counts skipped steps too
		m := metrics{"step": step + 1, "lr": lr, "skipped": true, "elapsed_s": r.state.Elapsed}
		if err := r.skip(step, err); err != nil { // exit status 3 even if the line cannot be written
			return nil, false, errors.Join(err, r.metrics.write(m))
		}
		return m, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("step %d: %w", step+1, err)
	}
	r.trainTime += time.Since(t0)
	r.pace.step(time.Since(t0))
	r.tokens += int64(res.tokens)
	r.state.Step++
	r.state.TokensSeen += int64(res.tokens)
	r.unlooked = append(r.unlooked, int64(res.tokens))
	if !r.winOnGPU { // the device has reported every step so far
		r.unlooked = r.unlooked[:0]
	}
	r.state.Window.add(res)
	r.state.Elapsed = r.elapsed()
	m := metrics{"step": r.state.Step, "epoch": float64(r.state.Step) / float64(r.perEpoch), "lr": lr,
		"grad_norm": res.gradNorm, "elapsed_s": r.state.Elapsed}
	r.sum.TokensPerS = float64(r.tokens) / r.trainTime.Seconds()
	return m, false, nil
}

// stepResult is what one training step reports.
type stepResult struct {
	loss, l2, l1, gradNorm float64
	tokens                 int
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
		if bad == nil {
			r.addMicro(&res, g, tr, l, n, k, weights[k])
		}
	}
	if bad != nil {
		return res, bad
	}
	var err error
	res.gradNorm, err = r.applyGrads(n, lr)
	return res, err
}

// addMicro adds micro-batch k's losses (l, and those tr holds of g),
// weighed by wk, to res, and its gradient to the step's: the step's own
// where it has one micro-batch (n), else weighed into the sum.
func (r *ftRun) addMicro(res *stepResult, g *taskGraph, tr *graph.Trainer, l float32, n, k int, wk float32) {
	w := float64(wk)
	res.loss += w * float64(l)
	res.l2 += w * float64(tr.Value(g.task.TaskLoss)[0])
	if g.task.LMLoss != nil {
		res.l1 += w * float64(tr.Value(g.task.LMLoss)[0])
	}
	if n == 1 {
		for i := range r.grads {
			r.grads[i] = tr.Grad(i)
		}
		return
	}
	graph.AccumulateGrads(r.accGrads, tr.Grad, k, wk)
}

// applyGrads takes the step's gradient (of n micro-batches), clips it and
// applies AdamW with lr. It returns the gradient's norm, and refuses a
// non-finite one (the weights then as before the step).
func (r *ftRun) applyGrads(n int, lr float64) (float64, error) {
	if n > 1 {
		copy(r.grads, r.accGrads)
	}
	norm := graph.ClipGrads(r.grads, r.cfg.GradClip)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, &NonFiniteError{fmt.Errorf("the gradient norm is %v (lower lr)", norm)}
	}
	r.optim.Update(r.model.params, r.grads, lr)
	return norm, nil
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
	look := r.gpuLooks()
	_, norm, err := gpu.step(fill, len(micro), weights, r.cfg.GradClip, lr, look)
	if err != nil {
		return res, r.refused(err)
	}
	sums, err := gpu.window(look, weights[len(micro)-1], outs...)
	r.winOnGPU = !look
	if err != nil || !look {
		res.gradNorm = math.NaN()
		return res, err
	}
	return lookedResult(res, sums, norm)
}

// gpuLooks reports whether the GPU step to come waits for the device. Only
// a step that logs or checkpoints does: the others leave their loss, L2
// and L1 in device sums (reported as 0 in their stepResult, so that the
// log window's totals come out right) and a non-finite step to the
// device's guard, which the next step that looks reports. A checkpoint
// step takes the sums, so that the saved window holds them. Under
// on_nonfinite: skip every step looks: each step's norm decides.
func (r *ftRun) gpuLooks() bool {
	return r.logsAt(r.state.Step+1) || r.savesAt(r.state.Step+1) || r.cfg.OnNonFinite == "skip"
}

// lookedResult is res completed by what a GPU step that looked took from
// the device: the sums of its losses (the loss, L2 and, with lambda > 0,
// L1) and its gradient norm; it refuses a non-finite norm or loss.
func lookedResult(res stepResult, sums []float64, norm float64) (stepResult, error) {
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
		err = fmt.Errorf("step %d: %w", r.state.Step, &NonFiniteError{late.at(r.state.Step)})
		r.uncount(late.back + 1)
	}
	return err
}

// refused is err, a GPU step's, as the run reports it: a *lateNonFinite
// (a step before this one the device refused) becomes a NonFiniteError
// naming it, and the refused steps leave the run's state.
func (r *ftRun) refused(err error) error {
	var late *lateNonFinite
	if !errors.As(err, &late) {
		return err
	}
	err = &NonFiniteError{late.at(r.state.Step + 1)}
	r.uncount(late.back) // the refused steps since, this one aside (not counted yet)
	return err
}

// uncount takes the last n counted steps out of the run's state, steps the
// device refused after a non-finite gradient norm, so that the summary of
// the stopped run names the last step whose update stands, as on the CPU.
func (r *ftRun) uncount(n int) {
	n = min(n, len(r.unlooked))
	for _, t := range r.unlooked[len(r.unlooked)-n:] {
		r.state.TokensSeen -= t
	}
	r.unlooked = r.unlooked[:len(r.unlooked)-n]
	r.state.Step -= n
}

func batchWidth(exs []taskExample, batch []int) int {
	w := 0
	for _, i := range batch {
		w = max(w, exs[i].width)
	}
	return w
}
