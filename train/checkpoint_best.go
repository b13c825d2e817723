package train

// best/: the model with the best validation metric so far, and its
// record, best.json.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// bestRecord is best/best.json: the evaluation best/ was kept for, the
// validation data it was made on, and the checksums of its files.
type bestRecord struct {
	Step   int               `json:"step"`
	Metric string            `json:"metric"` // val_loss, or a finetune's metric
	Value  float64           `json:"value"`
	Val    *dataSum          `json:"val,omitempty"` // absent in records of builds before it was kept
	Files  map[string]string `json:"files"`
}

// dataSum identifies the validation data of an evaluation by its content:
// its size (a pretrain's tokens, a finetune's examples) and a hash of it,
// as a checkpoint's data position and task data fingerprint it.
type dataSum struct {
	Size int64  `json:"size"`
	Sum  string `json:"sum"`
}

// sealBest writes best.json into dir, a best/ being written, once its
// other files are there: the evaluation of step, value of metric, made
// on the validation data val.
func sealBest(dir string, step int, metric string, value float64, val dataSum) error {
	files, err := hashFiles(dir)
	if err != nil {
		return err
	}
	return writeState(filepath.Join(dir, bestFile), bestRecord{Step: step, Metric: metric, Value: value, Val: &val, Files: files})
}

// valChange says how val, the validation data of a job resumed without a
// checkpoint, differs from the data its best/, of record rec, was
// evaluated on, in units (tokens, examples): "" where they are the same,
// or rec, of a build before records held it, does not say.
func valChange(rec *bestRecord, val dataSum, units string) string {
	switch was := rec.Val; {
	case was == nil || *was == val:
		return ""
	case was.Size != val.Size:
		return fmt.Sprintf("it was evaluated on %d validation %s, and this job has %d", was.Size, units, val.Size)
	}
	return fmt.Sprintf("it was evaluated on other validation data than this job's (%d %s as now, whose content differs: edited since)", val.Size, units)
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

// bestEval is an evaluation kept in best/: its step and value.
type bestEval struct {
	Step  int
	Value float64
}

// reconcileBest compares what best/ holds with a resumed run's best
// evaluation, step and value of metric as its checkpoint recorded them
// (step 0: none), and returns the evaluation best/ holds beyond them (nil
// when none) with a note for the log ("" when nothing differs). best/ is
// written at each evaluation that improves, not with the checkpoint, so a
// session stopped past its checkpoint can have left a better model there
// than the checkpoint knows: it stays the best (see settleBest). A damaged
// best/ is no best: the checkpoint's is forgotten too, and the next
// evaluation replaces it.
func reconcileBest(runDir, metric string, step *int, value *float64) (*bestEval, string) {
	rec, err := readBest(runDir)
	switch {
	case err != nil:
		*step, *value = 0, 0
		return nil, fmt.Sprintf("%v: the next evaluation replaces it", err)
	case rec == nil || rec.Metric != metric || rec.Step == *step:
		return nil, ""
	case rec.Step < *step: // put back by hand, say: the checkpoint's best is the later
		return nil, fmt.Sprintf("%s holds the model of step %d, older than the best evaluation the checkpoint recorded (step %d): the next better evaluation replaces it",
			filepath.Join(runDir, bestDir), rec.Step, *step)
	}
	was := "no best evaluation yet"
	if *step > 0 {
		was = fmt.Sprintf("step %d's", *step)
	}
	return &bestEval{rec.Step, rec.Value}, fmt.Sprintf("%s holds the model of step %d (%s %.6g), kept by an evaluation after the checkpoint, which recorded %s: it stays the best until an evaluation beats it",
		filepath.Join(runDir, bestDir), rec.Step, metric, rec.Value, was)
}

// settleBest judges an evaluation of value v after step against the run's
// best so far, b (nil: none), and kept, what best/ holds beyond it (nil:
// nothing; see reconcileBest). A resumed run trains the steps up to kept's
// again, and their evaluations count for patience as they did before it
// stopped, against the checkpoint's best; but best/ takes none of their
// models unless one beats kept's. The evaluation of kept's own step, made
// again, improved on the run's best when it was first made: it counts so
// again, and kept, whose model best/ holds, becomes the run's best (unless
// this evaluation beats it: a GPU's replay is not bit for bit). Past kept's
// step (an eval_interval that never makes it again), kept joins the run's
// best where it is better (rejoined: patience counts from it). better(v,
// than) says whether v is the better value. It returns the run's best and
// kept after the evaluation, whether the evaluation improved on the best
// (for patience) and whether best/ takes its model (save).
func settleBest(step int, v float64, b, kept *bestEval, better func(v, than float64) bool) (nb, nkept *bestEval, improved, rejoined, save bool) {
	if kept != nil && step >= kept.Step {
		if b == nil || better(kept.Value, b.Value) {
			if step == kept.Step {
				if better(v, kept.Value) {
					return &bestEval{step, v}, nil, true, false, true
				}
				return kept, nil, true, false, false
			}
			b, rejoined = kept, true
		}
		kept = nil
	}
	if b != nil && !better(v, b.Value) {
		return b, kept, false, rejoined, false
	}
	save = kept == nil || better(v, kept.Value)
	if save {
		kept = nil
	}
	return &bestEval{step, v}, kept, true, rejoined, save
}

// rejoined makes patience count from what best/ held beyond the
// checkpoint where settleBest says it joined the run's best.
func (s *patienceState) rejoined(rejoined bool) {
	if rejoined {
		s.SinceBest = 0
	}
}

// shownBest is the best evaluation a run reports, b or what best/ holds
// beyond it, kept.
func shownBest(b, kept *bestEval, better func(v, than float64) bool) *bestEval {
	if kept != nil && (b == nil || !better(b.Value, kept.Value)) {
		return kept
	}
	return b
}
