package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// SummaryFile is the file a run writes when it ends, saying how.
const SummaryFile = "summary.json"

// runStatus says how the run in dir ended, from its summary.json (which
// train writes when a session starts, status running, and when it
// completes, is interrupted or fails): the status, with the reason of an
// interrupted or failed run. A running session may have been killed
// (SIGKILL, out of memory) before it could write its end: it is said to be
// running, or killed, with the step it started at and how the session
// before it ended. A run without a summary.json has not started one.
func runStatus(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "no " + SummaryFile + ": running, or killed"
	}
	if err != nil {
		return "unknown: " + err.Error()
	}
	var s outcome
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch err := json.Unmarshal(raw, &s); {
	case errors.As(err, &syntax) && strings.Contains(err.Error(), "unexpected end"):
		return fmt.Sprintf("unknown: %s is cut short (%v)", SummaryFile, err)
	case errors.As(err, &syntax):
		return fmt.Sprintf("unknown: %s is not valid JSON (%v)", SummaryFile, err)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("unknown: %s holds a JSON %s, not an object", SummaryFile, typ.Value)
	case errors.As(err, &typ):
		want := "number"
		if typ.Type.Kind() == reflect.String {
			want = "string"
		}
		return fmt.Sprintf("unknown: %s: %s is a JSON %s, not a %s", SummaryFile, typ.Field, typ.Value, want)
	case err != nil:
		return fmt.Sprintf("unknown: %s: %v", SummaryFile, err)
	}
	if s.Status == "" {
		return "unknown: " + SummaryFile + " has no status"
	}
	if s.Status == "running" {
		status := "running, or killed: " + s.started()
		if p := s.Previous; p != nil && p.Status != "" {
			status += " after: " + p.text()
		}
		return status
	}
	return s.text()
}

// outcome is what runStatus reads of a summary.json.
type outcome struct {
	Status       string   `json:"status"`
	Interruption string   `json:"interruption"`
	Error        string   `json:"error"`
	StoppedEarly string   `json:"stopped_early"`
	Step         int64    `json:"step"`
	Previous     *outcome `json:"previous"` // a running session's: how the one before it ended
}

// started says where a running session started.
func (s *outcome) started() string {
	if s.Step == 0 {
		return "started at step 0"
	}
	return fmt.Sprintf("resumed at step %d", s.Step)
}

// text is the status of a session that ended, with its reason; a running
// one (a previous) was killed.
func (s *outcome) text() string {
	status := s.Status
	switch {
	case s.Status == "running":
		status = "killed, after it " + s.started()
	case s.Status == "interrupted" && s.Interruption != "":
		status += " (" + s.Interruption + ")"
	case s.Status == "failed" && s.Error != "":
		status += ": " + s.Error
	case s.Status == "completed" && s.StoppedEarly != "":
		status += ", stopped early: " + s.StoppedEarly
	}
	return status
}
