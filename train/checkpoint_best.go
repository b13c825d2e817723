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
