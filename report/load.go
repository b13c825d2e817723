package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MetricsFile is the file LoadRun reads from a run directory.
const MetricsFile = "metrics.jsonl"

// NotRunError is a directory or file LoadRun cannot read as a run: no
// metrics file, or one that is not one, or a run with no logged steps yet.
// Other errors are the file system's.
type NotRunError struct {
	Path   string // the directory or file named
	Reason string // what it lacks, and the fix
	// Run is a run with no logged steps yet (one that has just started, or
	// that stopped or failed before its first logged step): its name and
	// status, for the table of a report beside other runs; nil for what is
	// not a run.
	Run *Run
}

// runFiles are the files that make a directory without logged steps a
// run: its summary, or train's job config of a pretrain or a finetune.
var runFiles = []string{SummaryFile, "train.yaml", "finetune.yaml"}

// notLogged is the NotRunError of dir, where no step is logged (its
// metrics file is missing or holds none): a run with no logged steps yet
// where dir holds one of runFiles, else err.
func notLogged(dir string, err *NotRunError) *NotRunError {
	for _, f := range runFiles {
		if fi, serr := os.Stat(filepath.Join(dir, f)); serr == nil && !fi.IsDir() {
			run := &Run{Name: runName(dir), Dir: dir, Series: map[string][]Point{}, Status: runStatus(dir), Notes: []string{"no logged steps yet"}}
			return &NotRunError{err.Path, "it is a run with no logged steps yet (its status: " + run.Status + ")", run}
		}
	}
	return err
}

// runName is the base name of the run directory dir.
func runName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return filepath.Base(abs)
	}
	return filepath.Base(filepath.Clean(dir))
}

func (e *NotRunError) Error() string { return "report: " + e.Path + ": " + e.Reason }

// LoadRun reads dir/metrics.jsonl: one JSON object per line with an integer
// "step" and any numeric metrics ("train_loss", "val_loss", "lr", ...),
// and the run's status from dir/summary.json. A null value is a missing
// one; other non-numeric values are dropped, and steps that repeat or go
// back are put in order, each with a note in Run.Notes. dir may also name
// the file itself; one named otherwise than metrics.jsonl (a copy, say
// m1.jsonl) is a run of its own, named after the file, its status unknown.
func LoadRun(dir string) (*Run, error) {
	path, file := filepath.Join(dir, MetricsFile), ""
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		path, dir = dir, filepath.Dir(dir)
		if filepath.Base(path) != MetricsFile {
			file = path // a metrics file under a name of its own: a run apart from its directory's
		}
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, &NotRunError{Path: dir, Reason: "no such directory (pass a run directory or its metrics file)"}
		}
		return nil, notLogged(dir, &NotRunError{Path: dir, Reason: "it has no " + MetricsFile + " (pass a run directory or its metrics file)"})
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	l := &loader{run: &Run{Name: runName(dir), Dir: dir, Series: map[string][]Point{}}, steps: map[int64]int{}, odd: map[string]*lineNote{}}
	if err := l.read(path, raw); err != nil {
		var nr *NotRunError
		if errors.As(err, &nr) && nr.Reason == noRecords && filepath.Base(path) == MetricsFile {
			return nil, notLogged(dir, nr)
		}
		return nil, err
	}
	run := l.run
	for k, s := range run.Series {
		sort.SliceStable(s, func(i, j int) bool { return s[i].Step < s[j].Step })
		run.Series[k] = lastPerStep(s)
	}
	run.Notes = l.notes()
	run.Status = runStatus(dir)
	if file != "" {
		run.Name = strings.TrimSuffix(filepath.Base(file), ".jsonl")
		run.Dir = file
		run.Status = "unknown: a metrics file apart from its run (" + SummaryFile + " is a run directory's)"
	}
	return run, nil
}

// read adds each line of the metrics file at path, whose content is raw.
func (l *loader) read(path string, raw []byte) error {
	lines := bytes.Split(raw, []byte("\n"))
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		err := l.addLine(line, i+1)
		var syntax *notObjectError
		switch {
		case err == nil:
		case errors.As(err, &syntax) && l.run.Records == 0 && !(i == len(lines)-1 && line[0] == '{'):
			// A first line that is not JSON: a config or another file.
			return &NotRunError{Path: path, Reason: fmt.Sprintf("it is not a %s file, which holds one JSON object per line, such as {\"step\": 10, \"train_loss\": 2.5} (line %d: %v)", MetricsFile, i+1, err)}
		case errors.As(err, &syntax) && i == len(lines)-1 && line[0] == '{':
			l.run.Truncated = true // a torn last line: a run killed as it wrote it
		default:
			return &NotRunError{Path: path, Reason: fmt.Sprintf("line %d: %v", i+1, err)}
		}
	}
	if l.run.Records == 0 {
		return &NotRunError{Path: path, Reason: noRecords}
	}
	return nil
}

// noRecords is the reason of a metrics file without a record.
const noRecords = "it has no metrics records (a run that has just started has none yet, nor one that stopped or failed before its first logged step)"

// notObjectError is a line that is not one whole JSON object.
type notObjectError struct{ msg string }

func (e *notObjectError) Error() string { return e.msg }

// loader is the state of one LoadRun: the run so far, and what to note.
type loader struct {
	run     *Run
	steps   map[int64]int // the first line of each step
	maxStep int64
	odd     map[string]*lineNote // non-numeric values, by key
	repeats lineNote             // lines that repeat an earlier line's step
	backs   lineNote             // lines whose step is before an earlier line's
}

// lineNote counts the lines of one kind and keeps the first one's note.
type lineNote struct {
	line, n int
	what    string
}

func (n *lineNote) add(line int, what func() string) {
	if n.n == 0 {
		n.line, n.what = line, what()
	}
	n.n++
}

// addLine adds the metrics of line, the file's line number no, to the run:
// all of its values or, on an error, none (its skipped mark and notes may
// be counted by then; the caller refuses the whole file on such an error).
func (l *loader) addLine(line []byte, no int) error {
	rec, step, err := decodeRecord(line)
	if err != nil {
		return err
	}
	values, err := l.recordValues(rec, no)
	if err != nil {
		return err
	}
	l.addStep(step, no)
	for k, x := range values {
		l.run.Series[k] = append(l.run.Series[k], Point{step, x})
	}
	l.run.Records++
	return nil
}

// decodeRecord decodes line as one JSON object (numbers kept as written)
// with an integer "step", and returns it and its step.
func decodeRecord(line []byte) (map[string]any, int64, error) {
	if line[0] != '{' {
		return nil, 0, &notObjectError{fmt.Sprintf("it reads %s, not a JSON object", quoteStart(line))}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return nil, 0, &notObjectError{"not a whole JSON object: " + err.Error()}
	}
	if dec.More() {
		return nil, 0, errors.New("more than one JSON value on the line")
	}
	num, ok := rec["step"].(json.Number)
	if !ok {
		return nil, 0, errors.New(`no numeric "step"`)
	}
	f, err := num.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, 0, fmt.Errorf("step %s is not an integer", num)
	}
	return rec, int64(f), nil
}

// recordValues returns the numeric values of rec, the record of line no,
// but its step. It counts a step gptctl marked skipped, passes over nulls
// and notes the keys whose values are not numbers.
func (l *loader) recordValues(rec map[string]any, no int) (map[string]float64, error) {
	values := map[string]float64{}
	for k, v := range rec {
		if k == "step" || v == nil { // null: no value
			continue
		}
		if skipped, ok := v.(bool); ok && k == "skipped" { // gptctl's mark of a step skipped for a non-finite loss
			if skipped {
				l.run.Skipped++
			}
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			if l.odd[k] == nil {
				l.odd[k] = &lineNote{}
			}
			l.odd[k].add(no, func() string { b, _ := json.Marshal(v); return cut(string(b)) })
			continue
		}
		x, err := n.Float64()
		if err != nil { // only a range error: the decoder has checked the syntax
			return nil, fmt.Errorf("%q is %s, out of range for a number (the largest is about 1.8e308)", k, n)
		}
		values[k] = x
	}
	return values, nil
}

// addStep notes a line whose step repeats an earlier line's or comes
// before it.
func (l *loader) addStep(step int64, no int) {
	if first, ok := l.steps[step]; ok {
		l.repeats.add(no, func() string { return fmt.Sprintf("line %d repeats step %d of line %d", no, step, first) })
	} else {
		l.steps[step] = no
		if l.run.Records > 0 && step < l.maxStep {
			l.backs.add(no, func() string { return fmt.Sprintf("line %d goes back to step %d after step %d", no, step, l.maxStep) })
		}
	}
	if l.run.Records == 0 || step > l.maxStep {
		l.maxStep = step
	}
}

// notes are the run's notes, in line order: the keys whose values were
// not numbers, the steps out of order.
func (l *loader) notes() []string {
	type note struct {
		line int
		text string
	}
	var all []note
	for k, n := range l.odd {
		text := fmt.Sprintf("%q is not a number on line %d (%s): not drawn", k, n.line, n.what)
		if n.n > 1 {
			text = fmt.Sprintf("%q is not a number on %d lines, the first line %d (%s): not drawn", k, n.n, n.line, n.what)
		}
		all = append(all, note{n.line, text})
	}
	if n := l.backs; n.n > 0 {
		all = append(all, note{n.line, n.what + more(n.n) + ": the curves are drawn in step order"})
	}
	if n := l.repeats; n.n > 0 {
		all = append(all, note{n.line, n.what + more(n.n) + ": where a metric has two values at a step, its last line's is drawn"})
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].line < all[j].line || all[i].line == all[j].line && all[i].text < all[j].text
	})
	out := make([]string, len(all))
	for i, n := range all {
		out[i] = n.text
	}
	return out
}

// more is " (N lines in all)" for n > 1 lines, else "".
func more(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" (%d lines in all)", n)
}

// lastPerStep keeps, of the points of a sorted series at one step, the
// last: the value of the step's last line.
func lastPerStep(s []Point) []Point {
	out := s[:0]
	for i, p := range s {
		if i+1 < len(s) && s[i+1].Step == p.Step {
			continue
		}
		out = append(out, p)
	}
	return out
}

// quoteStart quotes b, cut to its first 40 characters.
func quoteStart(b []byte) string { return strconv.Quote(cut(string(b))) }

// cut cuts s to its first 40 characters, marking the cut.
func cut(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "..."
	}
	return s
}
