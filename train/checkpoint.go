package train

// Checkpoints. A run directory holds:
//
//	train.yaml      the job config
//	metrics.jsonl   one JSON object per logged step
//	summary.json    written when the run ends
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
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// summary of a later session that stops before it measures them. 0 is
	// not measured yet.
	ValLoss   float64 `json:"val_loss,omitempty"`
	TrainLoss float64 `json:"train_loss,omitempty"`
	Elapsed   float64 `json:"elapsed_seconds"`
	LRScale   float64 `json:"lr_scale,omitempty"` // lowered by skipped non-finite steps; 0 means 1
	Skipped   int     `json:"skipped_steps,omitempty"`
	// EvalDue is the metrics line of the last step when a signal stopped
	// its evaluation: a resume evaluates first and writes the line.
	EvalDue metrics `json:"eval_due,omitempty"`
	// Logged is the step of the last metrics line written before the
	// checkpoint (0 in checkpoints written before it was recorded).
	Logged int `json:"logged_step,omitempty"`
	// Files maps every other file of the checkpoint to its SHA-256, checked
	// before the checkpoint is used.
	Files map[string]string `json:"files"`
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

// commitDir atomically replaces runDir/name with the directory fill writes
// into a temporary path. The replaced directory becomes runDir/prev, or is
// removed when prev is "" (it is runDir/.name.old between the two renames;
// recoverDir puts it back if a kill comes in between). The prev it replaces
// is renamed to .prev.old and removed last, so that a kill never leaves it
// half-deleted (recoverDir puts it back if a kill leaves no prev).
func commitDir(runDir, name, prev string, fill func(tmp string) error) error {
	tmp := filepath.Join(runDir, "."+name+".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		// Free the space a half-written checkpoint holds (a full disk is
		// the usual cause); the current one stays as it was.
		os.RemoveAll(tmp)
		return fmt.Errorf("%w; %s is kept as it was", err, filepath.Join(runDir, name))
	}
	cur, old := filepath.Join(runDir, name), filepath.Join(runDir, "."+name+".old")
	if _, err := os.Stat(cur); err == nil {
		if prev != "" {
			to := filepath.Join(runDir, prev)
			old = filepath.Join(runDir, "."+prev+".old")
			if err := os.RemoveAll(old); err != nil {
				return err
			}
			if err := os.Rename(to, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.Rename(cur, to); err != nil {
				return err
			}
		} else if err := os.Rename(cur, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	os.RemoveAll(old)
	return data.SyncDir(runDir)
}

// recoverDir undoes a swap of runDir/name (best/, or checkpoint.prev/)
// that a kill interrupted between commitDir's renames: the replaced copy,
// .name.old, becomes name again (the new copy in .name.tmp may be
// incomplete). A .name.old left beside name (a kill before commitDir
// removed it) is removed.
func recoverDir(runDir, name string) error {
	cur, old := filepath.Join(runDir, name), filepath.Join(runDir, "."+name+".old")
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	if _, err := os.Stat(cur); err == nil {
		return os.RemoveAll(old)
	}
	if err := os.Rename(old, cur); err != nil {
		return err
	}
	return data.SyncDir(runDir)
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
	st, err := data.ReadSafetensors(path)
	if err != nil {
		return err
	}
	for i, w := range p.List {
		for _, mv := range []struct {
			key string
			dst []float32
		}{{"m." + w.Name, o.M[i]}, {"v." + w.Name, o.V[i]}} {
			t, ok := st.Tensors[mv.key]
			if !ok {
				return fmt.Errorf("%s: optimizer state %q is missing", path, mv.key)
			}
			f, err := t.Float32()
			if err != nil || len(f) != len(mv.dst) {
				return fmt.Errorf("%s: optimizer state %q does not fit the model", path, mv.key)
			}
			copy(mv.dst, f)
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

// heldRun names what makes runDir hold a run that a new run would write
// over: a checkpoint, best/, or the summary of a run that did not fail; ""
// when there is none: an empty directory, or one whose run left nothing to
// continue from or keep (it failed, or was killed, before its first
// checkpoint), which a new run, with a config fixed, may take.
func heldRun(runDir string) string {
	for _, name := range []string{checkpointDir, prevDir, bestDir} {
		if _, err := os.Stat(filepath.Join(runDir, name)); err == nil {
			return name
		}
	}
	if status, _ := readSummary(runDir, nil); status != "" && status != "failed" {
		return summaryFile
	}
	return ""
}

// fallbackNote is the note on the resume line when the latest checkpoint
// was rejected for checkpoint.prev: why, on one line.
func fallbackNote(skipped error) string {
	if skipped == nil {
		return ""
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
	ck.Optim = NewAdamW(p, float32(cfg.Beta1), float32(cfg.Beta2), float32(cfg.Eps), float32(cfg.WeightDecay))
	ck.Optim.Step = ck.State.AdamStep
	if err := readOptimizer(filepath.Join(dir, optimFile), p, ck.Optim); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return ck, nil
}

// hashFiles returns the SHA-256 of every regular file in dir.
func hashFiles(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == stateFile || e.Name() == bestFile {
			continue
		}
		h, err := hashFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = h
	}
	return out, nil
}

// verifyFiles checks the files of a checkpoint against their recorded hashes.
func verifyFiles(dir string, files map[string]string) error {
	if len(files) == 0 {
		return fmt.Errorf("checkpoint %s: no file checksums recorded (state.json, or best.json in best/)", dir)
	}
	for name, want := range files {
		got, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		if got != want {
			return fmt.Errorf("checkpoint %s: %s is damaged (checksum mismatch)", dir, name)
		}
	}
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sealKey begins a state.json that writeState sealed: its first key, the
// checksum of the rest.
const sealKey = "{\n  \"checksum\": \""

// writeState writes a checkpoint's state as indented JSON whose first key,
// "checksum", is the SHA-256 of the same JSON without that line: the state
// holds the checksums of the checkpoint's other files, and a bit flipped in
// it (a step of 100 for 120) would otherwise resume from the wrong place.
func writeState(path string, v any) error {
	b, err := jsonIndent(v)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	out := append([]byte(sealKey+hex.EncodeToString(sum[:])+"\",\n"), b[len("{\n"):]...)
	return data.WriteFile(path, out)
}

// readState reads the state.json of the checkpoint in dir into v, checking
// its checksum. One written before states were sealed has none; it is read
// when it decodes with no unknown key (a damaged "checksum" key is one).
func readState(dir string, v any) error {
	path := filepath.Join(dir, stateFile)
	b, sealed, err := sealedJSON(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if !sealed {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// sealedJSON returns the JSON of a file writeState wrote, without its
// checksum line, which it checks, and whether it had one.
func sealedJSON(path string) (b []byte, sealed bool, err error) {
	if b, err = os.ReadFile(path); err != nil {
		return nil, false, fmt.Errorf("checkpoint: %w", err)
	}
	const hexLen, tail = 2 * sha256.Size, "\",\n"
	rest, ok := bytes.CutPrefix(b, []byte(sealKey))
	if !ok || len(rest) <= hexLen+len(tail) || string(rest[hexLen:hexLen+len(tail)]) != tail {
		return b, false, nil
	}
	body := append([]byte("{\n"), rest[hexLen+len(tail):]...)
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != string(rest[:hexLen]) {
		return nil, true, fmt.Errorf("checkpoint %s: %s is damaged (checksum mismatch)", filepath.Dir(path), filepath.Base(path))
	}
	return body, true, nil
}

// bestRecord is best/best.json: the evaluation best/ was kept for, and the
// checksums of its files.
type bestRecord struct {
	Step   int               `json:"step"`
	Metric string            `json:"metric"` // val_loss, or a finetune's metric
	Value  float64           `json:"value"`
	Files  map[string]string `json:"files"`
}

// sealBest writes best.json into dir, a best/ being written, once its
// other files are there.
func sealBest(dir string, step int, metric string, value float64) error {
	files, err := hashFiles(dir)
	if err != nil {
		return err
	}
	return writeState(filepath.Join(dir, bestFile), bestRecord{Step: step, Metric: metric, Value: value, Files: files})
}

// readBest reads runDir/best/best.json and checks best/'s files against
// it; nil and no error when best/ has no record (there is no best/ yet, or
// a build before records wrote it).
func readBest(runDir string) (*bestRecord, error) {
	dir := filepath.Join(runDir, bestDir)
	path := filepath.Join(dir, bestFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	b, sealed, err := sealedJSON(path)
	if err != nil {
		return nil, err
	}
	var rec bestRecord
	if err := json.Unmarshal(b, &rec); err != nil || !sealed {
		return nil, fmt.Errorf("checkpoint %s: %s is damaged (not the record gptctl writes)", dir, bestFile)
	}
	if err := verifyFiles(dir, rec.Files); err != nil {
		return nil, err
	}
	return &rec, nil
}

// reconcileBest makes a resumed run's best evaluation, step and value of
// metric as its checkpoint recorded them, agree with what best/ holds,
// and says what it changed ("" when nothing). best/ is written at each
// evaluation that improves, not with the checkpoint, so a session stopped
// past its checkpoint can have left a better model there than the
// checkpoint knows (which a resume with other intervals would never
// evaluate again): it stays the best. A damaged best/ is no best: the next
// evaluation replaces it. step 0 is no best yet.
func reconcileBest(runDir, metric string, step *int, value *float64) string {
	rec, err := readBest(runDir)
	switch {
	case err != nil:
		*step, *value = 0, 0
		return fmt.Sprintf("%v: the next evaluation replaces it", err)
	case rec == nil || rec.Metric != metric || rec.Step == *step:
		return ""
	}
	was := "no best evaluation yet"
	if *step > 0 {
		was = fmt.Sprintf("step %d's", *step)
	}
	*step, *value = rec.Step, rec.Value
	return fmt.Sprintf("%s holds the model of step %d (%s %.6g), kept by an evaluation after the checkpoint, which recorded %s: it stays the best until an evaluation beats it",
		filepath.Join(runDir, bestDir), rec.Step, metric, rec.Value, was)
}
