package train

// A job's wall-time limit (max_time, --max-time): pace, the time its steps,
// evaluations and checkpoints take, and the stop before a step that would
// pass the limit; a pretrain's and a finetune's.

import (
	"context"
	"fmt"
	"time"
)

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

// runLoop is what the pretraining loop keeps from step to step: when this
// job started and the run's wall time before it, max_time's clock, the
// pace of its steps, and what it started from (progress is a step past
// it, or the evaluation a signal left due).
type runLoop struct {
	start  time.Time
	base   float64
	clock  time.Time // max_time counts from the job's start
	p      pace
	first  int
	ranDue bool
}

// elapsed is the run's wall time: this job's and the jobs' before it.
func (l *runLoop) elapsed() float64 { return l.base + time.Since(l.start).Seconds() }

// stopBeforeStep says why the run stops before the step that the state is at
// (evaluated when it makes an evaluation), if it does: a signal, or a
// wall-time limit the step and what follows it would pass.
func (r *run) stopBeforeStep(ctx context.Context, l *runLoop, evaluated bool) (string, error) {
	cfg, step := r.cfg, r.state.Step
	done := step + 1 // the step count after this step
	saves := cfg.CheckpointInterval > 0 && done%cfg.CheckpointInterval == 0 && done < cfg.MaxSteps
	budget := l.p.budget(evaluated, saves, cfg.EvalBatches, cfg.GradAccum)
	return stopBefore(ctx, r.opt, cfg.MaxDuration(), l.clock, budget, step, step > l.first || l.ranDue)
}
