package train

// Finetune: gptctl finetune. A pretrained model gets the task tokens and a
// head, then trains on L3 = L2 + lambda*L1 over a labeled task file.

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"gptctl/data"
	"gptctl/graph"
)

// FinetuneSummary is the outcome of a finetune, also DIR/summary.json.
type FinetuneSummary struct {
	Outcome
	Task          string             `json:"task"`
	Step          int                `json:"step"`
	MaxSteps      int                `json:"max_steps"`
	Epoch         float64            `json:"epoch"`
	TrainLoss     *float64           `json:"train_loss,omitempty"` // the last metrics line's; absent before any
	Val           map[string]float64 `json:"val,omitempty"`        // the last evaluation; absent before any
	Baseline      map[string]float64 `json:"baseline"`             // majority class or mean score, on the same val data
	BestMetric    string             `json:"best_metric"`
	BestValue     *float64           `json:"best_value,omitempty"` // absent before any evaluation
	BestStep      int                `json:"best_step,omitempty"`  // absent before the first evaluation
	Best          string             `json:"best,omitempty"`       // DIR/best, once it is written
	TrainExamples int                `json:"train_examples"`
	ValExamples   int                `json:"val_examples"`
	Truncated     int                `json:"truncated"` // examples shortened to max_len
	Skipped       int                `json:"skipped"`   // bad rows skipped (skip_bad_rows)
	RunInfo
}

// ftRun is one finetune in progress.
type ftRun struct {
	cfg        FinetuneConfig
	opt        Options
	model      *taskModel
	train, val []taskExample
	valSum     dataSum // of val, which best.json records
	graphs     *graphSet
	device     string // cpu or cuda (then graphs.gpu trains, from the first step on)
	optim      *AdamW
	rng        *graph.RNG
	grads      [][]float32
	accGrads   [][]float32 // grad_accum > 1 on the CPU: the step's mean gradient
	state      finetuneState
	perEpoch   int // steps per epoch
	total      int // steps of the run
	warmup     int
	metrics    *metricsFile
	progress   *progress
	sum        *FinetuneSummary
	trainTime  time.Duration   // spent in training steps by this process
	tokens     int64           // trained on by this process, padding excluded
	skips      *data.TaskData  // the training file's skipped rows (skip_bad_rows), for writeSkips
	valSkips   *data.TaskData  // the validation file's, if it is another
	resumed    string          // the checkpoint a resume started from, for the log
	finished   bool            // resumed at its last step: nothing to train or write
	winOnGPU   bool            // the log window's sums of the last steps are still on the GPU
	unlooked   []int64         // the tokens of the steps counted since a GPU step last looked at the device
	pace       pace            // this process's step, evaluation and checkpoint times, for max_time
	kept       *bestEval       // what best/ holds beyond the checkpoint's best (see settleBest)
	elapsed    func() float64  // the run's wall time so far, across sessions (set by loop)
	ckJob      *FinetuneConfig // a resumed run's config as its checkpoint holds it
	savedAt    int             // 1 + the step of the checkpoint this job wrote last (0: none)
	dropBest   bool            // best/ is not the run's: writeJob removes it (see bestAlone)
	unstart    func()          // puts back the summary.json the session replaced (see writeRunning)
}

// Finetune trains the model cfg.InitFrom on cfg.Task and writes the run into
// opt.OutDir; opt.Resume continues the run there. A cancelled ctx
// checkpoints and returns a summary with status "interrupted".
func Finetune(ctx context.Context, cfg FinetuneConfig, opt Options) (*FinetuneSummary, error) {
	sum, err := runJob[FinetuneSummary](ctx, Config{Device: cfg.Device, Threads: cfg.Threads, GPUMath: cfg.GPUMath}, opt, func(device string) (*ftRun, error) {
		return newFinetuneRun(cfg, opt, device)
	})
	return sum, deviceMemory(err, fmt.Sprintf("lower batch_size (%d; grad_accum keeps the examples a step) or task.max_len (on a GPU every batch is padded to it), or device: cpu", cfg.BatchSize))
}

func (r *ftRun) done() bool { return r.finished }

func (r *ftRun) undoStart() {
	if r.unstart != nil {
		r.unstart()
	}
}

func (r *ftRun) failed(err error) *FinetuneSummary {
	r.sum.fail(err)
	r.fillSummary("failed")
	writeFailedSummary(r.opt.OutDir, r.sum, r.opt.Log)
	return r.sum
}

// newFinetuneRun sets up a finetune; on an error it closes what it opened.
func newFinetuneRun(cfg FinetuneConfig, opt Options, device string) (_ *ftRun, err error) {
	r := &ftRun{cfg: cfg, opt: opt, device: device, rng: graph.NewRNG(cfg.Seed + 1),
		sum: &FinetuneSummary{Task: cfg.Task.Type, RunInfo: RunInfo{OutDir: opt.OutDir, Device: device}}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	replay := opt.Resume // best/ may hold an evaluation past the checkpoint, if any
	if err := r.load(); err != nil {
		return nil, err
	}
	if err := r.plan(); err != nil {
		return nil, err
	}
	if err := r.fitsCPU(); err != nil {
		return nil, err
	}
	if r.opt.Resume {
		if err := r.resumeAt(); err != nil {
			return nil, err
		}
		if r.finished {
			return r, nil
		}
	}
	if replay {
		if err := r.keepBest(); err != nil {
			return nil, err
		}
	}
	if err := r.buildLongest(); err != nil {
		return nil, err
	}
	if err := r.openRunFiles(); err != nil {
		return nil, err
	}
	r.describe()
	return r, nil
}

// fitsCPU refuses, on the CPU, a model and batch whose training would not
// fit in memory, with a graph for each padded length of the examples kept.
func (r *ftRun) fitsCPU() error {
	if r.device != "cpu" {
		return nil
	}
	head, lens := r.graphs.head, graphLens(r.model.info.MaxLen, r.train, r.val)
	what := fmt.Sprintf("finetuning with batch_size %d in graphs of %v tokens", r.graphs.E, lens)
	if head.Rows > 1 {
		what = fmt.Sprintf("finetuning with batch_size %d (%d sequences) in graphs of %v tokens", r.graphs.E, r.graphs.E*head.Rows, lens)
	}
	if err := fitsTraining(r.model.params.Config, r.graphs.E*head.Rows, lens, what, r.opt.Log); err != nil {
		return &ConfigError{err}
	}
	return nil
}

// openRunFiles writes the run's job config, then the summary and
// metrics.jsonl of the session that starts (startSession), and the
// skipped rows; where those fail, the summary says so (failed).
func (r *ftRun) openRunFiles() (err error) {
	if err := writeJob(r.opt.OutDir, finetuneJobFile, r.cfg.Marshal, r.dropBest); err != nil {
		return err
	}
	r.fillSummary("") // where the session starts
	if r.unstart, r.metrics, err = startSession(r.opt, r.sum, &r.sum.Outcome, keptSteps(r.state.Step, r.state.EvalDue), r.state.Logged, r.failed); err != nil {
		return err
	}
	if err := r.writeSkips(); err != nil {
		err = fmt.Errorf("run directory: %w", err)
		r.failed(err)
		return err
	}
	return nil
}

// plan builds the graphs over the model and counts the steps.
func (r *ftRun) plan() error {
	cfg, p, info := r.cfg, r.model.params, r.model.info
	p.Config.Dropout = float32(cfg.Dropout)
	head := info.head()
	head.Lambda, head.Dropout = float32(cfg.Lambda), float32(cfg.HeadDropout)
	// A batch holds at most the examples there are: a batch_size beyond
	// them builds no larger graph.
	r.graphs = newGraphSet(p, head, min(cfg.BatchSize, max(len(r.train), len(r.val))), info.MaxLen, r.rng)
	r.graphs.opts = modelOptions(r.device)
	if r.device == "cpu" { // the graphs run one at a time, and a step's gradients are read before the next run
		r.graphs.opts = append(r.graphs.opts, graph.SharedGrads(graph.NewGradBuffers()), graph.SharedActivations(graph.NewActivationBuffers()))
	}
	if r.device == "cuda" {
		// One graph, every batch padded to max_len: a GPU has the throughput
		// to spare, and one device copy of the weights serves every step.
		r.graphs.fixedT = info.MaxLen
	}
	r.grads = make([][]float32, len(p.List))
	r.perEpoch = ceilDiv(ceilDiv(len(r.train), cfg.BatchSize), cfg.GradAccum)
	if cfg.GradAccum > 1 && r.device == "cpu" { // the sum of a step's micro-batches; one batch's are the graph's own
		r.accGrads = make([][]float32, len(p.List))
		for i, w := range p.List {
			r.accGrads[i] = make([]float32, len(w.Data))
		}
	}
	if cfg.MaxSteps == 0 && r.perEpoch > 0 && cfg.Epochs > math.MaxInt/r.perEpoch {
		return &ConfigError{fmt.Errorf("epochs %d: %d epochs of %d steps are more steps than a run counts: lower epochs, or set max_steps", cfg.Epochs, cfg.Epochs, r.perEpoch)}
	}
	r.total = cfg.steps(r.perEpoch)
	r.warmup = warmupSteps(cfg.WarmupFraction, r.total)
	r.sum.BestMetric, r.sum.Params, r.sum.MaxSteps = info.Metric, p.Count(), r.total
	return nil
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0, without overflow.
func ceilDiv(a, b int) int {
	if a == 0 {
		return 0
	}
	return (a-1)/b + 1
}

// close closes the metrics file and the GPU trainer, those opened.
func (r *ftRun) close() {
	if r.metrics != nil {
		r.metrics.close()
	}
	if r.graphs != nil && r.graphs.gpu != nil {
		r.graphs.gpu.close()
	}
}

// buildLongest builds the graph of the longest examples, on the CPU,
// before any other, and the training graph of the longest training
// examples next: the graphs built after them fit in the buffers they make
// (graph.SharedActivations and SharedGrads).
func (r *ftRun) buildLongest() error {
	if r.device != "cpu" || len(r.train) == 0 {
		return nil
	}
	longest := func(exs []taskExample) (w int) {
		for _, e := range exs {
			w = max(w, e.width)
		}
		return w
	}
	if _, err := r.graphs.get(max(longest(r.train), longest(r.val))); err != nil {
		return err
	}
	g, err := r.graphs.get(longest(r.train))
	if err == nil {
		_, err = g.trainer()
	}
	return err
}

// warmupSteps is the share fraction of total steps, rounded up: a part of
// a step warms up a whole one. The product is rounded first, since 0.07 ×
// 100 is 7.000000000000001 in floating point.
func warmupSteps(fraction float64, total int) int {
	return int(math.Ceil(math.Round(fraction*float64(total)*1e6) / 1e6))
}

// steps is the number of steps the finetune c trains, perEpoch a epoch.
func (c FinetuneConfig) steps(perEpoch int) int {
	if c.MaxSteps > 0 {
		return c.MaxSteps
	}
	return c.Epochs * perEpoch
}

// evalsAt reports whether the finetune c evaluates after step (before its
// last, where every run does), perEpoch steps an epoch.
func (c FinetuneConfig) evalsAt(step, perEpoch int) bool {
	return c.EvalInterval > 0 && step%c.EvalInterval == 0 || c.EvalInterval == 0 && step%perEpoch == 0
}

// initModel loads the pretrained model and adds the task tokens and head.
func (r *ftRun) initModel() error {
	cfg := r.cfg
	if cfg.InitFrom == "" {
		return &ConfigError{fmt.Errorf("init_from is empty: pass --init MODEL_DIR, a pretrained gptctl run or Hugging Face model directory")}
	}
	if _, note, err := ModelDirNote(cfg.InitFrom); err == nil && note != "" {
		fmt.Fprintln(r.opt.Log, note)
	}
	p, tok, err := LoadModelForText(cfg.InitFrom, "task text cannot be encoded for it")
	if err != nil {
		return err
	}
	if cfg.RandomInit {
		if p, err = graph.NewParams(p.Config, graph.NewRNG(cfg.Seed+3)); err != nil {
			return err
		}
	}
	maxLen := cfg.Task.MaxLen
	if maxLen == 0 {
		maxLen = p.Config.NCtx
	}
	if maxLen > p.Config.NCtx {
		return &ConfigError{fmt.Errorf("task.max_len %d exceeds the model's n_ctx %d (the position embeddings)", maxLen, p.Config.NCtx)}
	}
	first, err := r.taskTokens(p)
	if err != nil {
		return err
	}
	info := newTaskInfo(cfg.Task, first, maxLen)
	if err := p.AddHead(info.head().Outputs(), graph.NewRNG(cfg.Seed+2)); err != nil {
		return err
	}
	r.model = &taskModel{info: info, params: p, tok: tok}
	r.optim = cfg.newAdamW(p)
	return nil
}

// taskTokens returns the id of <s> (then $ and <e>). A model finetuned
// before already has the three tokens, trained: they are reused (its task
// head is not). Any other model gets three new embeddings.
func (r *ftRun) taskTokens(p *graph.Params) (int, error) {
	md, err := ModelDir(r.cfg.InitFrom)
	if err != nil || !IsTaskModel(md) {
		return p.AddTokens(3, graph.NewRNG(r.cfg.Seed))
	}
	info, err := readTaskInfo(filepath.Join(md, taskFile))
	if err != nil {
		return 0, &InputError{Err: err}
	}
	sp := info.Special
	if sp.Delim != sp.Start+1 || sp.Extract != sp.Start+2 || sp.Extract >= p.Config.VocabSize {
		return 0, inputErrorf("model %s: task tokens %+v are not three consecutive ids in its vocabulary of %d", md, sp, p.Config.VocabSize)
	}
	if r.cfg.RandomInit {
		fmt.Fprintf(r.opt.Log, "init: %s is a finetuned model; its task tokens <s> $ <e> keep their ids %d-%d, and random_init draws every weight anew\n", md, sp.Start, sp.Extract)
	} else {
		fmt.Fprintf(r.opt.Log, "init: %s is a finetuned model; reusing its task tokens <s> $ <e> (ids %d-%d), not its head\n", md, sp.Start, sp.Extract)
	}
	return sp.Start, nil
}

// describe logs the model, the data and the plan.
func (r *ftRun) describe() {
	p, info, cfg := r.model.params, r.model.info, r.cfg
	r.progress = newProgress(r.opt.Log, r.opt.Terminal)
	fmt.Fprintf(r.opt.Log, "model: %s, %d layers, %d heads, C=%d, vocab %d (%s + <s> $ <e>), %.2fM parameters; head %s with %s\n",
		p.Config.Arch, p.Config.NLayer, p.Config.NHead, p.Config.NEmbd, p.Config.VocabSize, r.model.tok.Name(),
		float64(p.Count())/1e6, info.Objective, plural(info.head().Outputs(), "output"))
	fmt.Fprintf(r.opt.Log, "task: %s, %d training and %d validation examples, max_len %d (%d of the %d examples truncated); baseline %s\n",
		info.Type, len(r.train), len(r.val), info.MaxLen, r.sum.Truncated, len(r.train)+len(r.val), metricsText(r.sum.Baseline))
	batch := fmt.Sprint(min(cfg.BatchSize, len(r.train)))
	if cfg.GradAccum > 1 {
		batch = fmt.Sprintf("%d micro-batches of %s", cfg.GradAccum, batch)
	}
	fmt.Fprintf(r.opt.Log, "plan: %s (%d per epoch) of up to %s examples, lr %g, warmup %d, lambda %g; BLAS %s\n",
		plural(r.total, "step"), r.perEpoch, batch, cfg.LR, r.warmup, cfg.Lambda, graph.BLASName())
	logBLASNote(r.opt.Log, r.device)
}

// isBetter compares a metric value with the best so far.
func isBetter(metric string, v, best float64) bool {
	if metric == "loss" || metric == "mse" {
		return v < best
	}
	return v > best
}
