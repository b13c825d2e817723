package train

// Resuming a run: its checkpoint loaded and checked against the job config
// (a run keeps its model, data and validation set), and the errors that
// tell what changed.

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"gptctl/graph"
)

// restore sets the model's and the training sampler's random states to a
// resumed run's checkpoint ck.
func (r *run) restore(ck *checkpoint) error {
	if err := r.rng.UnmarshalBinary(ck.State.ModelRNG); err != nil {
		return fmt.Errorf("resume: model rng: %w", err)
	}
	if err := r.train.Restore(ck.State.SamplerRNG); err != nil {
		return dataChange(r.cfg, ck.Config, err)
	}
	if len(ck.State.ValSampler) > 0 { // not in checkpoints of older builds
		if err := r.val.Restore(ck.State.ValSampler); err != nil && !r.heldOutValSplit(ck.State.ValSampler) {
			val := r.cfg.ValData
			if val == "" {
				val = r.cfg.Data + "'s validation split"
			}
			return inputErrorf("--resume: the validation data (%s) changed since the checkpoint: %v (put back the data the run was evaluated on, or start a new run, with --init DIR/checkpoint to keep its weights)", val, err)
		}
	}
	return nil
}

// heldOutValSplit takes the val split alone of a val_data shard directory
// as a run's validation data when the run began so (builds before
// 2026-12-02 held out only that split of a directory with one) and its
// checkpoint's validation state, saved, restores on it.
func (r *run) heldOutValSplit(saved []byte) bool {
	if r.cfg.ValData == "" || !isDir(r.cfg.ValData) || len(heldOutPrefixes(r.cfg)) == 1 || onlyTrainShards(r.cfg.ValData) {
		return false
	}
	var s split
	if s.openShards("val_data", r.cfg.ValData, []string{"val"}, r.tok) != nil {
		return false
	}
	src, err := s.sampler(r.cfg.T(), r.cfg.Seed+3)
	if err != nil || src.Restore(saved) != nil {
		s.sh.Close()
		return false
	}
	r.corpus.val.sh.Close()
	r.corpus.val, r.val = s, src
	fmt.Fprintf(r.opt.Log, "val_data %s: validating on its val split alone, as the run began (a new run holds out all of its shards)\n", r.cfg.ValData)
	return true
}

// resume loads the latest usable checkpoint of the run into r. The job
// config keeps the run's model (keepsModel).
func (r *run) resume() (*checkpoint, error) {
	ck, dir, err := loadCheckpoint(r.opt.OutDir)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if err := keepsModel(r.cfg, ck.Config); err != nil {
		return nil, err
	}
	step := ck.State.Step
	short := ck.State.EvalDue == nil && stoppedShort(step, ck.Config.MaxSteps, ck.State.StoppedEarly, ck.Config.evalsAt(step))
	switch {
	case r.cfg.MaxSteps < step:
		return nil, &ConfigError{fmt.Errorf("--resume: max_steps %d, but the run is at step %d: set max_steps to %d or more", r.cfg.MaxSteps, step, leastSteps(step, short))}
	case r.cfg.MaxSteps == step && short:
		return nil, &ConfigError{fmt.Errorf("--resume: max_steps %d is the step the run stopped at, on its way to %d, before the evaluation a run makes at its last step: set max_steps above %d", step, ck.Config.MaxSteps, step)}
	case r.cfg.MaxSteps == step && ck.State.EvalDue == nil:
		r.finished = true
		fmt.Fprintf(r.opt.Log, "%s is complete at step %d (max_steps %d): nothing to do\n", r.opt.OutDir, step, r.cfg.MaxSteps)
	case ck.State.resumed(r.opt.Log, r.opt.OutDir, step, r.cfg.Patience): // stopped early, and stays so
		r.finished = true
	default:
		fmt.Fprintf(r.opt.Log, "resuming from %s at step %d%s\n", dir, step, fallbackNote(ck.skipped))
	}
	if r.finished && !samePath(r.cfg.Data, ck.Config.Data) { // a finished run reads no data, to compare
		fmt.Fprintf(r.opt.Log, "note: data %s is not the run's, %s: a finished run trains no further (to train its model on it, start a new run with --init %s)\n",
			r.cfg.Data, ck.Config.Data, filepath.Join(r.opt.OutDir, checkpointDir))
	}
	r.sum.Checkpoint = dir
	dropout := r.cfg.Dropout // a training setting, which a resume may change
	r.cfg.Config, r.tok, r.params, r.optim, r.state = ck.Params.Config, ck.Tokenizer, ck.Params, ck.Optim, ck.State
	r.cfg.Dropout, r.params.Config.Dropout = dropout, dropout
	if !r.finished {
		r.reconcileBest()
	}
	return ck, nil
}

// reconcileBest takes what best/ holds beyond the run's checkpoint (see
// reconcileBest), saying so in the log.
func (r *run) reconcileBest() {
	var note string
	r.kept, note = reconcileBest(r.opt.OutDir, "val_loss", &r.state.BestStep, &r.state.BestVal)
	if note != "" {
		fmt.Fprintln(r.opt.Log, note)
	}
}

// stoppedShort reports whether a checkpoint at step, of a run that was to
// train total steps (as its last session said), is one a run stopped at
// before its end, without the evaluation it makes at its last step: not
// stopped early by patience, and not a step it evaluated at anyway. A
// resume that makes it the last step would end the run unevaluated.
func stoppedShort(step, total int, stoppedEarly string, evaluated bool) bool {
	return step < total && stoppedEarly == "" && !evaluated
}

// leastSteps is the fewest steps a resume of a run at step takes: one more
// where it stopped short (stoppedShort).
func leastSteps(step int, short bool) int {
	if short {
		return step + 1
	}
	return step
}

// dataChange explains err, a saved data position that the samplers of a
// resumed run cannot take: a changed data is a config error naming the
// run's value; token shards changed on disk are bad input. (A changed
// seq_len is keepsModel's.)
func dataChange(want, have Config, err error) error {
	const fix = "its data position cannot be restored"
	if want.Data != have.Data {
		return &ConfigError{fmt.Errorf("--resume: data %s, but the run trains on %s: %s (resume with --set data=%s, or start a new run, with --init DIR/checkpoint to keep its weights)", want.Data, have.Data, fix, have.Data)}
	}
	return inputErrorf("--resume: the data in %s changed since the checkpoint, and %s: %v (put back the data the run was trained on, or start a new run, with --init DIR/checkpoint to keep its weights)", want.Data, fix, err)
}

// noCheckpoint checks a resume of a run directory without a checkpoint,
// which then starts from step 0: fine for a job killed before its first
// checkpoint, not for a completed run whose checkpoints were removed
// (starting again would write over its best/ and metrics), nor for one
// whose session after it was killed (endedStatus).
func noCheckpoint(opt Options) error {
	if endedStatus(opt.OutDir) == "completed" {
		return inputErrorf("--resume: %s holds a completed run (summary.json) but no checkpoint: there is nothing to continue from (start a new run in another --out)", opt.OutDir)
	}
	fmt.Fprintf(opt.Log, "%s has no checkpoint yet: starting from step 0\n", opt.OutDir)
	return nil
}

// keepsModel checks the job config of a resumed run, want, against the
// config of its checkpoint, have: the architecture keys (modelChanges), the
// tokenizer and init_from stay the run's, or the run would go on silently
// with its own model while train.yaml said otherwise; so do the settings
// that draw its data and validation batches (seq_len, seed, batch_size,
// eval_batches, the validation set), also for a finished run. Every change
// is told, each on its line.
func keepsModel(want, have Config) error {
	var errs []error
	refuse := func(format string, a ...any) { errs = append(errs, fmt.Errorf("--resume: "+format, a...)) }
	for _, ch := range modelChanges(want.Config, have.Config) {
		refuse("%s %v, but the run's model has %v: a run keeps its model (start a new run to change it)", ch.key, ch.want, ch.have)
	}
	for _, f := range []struct{ key, want, have string }{
		{"tokenizer", want.Tokenizer, have.Tokenizer}, {"init_from", want.InitFrom, have.InitFrom},
	} {
		if !samePath(f.want, f.have) {
			refuse("%s %q, but the run's is %q: a run keeps its model and tokenizer (start a new run to change it)", f.key, f.want, f.have)
		}
	}
	// The validation set: best/ compares values over it, and a split of
	// another share would score text already trained on. Its batches are
	// drawn from the seed, batch_size windows at a time, eval_batches of
	// them.
	for _, f := range []struct {
		key        string
		want, have uint64
	}{{"seed", want.Seed, have.Seed}, {"batch_size", uint64(want.BatchSize), uint64(have.BatchSize)}, {"eval_batches", uint64(want.EvalBatches), uint64(have.EvalBatches)}} {
		if f.want != f.have {
			refuse("%s %d, but the run's is %d: a run keeps its seed, batch_size and eval_batches, which draw the validation batches best/ compares over (start a new run with --init DIR/checkpoint to change them)", f.key, f.want, f.have)
		}
	}
	if want.T() != have.T() { // checked here, not with the data: a finished run reads none
		refuse("seq_len %d, but the run trains on sequences of %d: a run keeps its seq_len, which its data position and validation batches are drawn in (resume with --set seq_len=%d, or start a new run)", want.T(), have.T(), have.T())
	}
	switch {
	case !samePath(want.ValData, have.ValData):
		refuse("val_data %q, but the run's is %q: a run keeps its validation set (start a new run to change it)", want.ValData, have.ValData)
	case want.ValData == "" && want.ValFraction != have.ValFraction:
		refuse("val_fraction %v, but the run's is %v: a run keeps its validation set (text it trained on would be scored; start a new run to change it)", want.ValFraction, have.ValFraction)
	}
	return joinConfigErrors(errs...)
}

// samePath reports whether two paths (or names such as char) name the same
// file: equal once made absolute and cleaned.
func samePath(a, b string) bool {
	if a == b {
		return true
	}
	x, errA := filepath.Abs(a)
	y, errB := filepath.Abs(b)
	return errA == nil && errB == nil && x == y
}

// keyChange is a config key whose value in a resumed run's job config,
// want, differs from the run's, have.
type keyChange struct {
	key        string
	want, have any
}

// modelChanges returns the architecture keys whose values in want (the job
// config with its overrides) differ from the run's model, have, with both
// values, in the order of the config; none when they agree. vocab_size 0
// means the tokenizer's.
func modelChanges(want, have graph.Config) []keyChange {
	gelu := func(g string) string { return cmp.Or(g, "tanh") }
	var changes []keyChange
	for _, f := range []keyChange{
		{"arch", want.Arch, have.Arch}, {"n_layer", want.NLayer, have.NLayer}, {"n_head", want.NHead, have.NHead},
		{"n_embd", want.NEmbd, have.NEmbd}, {"n_ctx", want.NCtx, have.NCtx},
		{"layer_norm_epsilon", want.LNEps, have.LNEps}, {"gelu", gelu(want.GELU), gelu(have.GELU)},
	} {
		if f.want != f.have {
			changes = append(changes, f)
		}
	}
	if want.VocabSize != 0 && want.VocabSize != have.VocabSize {
		changes = append(changes, keyChange{"vocab_size", want.VocabSize, have.VocabSize})
	}
	return changes
}

// savedStrings is the set of the string values in the YAML file at path
// (none where it cannot be read).
func savedStrings(path string) map[string]bool {
	set := map[string]bool{}
	b, err := os.ReadFile(path)
	if err != nil {
		return set
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil {
		return set
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			set[n.Value] = true
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return set
}

// resumedPathError adds to err, a resumed run's failure to open one of the
// data paths of its saved job file, that a relative path there is read from
// the working directory: the job must resume from the directory it started
// in (or the file name absolute paths).
func resumedPathError(err error, outDir, job string, paths ...string) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	saved := savedStrings(filepath.Join(outDir, job))
	for _, p := range paths {
		if p != "" && !filepath.IsAbs(p) && strings.Contains(err.Error(), p) && saved[p] { // not a --data or --set of this job
			return inputErrorf("%v (%s is relative, as %s names it, and read from the working directory: resume from the directory the run started in, or make the path absolute there)",
				err, p, filepath.Join(outDir, job))
		}
	}
	return err
}
