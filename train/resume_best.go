package train

// Resuming a run that has best/ but no checkpoint yet (killed after an
// evaluation and before its first checkpoint): it starts again from step
// 0, with best/ its best until an evaluation beats it, once the job config
// passes the checks a resume from a checkpoint makes, as far as best/ and
// the run's saved job config record them. A best/ that cannot be checked
// is not kept.

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gptctl/data"
)

// bestAlone checks a resumed pretrain that found no checkpoint against its
// best/, if any: the job config keeps the model, tokenizer and validation
// set of the run's train.yaml (keepsModel) and max_steps reaches best/'s
// step, or the resume is refused; best/ is then kept where it holds the
// job's model, evaluated on the job's validation data (checked by path
// here, by content once the data is read: keepAloneBest), else it is
// dropped (dropBest).
func (r *run) bestAlone() error {
	dir := r.opt.OutDir
	if !hasBest(dir) {
		return nil
	}
	saved, err := Load(filepath.Join(dir, jobFile), nil)
	if err != nil {
		r.dropBest = dropBest(r.opt.Log, dir, fmt.Sprintf("the run's %s, to check it against, cannot be read (%v)", jobFile, err))
		return nil
	}
	if err := keepsModel(r.cfg, saved); err != nil {
		return err
	}
	rec, err := readBest(dir)
	if err != nil || rec == nil { // damaged (reconcileBest says so), or of a build before best.json: not kept
		r.reconcileBest()
		return nil
	}
	if r.cfg.MaxSteps < rec.Step {
		return bestPastEnd(fmt.Sprintf("max_steps %d", r.cfg.MaxSteps), rec.Step)
	}
	bc, err := ReadHFConfig(filepath.Join(dir, bestDir, "config.json"))
	why := ""
	if err != nil {
		why = fmt.Sprintf("its config.json cannot be read (%v)", err)
	} else if ch := modelChanges(r.cfg.Config, bc); len(ch) > 0 {
		var diffs []string
		for _, c := range ch {
			diffs = append(diffs, fmt.Sprintf("%s %v, the run's %v", c.key, c.have, c.want))
		}
		why = "its model has " + strings.Join(diffs, ", ")
	} else if saved.ValData == "" && !samePath(r.cfg.Data, saved.Data) {
		why = fmt.Sprintf("it was evaluated on the validation split of data %s, and this job's data is %s", saved.Data, r.cfg.Data)
	}
	if why != "" {
		r.dropBest = dropBest(r.opt.Log, dir, why)
		return nil
	}
	r.aloneBest = rec
	return nil
}

// keepAloneBest keeps the best/ that bestAlone checked as the run's best
// (reconcileBest) where it was evaluated on the validation tokens the run
// has read, else drops it. A session stopped as it loaded its data keeps
// it on bestAlone's check: the session that reads the data checks it.
func (r *run) keepAloneBest() {
	if r.aloneBest == nil {
		return
	}
	if !r.stopped {
		as := "" // the format of the sum best.json holds, an earlier build's maybe
		if r.aloneBest.Val != nil {
			as = r.aloneBest.Val.Sum
		}
		if why := valChange(r.aloneBest, r.val.contentSum(as), "tokens"); why != "" {
			r.dropBest = dropBest(r.opt.Log, r.opt.OutDir, why)
			return
		}
	}
	r.reconcileBest()
}

// bestAlone checks a resumed finetune that found no checkpoint against its
// best/, if any, as bestAlone does a pretrain's: the task is the one best/
// was finetuned with (keepsTask) and the job config keeps the run's
// finetune.yaml (keepsFinetune), or the resume is refused; best/ is
// dropped where it cannot be checked, or was evaluated on other
// validation rows: of another file here, of other content once they are
// read (keepBest), where its step is checked against the run's steps.
func (r *ftRun) bestAlone() error {
	dir := r.opt.OutDir
	if !hasBest(dir) {
		return nil
	}
	saved, err := LoadFinetune(filepath.Join(dir, finetuneJobFile), nil)
	if err != nil {
		r.dropBest = dropBest(r.opt.Log, dir, fmt.Sprintf("the run's %s, to check it against, cannot be read (%v)", finetuneJobFile, err))
		return nil
	}
	best := filepath.Join(dir, bestDir)
	var taskErr error
	info, err := readTaskInfo(filepath.Join(best, taskFile))
	if err == nil {
		bc, cerr := ReadHFConfig(filepath.Join(best, "config.json"))
		if err = cerr; err == nil {
			taskErr = keepsTask(r.cfg.Task, info, bc.NCtx)
		}
	}
	if err := joinConfigErrors(taskErr, keepsFinetune(r.cfg, saved)); err != nil {
		return err
	}
	now, was := r.cfg.Task, saved.Task
	switch {
	case err != nil:
		r.dropBest = dropBest(r.opt.Log, dir, fmt.Sprintf("its task cannot be read to check it against (%v)", err))
	case !samePath(now.Val, was.Val) || was.Val == "" && !samePath(now.Train, was.Train):
		from := func(t TaskConfig) string { return cmp.Or(t.Val, t.Train) }
		r.dropBest = dropBest(r.opt.Log, dir, fmt.Sprintf("it was evaluated on rows of %s, and this job validates on rows of %s", from(was), from(now)))
	}
	return nil
}

// keepBest takes what best/ holds beyond the checkpoint of a resumed
// finetune (reconcileBest), or, for one without a checkpoint (bestAlone),
// best/ where it was evaluated on the run's validation examples (else it
// is dropped) and the run's steps reach its step (else the resume is
// refused).
func (r *ftRun) keepBest() error {
	if r.dropBest {
		return nil
	}
	if !r.opt.Resume { // it found no checkpoint
		if err := r.checkAloneBest(); err != nil || r.dropBest {
			return err
		}
	}
	var note string
	r.kept, note = reconcileBest(r.opt.OutDir, r.model.info.Metric, &r.state.BestStep, &r.state.BestMetric)
	if note != "" {
		fmt.Fprintln(r.opt.Log, note)
	}
	return nil
}

// checkAloneBest drops the best/ of a finetune resumed without a
// checkpoint where it was evaluated on other validation examples, and
// refuses the resume where the run's steps end before best/'s step.
func (r *ftRun) checkAloneBest() error {
	rec, err := readBest(r.opt.OutDir)
	if err != nil || rec == nil { // reconcileBest says why a damaged one is not kept
		return nil
	}
	if why := valChange(rec, r.valSum, "examples"); why != "" {
		r.dropBest = dropBest(r.opt.Log, r.opt.OutDir, why)
		return nil
	}
	if rec.Step > r.total {
		return bestPastEnd(r.stepsSetting(), rec.Step)
	}
	return nil
}

// bestPastEnd refuses the steps of a resume, named by setting, that end
// before the step of the model in best/ of a run without a checkpoint.
func bestPastEnd(setting string, step int) error {
	return &ConfigError{fmt.Errorf("--resume: %s, but the run's best/ holds the model of step %d (the run has no checkpoint yet, and starts again from step 0): set max_steps to %d or more", setting, step, step)}
}

// dropBest tells log why the best/ of runDir, a run resumed without a
// checkpoint, is not kept as its best, and returns true: removeBest removes
// it as the run starts.
func dropBest(log io.Writer, runDir, why string) bool {
	fmt.Fprintf(log, "%s holds a model evaluated before the run was stopped, but %s: it is not kept as this run's best, and is removed as the run starts (its first evaluation writes best/ again)\n",
		filepath.Join(runDir, bestDir), why)
	return true
}

// removeBest removes the best/ of runDir that a resume did not keep
// (dropBest), before the job config that no longer describes it is
// written over the run's: a later resume would take it for the run's.
func removeBest(runDir string) error {
	if err := os.RemoveAll(filepath.Join(runDir, bestDir)); err != nil {
		return err
	}
	return data.SyncDir(runDir)
}
