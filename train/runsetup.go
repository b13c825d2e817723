package train

// Setting up a run, fresh or from its checkpoint (the resume and its checks
// against the job config are in run_resume.go), and saving its checkpoints.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	dropBest bool      // best/ is not the run's: writeJob removes it (see bestAlone)
	unstart  func()    // puts back the summary.json the session replaced (see writeRunning)

	// aloneBest is the record of the best/ of a run resumed without a
	// checkpoint, which keepAloneBest checks once the data is read.
	aloneBest *bestRecord
}

// newRun is newRunContext without a stop.
func newRun(cfg Config, opt Options, device string) (*run, error) {
	return newRunContext(context.Background(), cfg, opt, device)
}

// newRunContext sets up a run; on an error it closes what it opened (the
// corpus's mapped shards, the GPU trainer, the metrics file). A cancelled
// ctx stops the loading of the data (reading and tokenizing a text corpus
// can take minutes, longer than a scheduler waits before its kill): the run
// then opens its outputs, as every session does as it starts, and is set
// up no further (stopped).
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
	if err := r.loadData(ctx, opt.Resume); err != nil {
		return nil, err
	}
	if r.stopped { // the session starts, to end at once (endUntrained)
		r.keepAloneBest()
		if err := r.openOutputs(); err != nil {
			return nil, err
		}
		return r, nil
	}
	if err := r.newModel(); err != nil {
		return nil, err
	}
	if err := r.build(r.corpus); err != nil {
		return nil, err
	}
	if ck != nil {
		if err := r.restore(ck); err != nil {
			return nil, err
		}
	}
	r.keepAloneBest()
	if err := r.openOutputs(); err != nil {
		return nil, err
	}
	r.progress = newProgress(opt.Log, opt.Terminal)
	r.logSetup()
	return r, nil
}

// loadData loads the run's corpus and checks sample_prompt against its
// tokenizer. A cancelled ctx stops the loading: the run is then stopped,
// with no error. resume is whether the job was asked to resume (even one
// that found no checkpoint): a missing file is then named as the job
// config's.
func (r *run) loadData(ctx context.Context, resume bool) error {
	c, err := loadCorpus(ctx, r.cfg, r.tok, r.opt.Log)
	if errors.Is(err, errLoadStopped) {
		r.stopped = true
		return nil
	}
	if err != nil {
		if resume {
			return resumedPathError(err, r.opt.OutDir, jobFile, r.cfg.Data, r.cfg.ValData)
		}
		return missingCorpusError(r.cfg, err)
	}
	r.tok, r.corpus = c.tok, c
	if r.cfg.SampleTokens > 0 {
		if why := data.CharTextProblem(r.tok, r.cfg.SamplePrompt); why != "" {
			return r.cfg.named(fmt.Errorf("sample_prompt %q: %s", r.cfg.SamplePrompt, why))
		}
	}
	return nil
}

// logSetup logs the model and data of a run set up, the BLAS it runs on,
// a warmup longer than the run and a patience no evaluation can use.
func (r *run) logSetup() {
	log, c := r.opt.Log, r.corpus
	fmt.Fprintf(log, "model: %s, %d layers, %d heads, C=%d, T=%d, vocab %d (%s), %.2fM parameters\n",
		r.cfg.Arch, r.cfg.NLayer, r.cfg.NHead, r.cfg.NEmbd, r.model.T, r.cfg.VocabSize, r.tok.Name(), float64(r.sum.Params)/1e6)
	fmt.Fprintf(log, "data: %d training and %d validation tokens; batch %d x %d, grad_accum %d; BLAS %s\n",
		c.train.len(), c.val.len(), r.model.B, r.model.T, r.cfg.GradAccum, graph.BLASName())
	logBLASNote(log, r.device)
	if w, n := r.cfg.WarmupSteps, r.cfg.MaxSteps; w > n {
		fmt.Fprintf(log, "warning: warmup_steps %d exceeds max_steps %d: the learning rate peaks at %.3g, not lr %g\n",
			w, n, LR(n-1, w, n, r.cfg.LR, r.cfg.MinLR, r.cfg.LRDecay), r.cfg.LR)
	}
	if r.cfg.Patience > 0 && (r.cfg.EvalInterval == 0 || r.cfg.EvalInterval >= r.cfg.MaxSteps) {
		fmt.Fprintf(log, "warning: patience %d stops nothing: the run evaluates only at its last step (eval_interval %d, max_steps %d)\n",
			r.cfg.Patience, r.cfg.EvalInterval, r.cfg.MaxSteps)
	}
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
		if err := r.bestAlone(); err != nil { // best/ may hold an evaluation from before the kill
			return nil, err
		}
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

// openOutputs writes the run's job config, then the summary and
// metrics.jsonl of the session that starts (startSession). A session
// stopped as it loaded its data opens them too: its summary then names
// the step metrics.jsonl ends at.
func (r *run) openOutputs() (err error) {
	if err := writeJob(r.opt.OutDir, jobFile, r.cfg.Marshal, r.dropBest); err != nil {
		return err
	}
	if r.params != nil { // not one stopped before it had a model, as it loaded its data
		r.sum.Params = r.params.Count()
	}
	r.fillSummary("") // where the session starts
	r.unstart, r.metrics, err = startSession(r.opt, r.sum, &r.sum.Outcome, keptSteps(r.state.Step, r.state.EvalDue), r.state.Logged, r.failed)
	return err
}

// writeJob writes a run's job config, which --resume reads, as marshal
// makes it, into the run directory dir as name, once the best/ it does not
// describe is removed (dropBest).
func writeJob(dir, name string, marshal func() ([]byte, error), dropBest bool) error {
	job, err := marshal()
	if err == nil && dropBest {
		err = removeBest(dir)
	}
	if err == nil {
		err = data.WriteFile(filepath.Join(dir, name), job)
	}
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	return nil
}

// startSession writes what a session of a run, pretrain or finetune,
// writes as it starts after its job config (writeJob, first: it makes the
// directory a run's, so that one a full disk stops there holds nothing
// else of the job's): sum, the session's summary filled from the state it
// starts at, with status running (writeRunning; o is sum's Outcome), then
// metrics.jsonl, opened and cut back to step keep (keptSteps; logged is
// the last step its checkpoint had written). Where the metrics cannot be
// opened, failed writes the summary that says so. undo puts back the
// summary.json the session replaced.
func startSession[S any](opt Options, sum *S, o *Outcome, keep, logged int, failed func(error) *S) (undo func(), m *metricsFile, err error) {
	if undo, err = writeRunning(opt.OutDir, o, sum); err != nil {
		return nil, nil, err
	}
	if m, err = openMetrics(filepath.Join(opt.OutDir, metricsName), keep, logged, opt.Log); err != nil {
		failed(err)
	}
	return undo, m, err
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
		err := fmt.Errorf("step %d: %w", r.state.Step, &NonFiniteError{late.at(r.state.Step)}) // too late to skip: the steps after it were refused too
		r.uncount(late.back + 1)
		return err
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
