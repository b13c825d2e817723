package train

// Finetuning checkpoints. A finetune run directory holds:
//
//	finetune.yaml     the job config
//	metrics.jsonl     one JSON object per logged step
//	summary.json      written when a session starts (running) and when the run ends
//	checkpoint/       the latest finetuned model directory (see
//	                  finetune_model.go) plus optimizer.safetensors,
//	                  state.json and finetune.yaml for resuming
//	checkpoint.prev/  the checkpoint before it
//	best/             the finetuned model with the best validation metric
//
// Directories are written whole under a temporary name, then renamed into
// place (commitDir), and checkpoints carry checksums, as in pretraining.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"

	"gptctl/data"
)

const finetuneJobFile = "finetune.yaml"

// finetuneState is what a resumed finetune needs beyond weights and moments.
// The data position follows from Step: every epoch's order is fixed by the
// seed.
type finetuneState struct {
	Step       int     `json:"step"`
	AdamStep   int     `json:"adam_step"`
	TokensSeen int64   `json:"tokens_seen"`
	ModelRNG   []byte  `json:"model_rng"`
	BestMetric float64 `json:"best_metric"`
	BestStep   int     `json:"best_step"` // 0 = no evaluation yet
	Elapsed    float64 `json:"elapsed_seconds"`
	skipState
	patienceState
	// Val is the last evaluation's metrics and TrainLoss the last metrics
	// line's: the summary of a later session that stops before it measures
	// them. HasTrainLoss says a line was written (its loss may be 0);
	// checkpoints of older builds lack it, and their loss is not 0.
	Val          map[string]float64 `json:"val,omitempty"`
	TrainLoss    float64            `json:"train_loss,omitempty"`
	HasTrainLoss bool               `json:"has_train_loss,omitempty"`
	// Window holds the steps since the last metrics line, which the next
	// line averages.
	Window logWindow `json:"log_window"`
	// EvalDue is the metrics line of the last step when a signal stopped
	// its evaluation, or max_time came before it: a resume evaluates first
	// and writes the line.
	EvalDue metrics `json:"eval_due,omitempty"`
	// Data is the task data the run trains and validates on, to catch a
	// resume on changed data; absent in checkpoints written before it was.
	Data *taskData `json:"data,omitempty"`
	// Logged is the step of the last metrics line written before the
	// checkpoint (0 in checkpoints written before it was recorded).
	Logged int `json:"logged_step,omitempty"`
	// Files maps every other file of the checkpoint to its SHA-256.
	Files map[string]string `json:"files"`
}

// best is the run's best evaluation as the state holds it (nil before any).
func (s finetuneState) best() *bestEval {
	if s.BestStep == 0 {
		return nil
	}
	return &bestEval{s.BestStep, s.BestMetric}
}

// taskData identifies a run's encoded training and validation examples.
type taskData struct {
	Train  int    `json:"train_examples"`
	Val    int    `json:"val_examples"`
	SHA256 string `json:"sha256"` // of every example's rows and label or score, train then val
}

func taskDataOf(train, val []taskExample) taskData {
	h := sha256.New()
	var b []byte
	for _, exs := range [][]taskExample{train, val} {
		for _, e := range exs {
			b = binary.LittleEndian.AppendUint32(b[:0], uint32(len(e.rows)))
			for _, row := range e.rows {
				b = binary.LittleEndian.AppendUint32(b, uint32(len(row)))
				for _, id := range row {
					b = binary.LittleEndian.AppendUint32(b, uint32(id))
				}
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(e.label))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(e.score))
			h.Write(b)
		}
	}
	return taskData{Train: len(train), Val: len(val), SHA256: hex.EncodeToString(h.Sum(nil))}
}

// sameData records the run's task data in its state, and its validation
// examples' for best/; on a resume it refuses data that changed since the
// checkpoint (rows added, removed or edited), whose epochs and validation
// set would not be the run's.
func (r *ftRun) sameData() error {
	val := taskDataOf(nil, r.val)
	r.valSum = dataSum{int64(val.Val), val.SHA256}
	now := taskDataOf(r.train, r.val)
	if was := r.state.Data; r.opt.Resume && was != nil && *was != now {
		what := fmt.Sprintf("%d training and %d validation examples, the run had %d and %d", now.Train, now.Val, was.Train, was.Val)
		if now.Train == was.Train && now.Val == was.Val {
			// The fingerprint is of the encoded rows, so a gptctl that
			// encodes the same rows otherwise (a similarity pair cut at a
			// tie, since the cut became the same for a row and its swap)
			// sees other examples too.
			what = "other text or labels in the same number of examples, or the same rows encoded otherwise by another gptctl version than the run's"
		}
		return inputErrorf("--resume: the task data changed since the checkpoint (%s): the run's epochs and validation set would not be its own (put back the data it was trained on, or start a new run with --init %s)",
			what, filepath.Join(r.opt.OutDir, checkpointDir))
	}
	r.state.Data = &now
	return nil
}

// save writes the checkpoint of the current step.
func (r *ftRun) save() error {
	if r.elapsed != nil { // the run's wall time to now: the evaluation and checkpoints of the step included
		r.state.Elapsed = r.elapsed()
	}
	if err := r.syncGPU(); err != nil {
		return err
	}
	if err := r.metrics.sync(); err != nil {
		return err
	}
	if err := r.takeGPUWindow(); err != nil {
		return err
	}
	st := r.state
	st.AdamStep = r.optim.Step
	st.Logged = r.metrics.logged()
	var err error
	if st.ModelRNG, err = r.rng.MarshalBinary(); err != nil {
		return err
	}
	job, err := r.cfg.Marshal()
	if err != nil {
		return err
	}
	err = commitDir(r.opt.OutDir, checkpointDir, prevDir, func(tmp string) error {
		return r.writeCheckpoint(tmp, st, job)
	})
	if err != nil {
		return fmt.Errorf("checkpoint at step %d: %w", st.Step, err)
	}
	r.savedAt = st.Step + 1
	return nil
}

// takeGPUWindow adds to the state's log window the sums of the losses a
// run stopped after a step that left them on the GPU (only steps that log
// or checkpoint take them), so that the first line after a resume averages
// every step since the last.
func (r *ftRun) takeGPUWindow() error {
	if !r.winOnGPU {
		return nil
	}
	sums, err := r.graphs.gpu.window(true, 1)
	if err != nil {
		return err
	}
	w := &r.state.Window
	w.Loss, w.L2, w.L1 = w.Loss+sums[0], w.L2+sums[1], w.L1+sums[2]
	r.winOnGPU = false
	return nil
}

// writeCheckpoint writes into tmp, the checkpoint directory to be, the
// model, the optimizer, job, the run's config, and st, its state, with the
// hashes of the files before it.
func (r *ftRun) writeCheckpoint(tmp string, st finetuneState, job []byte) error {
	if err := writeTaskModel(tmp, r.model); err != nil {
		return err
	}
	if err := writeOptimizer(filepath.Join(tmp, optimFile), r.model.params, r.optim); err != nil {
		return err
	}
	if err := data.WriteFile(filepath.Join(tmp, finetuneJobFile), job); err != nil {
		return err
	}
	var err error
	if st.Files, err = hashFiles(tmp); err != nil {
		return err
	}
	return writeState(filepath.Join(tmp, stateFile), st)
}

// saveBest writes the current model as DIR/best.
func (r *ftRun) saveBest(v float64) error {
	if err := r.syncGPU(); err != nil {
		return err
	}
	if err := commitDir(r.opt.OutDir, bestDir, "", func(tmp string) error {
		if err := writeTaskModel(tmp, r.model); err != nil {
			return err
		}
		return sealBest(tmp, r.state.Step, r.model.info.Metric, v, r.valSum)
	}); err != nil {
		return fmt.Errorf("best model at step %d: %w", r.state.Step, err)
	}
	return nil
}

// ftCheckpoint is a finetune checkpoint read back for a resume.
type ftCheckpoint struct {
	model *taskModel
	optim *AdamW
	state finetuneState
	job   FinetuneConfig // its finetune.yaml
	dir   string
	// skipped says why the latest checkpoint was passed over for this one,
	// checkpoint.prev; nil when this is the latest.
	skipped error
}

// resumeFinetune loads the latest usable checkpoint of a finetune run.
func resumeFinetune(runDir string, cfg FinetuneConfig) (*ftCheckpoint, error) {
	ck, _, skipped, err := latestCheckpoint(runDir, func(dir string) (*ftCheckpoint, error) {
		m, o, st, err := readFinetuneCheckpoint(dir, cfg)
		if err != nil {
			return nil, err
		}
		job, err := LoadFinetune(filepath.Join(dir, finetuneJobFile), nil)
		if err != nil {
			return nil, err
		}
		return &ftCheckpoint{model: m, optim: o, state: st, job: job, dir: dir}, nil
	})
	if err != nil {
		return nil, &InputError{Err: err}
	}
	ck.skipped = skipped
	return ck, nil
}

func readFinetuneCheckpoint(dir string, cfg FinetuneConfig) (*taskModel, *AdamW, finetuneState, error) {
	var st finetuneState
	if err := readState(dir, &st); err != nil {
		return nil, nil, st, err
	}
	if err := verifyFiles(dir, st.Files); err != nil {
		return nil, nil, st, err
	}
	m, err := loadTaskModel(dir)
	if err != nil {
		return nil, nil, st, err
	}
	o := cfg.newAdamW(m.params)
	o.Step = st.AdamStep
	if err := readOptimizer(filepath.Join(dir, optimFile), m.params, o); err != nil {
		return nil, nil, st, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return m, o, st, nil
}
