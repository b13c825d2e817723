package train

// metrics.jsonl: one JSON object per logged step, appended, and synced
// before every checkpoint. On resume the lines past the checkpoint's step
// are dropped, so the file has no duplicated or missing steps.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gptctl/data"
	"gptctl/report"
)

type metrics map[string]any

type metricsFile struct {
	f    *os.File
	tb   *report.EventWriter // TensorBoard events beside metrics.jsonl
	last int                 // the step of the file's last line
}

// keptSteps is the last step whose metrics line a run resumed at step keeps:
// step, unless its evaluation is due (a signal stopped it), when the line
// is written again, after it, even if a later session wrote it already
// and was killed before a checkpoint recorded that.
func keptSteps(step int, evalDue metrics) int {
	if evalDue != nil {
		return step - 1
	}
	return step
}

// openMetrics opens path for appending, keeping only lines with step <= keep;
// with keep 0 (a run from step 0) it also removes the directory's event files.
// logged is the step of the last line the checkpoint resumed from had
// synced (0 if it does not say): a file that ends before it was cut or
// damaged, which log is told.
func openMetrics(path string, keep, logged int, log io.Writer) (*metricsFile, error) {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	kept, last, damaged := keptLines(old, keep)
	if damaged > 0 {
		fmt.Fprintf(log, "warning: %s: damaged lines dropped (not metrics lines, before its end): %d\n", path, damaged)
	}
	if keep == 0 {
		kept, last = kept[:0], 0
	}
	if want := min(logged, keep); last < want {
		fmt.Fprintf(log, "warning: %s ends at step %d, but the run had logged up to step %d when it was checkpointed: the lines between were lost (the file was cut, emptied or damaged), and its curves have a gap there\n", path, last, want)
	}
	if err := data.WriteFile(path, kept); err != nil { // atomic: a kill here loses no line
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := trimEventFiles(filepath.Dir(path), keep); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return appendMetrics(path, keep, last)
}

// keptLines returns the lines of old, a metrics file, with step <= keep,
// and the last of their steps; damaged counts the lines dropped that are
// not metrics lines, but for those at its end (a kill's torn last line).
func keptLines(old []byte, keep int) (kept []byte, last, damaged int) {
	var buf bytes.Buffer
	torn := 0
	for line := range bytes.Lines(old) { // of any length: a line past a scanner's limit must not end the copy
		line = bytes.TrimRight(line, "\r\n")
		var m struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(line, &m) != nil || m.Step == nil {
			torn++ // a kill's torn last line, unless a good one follows
			continue
		}
		damaged, torn = damaged+torn, 0
		if *m.Step > keep {
			continue // a step past the checkpoint
		}
		buf.Write(line)
		buf.WriteByte('\n')
		last = max(last, *m.Step)
	}
	return buf.Bytes(), last, damaged
}

// appendMetrics opens the metrics file at path, cut back to step keep and
// ending at step last, for appending, and the TensorBoard event file beside
// it; a resume (keep > 0) marks there where its session starts.
func appendMetrics(path string, keep, last int) (*metricsFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	tb, err := report.NewEventWriter(filepath.Dir(path))
	if err == nil && keep > 0 {
		err = tb.WriteSessionStart(int64(keep+1), time.Now())
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &metricsFile{f: f, tb: tb, last: last}, nil
}

// trimEventFiles cuts the TensorBoard event files gptctl wrote into dir
// back to step keep, as metrics.jsonl is: a run from step 0 removes them
// (the curves of a killed earlier start), a resume drops the events of a
// killed session past its checkpoint. Other writers' files are left alone.
func trimEventFiles(dir string, keep int) error {
	files, err := data.FilesIn(dir, report.IsOwnEventFile)
	if err != nil {
		return err
	}
	for _, f := range files {
		if keep == 0 {
			err = os.Remove(f)
		} else {
			err = report.TrimEvents(f, int64(keep))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (m *metricsFile) write(v metrics) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	m.last = v["step"].(int)
	scalars := map[string]float64{}
	for k, x := range v {
		if f, ok := x.(float64); ok && k != "step" {
			scalars[k] = f
		}
	}
	if err := m.tb.WriteScalars(int64(v["step"].(int)), time.Now(), scalars); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return m.tb.Flush()
}

// sync makes the lines written so far durable: a checkpoint calls it
// first, so that after a crash the file holds every step up to the
// checkpoint a resume starts from (the later ones it drops anyway).
func (m *metricsFile) sync() error {
	if m == nil { // a run that failed before opening it
		return nil
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// logged is the step of the last line, 0 before any (or with no file).
func (m *metricsFile) logged() int {
	if m == nil {
		return 0
	}
	return m.last
}

func (m *metricsFile) close() {
	m.f.Sync()
	m.f.Close()
	m.tb.Close()
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}
