package train

// Checkpoints. A run directory holds:
//
//	train.yaml      the job config
//	metrics.jsonl   one JSON object per logged step
//	summary.json    written when a session starts (running) and when the run ends
//	checkpoint/     the latest checkpoint, a Hugging Face model directory:
//	                config.json, model.safetensors, the tokenizer files,
//	                plus optimizer.safetensors and state.json for resuming
//	checkpoint.prev/ the checkpoint before it
//	best/           the model with the lowest validation loss so far
//
// A checkpoint is written whole into a temporary directory, every file
// fsynced, then renamed into place, so a crash at any instant leaves a
// complete latest or previous checkpoint.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gptctl/data"
	"gptctl/graph"
)

const (
	checkpointDir = data.RunCheckpointDir
	prevDir       = "checkpoint.prev"
	rejectedDir   = "checkpoint.rejected" // a damaged checkpoint a resume passed over
	bestDir       = "best"
	stateFile     = "state.json"
	bestFile      = "best.json" // in best/: the evaluation it holds the model of (bestRecord)
	optimFile     = "optimizer.safetensors"
	modelFile     = "model.safetensors"
	jobFile       = "train.yaml"
	summaryFile   = "summary.json"  // a run's outcome
	metricsName   = "metrics.jsonl" // a run's curves, a line per logged step
)

// State is what a resumed run needs beyond weights and optimizer moments.
type State struct {
	Step       int    `json:"step"` // optimizer steps done
	AdamStep   int    `json:"adam_step"`
	TokensSeen int64  `json:"tokens_seen"`
	ModelRNG   []byte `json:"model_rng"`   // dropout masks
	SamplerRNG []byte `json:"sampler_rng"` // data position
	// ValSampler is the validation sampler's state: what its fingerprint
	// of the validation tokens catches is validation data edited since.
	ValSampler []byte  `json:"val_sampler,omitempty"`
	BestVal    float64 `json:"best_val_loss"`
	BestStep   int     `json:"best_step,omitempty"` // when BestVal was reached (DIR/best)
	// ValLoss is the last evaluation's and TrainLoss the last step's whose
	// loss was read (every step on a CPU, logged steps on a GPU): the
	// summary of a later session that stops before it measures them.
	// Each is measured once its Has field is set (or it is not 0:
	// checkpoints of older builds), so that a loss of exactly 0 (a
	// one-token vocabulary) is reported too.
	ValLoss      float64 `json:"val_loss,omitempty"`
	TrainLoss    float64 `json:"train_loss,omitempty"`
	HasValLoss   bool    `json:"has_val_loss,omitempty"`
	HasTrainLoss bool    `json:"has_train_loss,omitempty"`
	Elapsed      float64 `json:"elapsed_seconds"`
	skipState
	patienceState
	// EvalDue is the metrics line of the last step when a signal stopped
	// its evaluation, or max_time came before it: a resume evaluates first
	// and writes the line.
	EvalDue metrics `json:"eval_due,omitempty"`
	// Logged is the step of the last metrics line written before the
	// checkpoint (0 in checkpoints written before it was recorded).
	Logged int `json:"logged_step,omitempty"`
	// Files maps every other file of the checkpoint to its SHA-256, checked
	// before the checkpoint is used.
	Files map[string]string `json:"files"`
}

// best is the run's best evaluation as the state holds it (nil before any).
func (s State) best() *bestEval {
	if s.BestStep == 0 { // an evaluation comes after a step; its loss may be 0
		return nil
	}
	return &bestEval{s.BestStep, s.BestVal}
}

// checkpoint is everything saved at one step.
type checkpoint struct {
	Config    Config
	Params    *graph.Params
	Tokenizer data.Tokenizer
	Optim     *AdamW
	State     State
	// skipped says why the latest checkpoint was passed over for this one,
	// checkpoint.prev; nil when this is the latest.
	skipped error
}

// saveCheckpoint writes ck into runDir/checkpoint atomically.
func saveCheckpoint(runDir string, ck *checkpoint) error {
	return commitDir(runDir, checkpointDir, prevDir, func(tmp string) error {
		if err := writeModelDir(tmp, ck.Params, ck.Tokenizer); err != nil {
			return err
		}
		if err := writeOptimizer(filepath.Join(tmp, optimFile), ck.Params, ck.Optim); err != nil {
			return err
		}
		job, err := ck.Config.Marshal()
		if err != nil {
			return err
		}
		if err := data.WriteFile(filepath.Join(tmp, jobFile), job); err != nil {
			return err
		}
		state := ck.State
		if state.Files, err = hashFiles(tmp); err != nil {
			return err
		}
		return writeState(filepath.Join(tmp, stateFile), state)
	})
}

// writeOptimizer saves the AdamW moments of p as m.NAME and v.NAME.
func writeOptimizer(path string, p *graph.Params, o *AdamW) error {
	var ts []data.Tensor
	for i, w := range p.List {
		ts = append(ts, data.F32Tensor("m."+w.Name, w.Shape, o.M[i]), data.F32Tensor("v."+w.Name, w.Shape, o.V[i]))
	}
	return data.WriteSafetensors(path, ts, nil)
}

// readOptimizer loads moments saved by writeOptimizer into o.
func readOptimizer(path string, p *graph.Params, o *AdamW) error {
	st, closeFile, err := data.OpenSafetensors(path)
	if err != nil {
		return err
	}
	defer closeFile()
	for i, w := range p.List {
		for _, mv := range []struct {
			key string
			dst []float32
		}{{"m." + w.Name, o.M[i]}, {"v." + w.Name, o.V[i]}} {
			t, ok := st.Tensors[mv.key]
			if !ok {
				return fmt.Errorf("%s: optimizer state %q is missing", path, mv.key)
			}
			if err := t.Float32Into(mv.dst); err != nil {
				return fmt.Errorf("%s: optimizer state %q does not fit the model", path, mv.key)
			}
		}
	}
	return nil
}

// writeModelDir writes a Hugging Face style model directory: config.json,
// model.safetensors and the tokenizer (a BPE, GPT-2's or GPT-1's, under both
// OpenAI's and Hugging Face's file names).
func writeModelDir(dir string, p *graph.Params, tok data.Tokenizer) error {
	eot := -1
	if tok != nil {
		eot = tok.EOT()
	}
	if err := WriteHFConfig(filepath.Join(dir, "config.json"), p.Config, eot); err != nil {
		return err
	}
	if err := SaveWeights(p, filepath.Join(dir, modelFile), map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	return saveTokenizer(dir, tok, p.Config.NCtx)
}

// hfSaver is a tokenizer (the BPEs) that also writes itself under Hugging
// Face's file names, for a model's context of maxLen.
type hfSaver interface {
	SaveHF(dir string, maxLen int) error
}

// loadCheckpoint reads the latest good checkpoint of a run directory,
// falling back to the previous one when the latest is missing or damaged.
func loadCheckpoint(runDir string) (*checkpoint, string, error) {
	ck, dir, skipped, err := latestCheckpoint(runDir, readCheckpoint)
	if err != nil {
		return nil, "", err
	}
	ck.skipped = skipped
	return ck, dir, nil
}

// latestCheckpoint reads the latest good checkpoint of runDir with read:
// checkpoint/, or checkpoint.prev/ when that is missing or damaged, with
// skipped saying why; an error joining both reasons when neither reads.
//
// A damaged checkpoint/ passed over is moved to checkpoint.rejected/: left
// in place, the resumed run's next checkpoint would rotate it into
// checkpoint.prev/ in place of the good one it resumed from.
func latestCheckpoint[T any](runDir string, read func(dir string) (T, error)) (ck T, dir string, skipped, err error) {
	var errs []error
	for _, name := range []string{checkpointDir, prevDir} {
		dir := filepath.Join(runDir, name)
		if _, err := os.Lstat(dir); name == checkpointDir && errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, errInterruptedCommit) // between commitDir's renames
			continue
		}
		ck, err := read(dir)
		if err == nil {
			if len(errs) > 0 {
				skipped = errs[0]
				moved, err := setAside(runDir)
				if err != nil {
					return ck, "", nil, fmt.Errorf("resume %s: %w", runDir, err)
				}
				if moved {
					skipped = fmt.Errorf("%w; moved to %s", skipped, rejectedDir)
				}
			}
			return ck, dir, skipped, nil
		}
		errs = append(errs, err)
	}
	return ck, "", nil, fmt.Errorf("resume %s: no usable checkpoint: %w", runDir, errors.Join(errs...))
}

// errInterruptedCommit is why a resume takes checkpoint.prev where there
// is no checkpoint/: a kill between commitDir's renames leaves none.
var errInterruptedCommit = errors.New("no checkpoint/ (a checkpoint write was interrupted)")

// setAside moves a damaged runDir/checkpoint to runDir/checkpoint.rejected
// (replacing an earlier one), where it stays for a look, and reports
// whether it did; nothing when there is none (a kill between a commit's
// renames leaves only checkpoint.prev).
func setAside(runDir string) (bool, error) {
	cur, to := filepath.Join(runDir, checkpointDir), filepath.Join(runDir, rejectedDir)
	if _, err := os.Lstat(cur); err != nil {
		return false, nil
	}
	if err := os.RemoveAll(to); err != nil {
		return false, err
	}
	if err := os.Rename(cur, to); err != nil {
		return false, err
	}
	return true, data.SyncDir(runDir)
}

// hasBest reports whether runDir holds best/ (a summary names it only
// then: the write of the first one can fail).
func hasBest(runDir string) bool {
	fi, err := os.Stat(filepath.Join(runDir, bestDir))
	return err == nil && fi.IsDir()
}

// hasCheckpoint reports whether runDir holds a checkpoint, good or damaged.
// A run killed before its first checkpoint holds only its job config.
func hasCheckpoint(runDir string) bool {
	for _, name := range []string{checkpointDir, prevDir} {
		if _, err := os.Stat(filepath.Join(runDir, name)); err == nil {
			return true
		}
	}
	return false
}

// IsRunDir reports whether dir is a gptctl run directory: it holds the job
// file of a pretrain or a finetune.
func IsRunDir(dir string) bool {
	for _, name := range []string{jobFile, finetuneJobFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// HeldRun names what makes runDir hold a run that a new run would write
// over: a checkpoint, best/, or the summary of a run that did not fail
// (endedStatus: a session killed as it ran holds nothing by its summary);
// "" when there is none: an empty directory, or one whose run left nothing
// to continue from or keep (it failed, or was killed, before its first
// checkpoint), which a new run, with a config fixed, may take.
func HeldRun(runDir string) string {
	for _, name := range []string{checkpointDir, prevDir, bestDir} {
		if _, err := os.Stat(filepath.Join(runDir, name)); err == nil {
			return name
		}
	}
	if status := endedStatus(runDir); status != "" && status != "failed" {
		return summaryFile
	}
	return ""
}

// fallbackNote is the note on the resume line when the latest checkpoint
// was rejected for checkpoint.prev, or missing: why, on one line.
func fallbackNote(skipped error) string {
	if skipped == nil {
		return ""
	}
	if errors.Is(skipped, errInterruptedCommit) {
		return " (" + skipped.Error() + ")"
	}
	return " (the latest checkpoint was rejected: " + strings.ReplaceAll(skipped.Error(), "\n", "; ") + ")"
}

func readCheckpoint(dir string) (*checkpoint, error) {
	var state State
	if err := readState(dir, &state); err != nil {
		return nil, err
	}
	if err := verifyFiles(dir, state.Files); err != nil {
		return nil, err
	}
	cfg, err := Load(filepath.Join(dir, jobFile), nil)
	if err != nil {
		return nil, err
	}
	p, tok, err := LoadModel(dir)
	if err != nil {
		return nil, err
	}
	cfg.Config = p.Config
	ck := &checkpoint{Config: cfg, Params: p, Tokenizer: tok, State: state}
	ck.Optim = cfg.newAdamW(p)
	ck.Optim.Step = ck.State.AdamStep
	if err := readOptimizer(filepath.Join(dir, optimFile), p, ck.Optim); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return ck, nil
}
