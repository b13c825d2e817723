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
// train writes when a run completes, is interrupted or fails): the status,
// with the reason of an interrupted or failed run. A run without one is
// running, or was killed (SIGKILL, out of memory) before it could write
// one; a run whose metrics go past the summary's step was resumed after it.
// lastStep is the last step of its metrics.
func runStatus(dir string, lastStep int64) string {
	raw, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "no " + SummaryFile + ": running, or killed"
	}
	if err != nil {
		return "unknown: " + err.Error()
	}
	var s struct {
		Status       string `json:"status"`
		Interruption string `json:"interruption"`
		Error        string `json:"error"`
		StoppedEarly string `json:"stopped_early"`
		Step         int64  `json:"step"`
	}
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
	status := s.Status
	switch {
	case s.Status == "interrupted" && s.Interruption != "":
		status += " (" + s.Interruption + ")"
	case s.Status == "failed" && s.Error != "":
		status += ": " + s.Error
	case s.Status == "completed" && s.StoppedEarly != "":
		status += ", stopped early: " + s.StoppedEarly
	}
	if lastStep > s.Step {
		return fmt.Sprintf("resumed after step %d, where it was %s: running, or killed", s.Step, status)
	}
	return status
}
