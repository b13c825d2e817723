package train

// Resuming a finetune: its checkpoint loaded and checked against the job
// config (a run keeps its task, model, validation set and the settings that
// order its batches), and its step against the run's steps.

import (
	"errors"
	"fmt"
	"slices"

	"gptctl/data"
	"gptctl/graph"
)

// load starts the run from its initial model, or from its checkpoint on
// --resume (one that finds none starts afresh where noCheckpoint allows
// it), and loads the task's examples.
func (r *ftRun) load() error {
	start := r.initModel
	if r.opt.Resume && !hasCheckpoint(r.opt.OutDir) {
		if err := noCheckpoint(r.opt); err != nil {
			return err
		}
		r.opt.Resume = false
		if err := r.bestAlone(); err != nil {
			return err
		}
	}
	if r.opt.Resume {
		start = r.resume
	}
	if err := start(); err != nil {
		return err
	}
	if err := r.loadData(); err != nil {
		return err
	}
	return r.sameData()
}

// resume restores the model, optimizer and state of the run's checkpoint.
func (r *ftRun) resume() error {
	ck, err := resumeFinetune(r.opt.OutDir, r.cfg)
	if err != nil {
		return err
	}
	m := ck.model
	if err := joinConfigErrors(keepsTask(r.cfg.Task, m.info, m.params.Config.NCtx), keepsFinetune(r.cfg, ck.job)); err != nil {
		return err
	}
	r.model, r.optim, r.state, r.ckJob = m, ck.optim, ck.state, &ck.job
	r.resumed = ck.dir + fallbackNote(ck.skipped)
	if err := r.rng.UnmarshalBinary(ck.state.ModelRNG); err != nil {
		return fmt.Errorf("resume: model rng: %w", err)
	}
	return nil
}

// keepsFinetune checks the job config of a resumed finetune, want,
// against the run's, have (its checkpoint's, or its saved job config): the
// validation set, the settings that order its batches, lambda and the
// model it began from stay the run's. Every change is told, each on its
// line.
func keepsFinetune(want, have FinetuneConfig) error {
	var errs []error
	refuse := func(format string, a ...any) { errs = append(errs, fmt.Errorf("--resume: "+format, a...)) }
	errs = append(errs, sameValidation(have.Task, want.Task))
	for _, f := range []struct {
		key        string
		want, have uint64
	}{{"batch_size", uint64(want.BatchSize), uint64(have.BatchSize)}, {"grad_accum", uint64(want.GradAccum), uint64(max(have.GradAccum, 1))},
		{"seed", want.Seed, have.Seed}} {
		if f.want != f.have {
			refuse("%s %d, but the run's is %d: each epoch's batches and steps follow from batch_size, grad_accum and seed, and a change within the run would train some rows twice and skip others (start a new run with --init DIR/checkpoint to change them)", f.key, f.want, f.have)
		}
	}
	if want.Lambda != have.Lambda {
		refuse("lambda %g, but the run's is %g: train_loss is L2 + lambda*L1, and the averages logged over the steps about the resume would mix the two (start a new run with --init DIR/checkpoint to change it)", want.Lambda, have.Lambda)
	}
	if !samePath(have.InitFrom, want.InitFrom) || have.RandomInit != want.RandomInit {
		refuse("init_from %q, random_init %v, but the run began from %q, random_init %v: a run keeps its model (start a new run to change it)",
			want.InitFrom, want.RandomInit, have.InitFrom, have.RandomInit)
	}
	return joinConfigErrors(errs...)
}

// joinConfigErrors is the problems of errs, config errors or plain ones
// (nil where a check found none), as one config error, each on its line;
// nil for none.
func joinConfigErrors(errs ...error) error {
	var all []error
	for _, err := range errs {
		if ce, ok := err.(*ConfigError); ok {
			err = ce.Err
		}
		if err != nil {
			all = append(all, err)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return &ConfigError{errors.Join(all...)}
}

// sameValidation refuses a resumed run another validation set: best/ would
// compare values over two sets, and rows split off for validation before
// would be trained on (or rows trained on scored). A val file may move (its
// path change); a split must keep its val_fraction and split_seed, and
// neither may become the other.
func sameValidation(was, now TaskConfig) error {
	const keep = "a run keeps its validation set (rows it trained on would be scored, and best/ compared across two sets)"
	switch {
	case (was.Val == "") != (now.Val == ""):
		from := func(t TaskConfig) string {
			if t.Val != "" {
				return "the file " + t.Val
			}
			return fmt.Sprintf("val_fraction %v of the training file", t.ValFraction)
		}
		return &ConfigError{fmt.Errorf("--resume: task.val gives %s, but the run validated on %s: %s", from(now), from(was), keep)}
	case was.Val == "" && (was.ValFraction != now.ValFraction || was.SplitSeed != now.SplitSeed):
		return &ConfigError{fmt.Errorf("--resume: task.val_fraction %v, split_seed %d, but the run split its validation rows with %v, %d: %s",
			now.ValFraction, now.SplitSeed, was.ValFraction, was.SplitSeed, keep)}
	}
	return nil
}

// resumeAt checks the step of a resumed run against its steps, counted
// once the data is read: below them the run goes on, at them it is
// finished, past them the config is refused.
func (r *ftRun) resumeAt() error {
	step, cfg := r.state.Step, r.cfg
	short := r.state.EvalDue == nil && r.ckJob != nil && stoppedShort(step, r.ckJob.steps(r.perEpoch), r.state.StoppedEarly, r.ckJob.evalsAt(step, r.perEpoch))
	switch {
	case step > r.total:
		return &ConfigError{fmt.Errorf("--resume: %s, but the run is at step %d: set max_steps to %d or more", r.stepsSetting(), step, leastSteps(step, short))}
	case step == r.total && short:
		return &ConfigError{fmt.Errorf("--resume: %s makes step %d, where the run stopped on its way to %d, its last, before the evaluation a run makes at its last step: set max_steps above %d", r.stepsSetting(), step, r.ckJob.steps(r.perEpoch), step)}
	case step == r.total && r.state.EvalDue == nil:
		r.finished = true
		fmt.Fprintf(r.opt.Log, "%s is complete at step %d (%d steps): nothing to do\n", r.opt.OutDir, step, r.total)
	case r.state.resumed(r.opt.Log, r.opt.OutDir, step, cfg.Patience): // stopped early, and stays so
		r.finished = true
	default:
		fmt.Fprintf(r.opt.Log, "resuming from %s at step %d\n", r.resumed, step)
	}
	return nil
}

// stepsSetting names the setting that fixes the run's steps, for a message.
func (r *ftRun) stepsSetting() string {
	if r.cfg.MaxSteps == 0 {
		return fmt.Sprintf("epochs %d (%d steps)", r.cfg.Epochs, r.total)
	}
	return fmt.Sprintf("max_steps %d", r.cfg.MaxSteps)
}

// keepsTask refuses a resumed run the task t where it differs from what the
// run's model, with n_ctx nCtx, was finetuned with (taskChanges): every
// change, each on its line.
func keepsTask(t TaskConfig, info *TaskInfo, nCtx int) error {
	var errs []error
	for _, ch := range taskChanges(t, info, nCtx) {
		errs = append(errs, fmt.Errorf("--resume: task.%s %v, but the run's model was finetuned with %v: a run keeps its task (start a new run to change it)", ch.key, ch.want, ch.have))
	}
	return joinConfigErrors(errs...)
}

// taskChanges returns the keys of the task config t that differ from what
// the finetuned model's task.json says (the head's meaning: type, labels
// and their order, label_base, the number of options, max_len, metric),
// with both values; none when they agree. Files and column names may
// change. Where the type differs, the checks that follow from it (options,
// label_base) are not made, nor the metric's where a score replaces a label
// or the reverse: they would compare two kinds of head.
func taskChanges(t TaskConfig, info *TaskInfo, nCtx int) []keyChange {
	maxLen := t.MaxLen
	if maxLen == 0 {
		maxLen = nCtx
	}
	var changes []keyChange
	change := func(key string, want, have any) { changes = append(changes, keyChange{key, want, have}) }
	sameType := t.Type == info.Type
	if !sameType {
		change("type", t.Type, info.Type)
	}
	if !slices.Equal(t.Labels, info.Labels) {
		change("labels", data.QuotedList(t.Labels), data.QuotedList(info.Labels))
	}
	if sameType && t.labelBaseCounts() && t.LabelBase != info.Format.LabelBase {
		change("label_base", t.LabelBase, info.Format.LabelBase)
	}
	sameTarget := t.regression() == (info.Objective == graph.Regress)
	switch {
	case sameType && t.Type == TaskMultipleChoice && t.numOptions() != info.NumOptions:
		change("columns", fmt.Sprintf("%d options", t.numOptions()), fmt.Sprintf("%d", info.NumOptions))
	case !sameTarget:
		change("columns", map[bool]string{true: "a score", false: "a label"}[t.regression()], info.Objective)
	}
	if maxLen != info.MaxLen {
		change("max_len", maxLen, info.MaxLen)
	}
	if sameTarget && t.metric() != info.Metric { // best/ was chosen by it (the metrics of a score are others)
		change("metric", t.metric(), info.Metric)
	}
	return changes
}
