package train

// Setting up a run: fresh or resumed from its checkpoint.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	G "gorgonia.org/gorgonia"

	"gptctl/data"
	"gptctl/graph"
)

// run is one pretraining job in progress.
type run struct {
	cfg      Config
	opt      Options
	tok      data.Tokenizer
	params   *graph.Params
	model    *graph.Model
	targets  *G.Node
	tr       *graph.Trainer // the CPU's step, or
	gpu      gpuTrainer     // the GPU's (device cuda)
	device   string         // cpu | cuda
	rng      *graph.RNG
	corpus   *corpus
	train    batchSource
	val      batchSource
	optim    *AdamW
	grads    [][]float32
	gradNorm float64
	state    State
	metrics  *metricsFile
	progress *progress
	sum      *Summary
	finished bool      // resumed at max_steps: nothing to train or write
	stopped  bool      // a signal stopped the setup as it loaded the data: loop only ends the run
	kept     *bestEval // what best/ holds beyond the checkpoint's best (see settleBest)
	savedAt  int       // 1 + the step of the checkpoint this job wrote last (0: none)
}

// newRun is newRunContext without a stop.
func newRun(cfg Config, opt Options, device string) (*run, error) {
	return newRunContext(context.Background(), cfg, opt, device)
}

// newRunContext sets up a run; on an error it closes what it opened (the
// corpus's mapped shards, the GPU trainer, the metrics file). A cancelled
// ctx stops the loading of the data (reading and tokenizing a text corpus
// can take minutes, longer than a scheduler waits before its kill): the run
// is then set up no further (stopped).
func newRunContext(ctx context.Context, cfg Config, opt Options, device string) (_ *run, err error) {
	r := &run{cfg: cfg, opt: opt, device: device, sum: &Summary{MaxSteps: cfg.MaxSteps, RunInfo: RunInfo{OutDir: opt.OutDir, Device: device}}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	ck, err := r.startFrom()
	if err != nil {
		return nil, err
	}
	if r.finished {
		return r, nil
	}
	c, err := loadCorpus(ctx, r.cfg, r.tok, opt.Log)
	if errors.Is(err, errLoadStopped) {
		r.stopped = true
		return r, nil
	}
	if err != nil {
		if opt.Resume {
			err = resumedPathError(err, opt.OutDir, jobFile, r.cfg.Data, r.cfg.ValData)
		} else {
			err = missingCorpusError(r.cfg, err)
		}
		return nil, err
	}
	r.tok, r.corpus = c.tok, c
	if r.cfg.SampleTokens > 0 {
		if why := data.CharTextProblem(r.tok, r.cfg.SamplePrompt); why != "" {
			return nil, r.cfg.named(fmt.Errorf("sample_prompt %q: %s", r.cfg.SamplePrompt, why))
		}
	}
	if err := r.newModel(); err != nil {
		return nil, err
	}
	if err := r.build(c); err != nil {
		return nil, err
	}
	if ck != nil {
		if err := r.restore(ck); err != nil {
			return nil, err
		}
	}
	if err := r.openOutputs(); err != nil {
		return nil, err
	}
	r.sum.Params = r.params.Count()
	r.progress = newProgress(opt.Log, opt.Terminal)
	fmt.Fprintf(opt.Log, "model: %s, %d layers, %d heads, C=%d, T=%d, vocab %d (%s), %.2fM parameters\n",
		r.cfg.Arch, r.cfg.NLayer, r.cfg.NHead, r.cfg.NEmbd, r.model.T, r.cfg.VocabSize, r.tok.Name(), float64(r.sum.Params)/1e6)
	fmt.Fprintf(opt.Log, "data: %d training and %d validation tokens; batch %d x %d, grad_accum %d; BLAS %s\n",
		c.train.len(), c.val.len(), r.model.B, r.model.T, r.cfg.GradAccum, graph.BLASName())
	logBLASNote(opt.Log, r.device)
	if w, n := r.cfg.WarmupSteps, r.cfg.MaxSteps; w > n {
		fmt.Fprintf(opt.Log, "warning: warmup_steps %d exceeds max_steps %d: the learning rate peaks at %.3g, not lr %g\n",
			w, n, LR(n-1, w, n, r.cfg.LR, r.cfg.MinLR, r.cfg.LRDecay), r.cfg.LR)
	}
	return r, nil
}

// startFrom loads what the run starts from: on a resume, its checkpoint (nil
// when it has none yet, and the run starts from step 0); else the model of
// init_from, if set.
func (r *run) startFrom() (*checkpoint, error) {
	if r.opt.Resume && !hasCheckpoint(r.opt.OutDir) {
		// Killed before its first checkpoint: nothing was kept, so the
		// run starts again from its job config.
		if err := noCheckpoint(r.opt); err != nil {
			return nil, err
		}
		r.opt.Resume = false
		r.reconcileBest() // best/ may hold an evaluation from before the kill
	}
	if r.opt.Resume {
		return r.resume()
	}
	if r.cfg.InitFrom != "" {
		return nil, r.initFrom()
	}
	return nil, nil
}

// newModel draws a new model's weights from the seed, unless the run has
// its model already (resumed, or init_from), and makes a fresh optimizer
// unless a resume brought its own.
func (r *run) newModel() error {
	if r.params == nil {
		if r.cfg.VocabSize == 0 {
			r.cfg.VocabSize = r.tok.VocabSize()
		}
		if r.tok.VocabSize() > r.cfg.VocabSize {
			return r.cfg.named(fmt.Errorf("vocab_size %d is smaller than the tokenizer's %d tokens: set vocab_size to at least %[2]d, or to 0 for the tokenizer's size", r.cfg.VocabSize, r.tok.VocabSize()))
		}
		var err error
		if r.params, err = graph.NewParams(r.cfg.Config, graph.NewRNG(r.cfg.Seed)); err != nil {
			return &ConfigError{err}
		}
	}
	if r.device == "cpu" {
		if err := r.cfg.fitsTraining(r.opt.Log); err != nil {
			return r.cfg.named(err)
		}
	}
	if r.optim == nil { // a new model, or one from init_from; a resume has its own
		r.optim = r.cfg.newAdamW(r.params)
	}
	// A resume keeps its moments but takes the job's settings, which
	// --resume --set may change, as finetune does: the checkpoint's were
	// read from its own train.yaml.
	r.optim.Beta1, r.optim.Beta2 = r.cfg.Beta1, r.cfg.Beta2
	r.optim.Eps, r.optim.WeightDecay = r.cfg.Eps, r.cfg.WeightDecay
	return nil
}

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

// openOutputs opens the run's metrics.jsonl and writes its job config.
func (r *run) openOutputs() error {
	var err error
	if r.metrics, err = openMetrics(filepath.Join(r.opt.OutDir, metricsName), keptSteps(r.state.Step, r.state.EvalDue), r.state.Logged, r.opt.Log); err != nil {
		return err
	}
	return r.writeJob()
}

// writeJob writes the run's job config, which --resume reads.
func (r *run) writeJob() error {
	job, err := r.cfg.Marshal()
	if err == nil {
		err = data.WriteFile(filepath.Join(r.opt.OutDir, jobFile), job)
	}
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	return nil
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
// (starting again would write over its best/ and metrics).
func noCheckpoint(opt Options) error {
	if status, _ := readSummary(opt.OutDir, nil); status == "completed" {
		return inputErrorf("--resume: %s holds a completed run (summary.json) but no checkpoint: there is nothing to continue from (start a new run in another --out)", opt.OutDir)
	}
	fmt.Fprintf(opt.Log, "%s has no checkpoint yet: starting from step 0\n", opt.OutDir)
	return nil
}

// keepsModel checks the job config of a resumed run, want, against the
// config of its checkpoint, have: the architecture keys (modelChange), the
// tokenizer and init_from stay the run's, or the run would go on silently
// with its own model while train.yaml said otherwise; so do the settings
// that draw its data and validation batches (seq_len, seed, batch_size,
// eval_batches, the validation set), also for a finished run.
func keepsModel(want, have Config) error {
	if key, w, h := modelChange(want.Config, have.Config); key != "" {
		return &ConfigError{fmt.Errorf("--resume: %s %v, but the run's model has %v: a run keeps its model (start a new run to change it)", key, w, h)}
	}
	for _, f := range []struct{ key, want, have string }{
		{"tokenizer", want.Tokenizer, have.Tokenizer}, {"init_from", want.InitFrom, have.InitFrom},
	} {
		if !samePath(f.want, f.have) {
			return &ConfigError{fmt.Errorf("--resume: %s %q, but the run's is %q: a run keeps its model and tokenizer (start a new run to change it)", f.key, f.want, f.have)}
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
			return &ConfigError{fmt.Errorf("--resume: %s %d, but the run's is %d: a run keeps its seed, batch_size and eval_batches, which draw the validation batches best/ compares over (start a new run with --init DIR/checkpoint to change them)", f.key, f.want, f.have)}
		}
	}
	if want.T() != have.T() { // checked here, not with the data: a finished run reads none
		return &ConfigError{fmt.Errorf("--resume: seq_len %d, but the run trains on sequences of %d: a run keeps its seq_len, which its data position and validation batches are drawn in (resume with --set seq_len=%d, or start a new run)", want.T(), have.T(), have.T())}
	}
	switch {
	case !samePath(want.ValData, have.ValData):
		return &ConfigError{fmt.Errorf("--resume: val_data %q, but the run's is %q: a run keeps its validation set (start a new run to change it)", want.ValData, have.ValData)}
	case want.ValData == "" && want.ValFraction != have.ValFraction:
		return &ConfigError{fmt.Errorf("--resume: val_fraction %v, but the run's is %v: a run keeps its validation set (text it trained on would be scored; start a new run to change it)", want.ValFraction, have.ValFraction)}
	}
	return nil
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

// initFrom loads the model a run continues from: its architecture, weights
// and tokenizer replace the job config's, which train.yaml then records;
// dropout stays the config's, a training setting. A finetuned model gives
// its language model, without its task tokens and head.
func (r *run) initFrom() error {
	md, note, err := ModelDirNote(r.cfg.InitFrom)
	if err != nil {
		return &InputError{Err: fmt.Errorf("init_from: %w", err)}
	}
	if note != "" {
		fmt.Fprintln(r.opt.Log, note)
	}
	p, tok, err := LoadModelForText(md, "the corpus cannot be encoded for it")
	if err != nil {
		return fmt.Errorf("init_from: %w", err)
	}
	note, err = dropTaskTokens(p, tok, md)
	if err != nil {
		return fmt.Errorf("init_from: %w", err)
	}
	if note != "" {
		fmt.Fprintln(r.opt.Log, note)
	}
	if r.cfg.SeqLen > p.Config.NCtx {
		return &ConfigError{fmt.Errorf("seq_len %d exceeds n_ctx %d of init_from %s (its position embeddings)", r.cfg.SeqLen, p.Config.NCtx, md)}
	}
	p.Config.Dropout = r.cfg.Dropout
	r.cfg.Config, r.cfg.Tokenizer = p.Config, md
	r.params, r.tok = p, tok
	fmt.Fprintf(r.opt.Log, "init_from %s: its weights, architecture and tokenizer; a fresh optimizer\n", md)
	return nil
}

// build makes the training graph, the samplers and the gradient buffers.
func (r *run) build(c *corpus) error {
	var err error
	r.rng = graph.NewRNG(r.cfg.Seed + 1)
	if r.model, err = graph.New(r.params, r.cfg.BatchSize, r.cfg.T(), r.rng, modelOptions(r.device)...); err != nil {
		return err
	}
	var loss *G.Node
	if loss, r.targets, err = r.model.LMLoss(); err != nil {
		return err
	}
	if r.train, r.val, err = c.samplers(r.cfg.T(), r.cfg.Seed); err != nil {
		return err
	}
	if r.device == "cuda" {
		r.cfg.GPUMath.flashNotice(r.opt.Log, r.cfg.NEmbd/r.cfg.NHead)
		r.gpu, err = newGPUTrainer(r.model, loss, r.optim, r.cfg.GPUMath)
		return err
	}
	if r.tr, err = r.model.Differentiate(loss); err != nil {
		return err
	}
	r.grads = stepGrads(r.tr, r.params, r.cfg.GradAccum)
	return nil
}

// save writes a checkpoint of the current step; elapsed is the wall time of
// the whole run so far, earlier sessions included.
func (r *run) save(elapsed float64) error {
	if err := r.syncGPU(); err != nil {
		return err
	}
	if err := r.metrics.sync(); err != nil {
		return err
	}
	st := r.state
	st.AdamStep = r.optim.Step
	st.Elapsed = elapsed
	st.Logged = r.metrics.logged()
	var err error
	if st.ModelRNG, err = r.rng.MarshalBinary(); err != nil {
		return err
	}
	if st.SamplerRNG, err = r.train.State(); err != nil {
		return err
	}
	if st.ValSampler, err = r.val.State(); err != nil {
		return err
	}
	ck := &checkpoint{Config: r.cfg, Params: r.params, Tokenizer: r.tok, Optim: r.optim, State: st}
	if err := saveCheckpoint(r.opt.OutDir, ck); err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", st.Step, err)
	}
	r.sum.Checkpoint = filepath.Join(r.opt.OutDir, checkpointDir)
	r.state.Elapsed = st.Elapsed
	r.savedAt = st.Step + 1
	return nil
}

// syncGPU brings the weights and AdamW moments of a GPU run to the host.
func (r *run) syncGPU() error {
	if r.gpu == nil {
		return nil
	}
	err := r.gpu.sync(r.optim)
	var late *lateNonFinite
	switch {
	case errors.As(err, &late):
		return fmt.Errorf("step %d: %w", r.state.Step, &NonFiniteError{late.at(r.state.Step)}) // too late to skip: the steps after it were refused too
	case err != nil:
		return fmt.Errorf("device cuda: downloading the weights: %w", err)
	}
	return nil
}

func (r *run) close() {
	if r.gpu != nil {
		r.gpu.close()
	}
	if r.corpus != nil {
		r.corpus.close()
	}
	if r.metrics != nil {
		r.metrics.close()
	}
}

func writeJSON(path string, v any) error {
	b, err := jsonIndent(v)
	if err != nil {
		return err
	}
	return data.WriteFile(path, b)
}

// modelChange returns the first architecture key whose value in want (the
// job config with its overrides) differs from the run's model, have, with
// both values; "" when they agree. vocab_size 0 means the tokenizer's.
func modelChange(want, have graph.Config) (key string, w, h any) {
	gelu := func(g string) string { return cmp.Or(g, "tanh") }
	for _, f := range []struct {
		key        string
		want, have any
	}{
		{"arch", want.Arch, have.Arch}, {"n_layer", want.NLayer, have.NLayer}, {"n_head", want.NHead, have.NHead},
		{"n_embd", want.NEmbd, have.NEmbd}, {"n_ctx", want.NCtx, have.NCtx},
		{"layer_norm_epsilon", want.LNEps, have.LNEps}, {"gelu", gelu(want.GELU), gelu(have.GELU)},
	} {
		if f.want != f.have {
			return f.key, f.want, f.have
		}
	}
	if want.VocabSize != 0 && want.VocabSize != have.VocabSize {
		return "vocab_size", want.VocabSize, have.VocabSize
	}
	return "", nil, nil
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

// missingCorpusError is err, a corpus file (cfg.Data, or cfg.ValData)
// that does not exist, named by the config it came from, with where a
// relative path was looked for: a recipe from configs/ names a path
// relative to the directory gptctl is run in. Other errors (a tokenizer's,
// named already) are returned as they are.
func missingCorpusError(cfg Config, err error) error {
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || (pe.Path != cfg.Data && pe.Path != cfg.ValData) {
		return err
	}
	hint := ""
	if pe.Path == cfg.Data && !strings.Contains(cfg.where, "--data ") { // not the flag's own path
		hint = "; --data FILE reads the corpus from another path"
	}
	if wd, werr := os.Getwd(); werr == nil && !filepath.IsAbs(pe.Path) {
		hint = fmt.Sprintf(" (read from the working directory, %s)%s", wd, hint)
	}
	return cfg.named(inputErrorf("%w%s", err, hint))
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
