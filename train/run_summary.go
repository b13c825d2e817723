package train

// A run's summary (summary.json): its outcome, the losses and best model,
// and what every run's summary ends with; filled from the run's state,
// written when a session starts (status running), when it fails or a
// resume finds the run finished, and read back.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"gptctl/data"
)

// Summary is the outcome of a run, also written to DIR/summary.json.
type Summary struct {
	Outcome
	Step        int      `json:"step"`
	MaxSteps    int      `json:"max_steps"`
	TrainLoss   *float64 `json:"train_loss,omitempty"` // the last logged step's; absent before any
	ValLoss     *float64 `json:"val_loss,omitempty"`   // the last evaluation's; absent before any
	BestValLoss *float64 `json:"best_val_loss,omitempty"`
	BestStep    int      `json:"best_step,omitempty"` // the evaluation step of best_val_loss
	Best        string   `json:"best,omitempty"`      // DIR/best: the model at best_step
	TokensSeen  int64    `json:"tokens_seen"`
	RunInfo
}

// RunInfo ends the summary of every run, pretraining or finetuning.
type RunInfo struct {
	TokensPerS  float64 `json:"tokens_per_s,omitempty"` // the last session's; absent when it trained no step
	WallSeconds float64 `json:"wall_seconds"`
	Params      int     `json:"params,omitempty"`     // absent when the job stopped before it had a model (as its data loaded)
	Checkpoint  string  `json:"checkpoint,omitempty"` // absent when the run wrote none
	OutDir      string  `json:"out_dir"`
	Device      string  `json:"device"`
}

// Outcome opens the summary of every run: how it ended, and why when it
// did not complete; or, while a session runs (and after it is killed),
// that it is running, and how the session before it ended.
type Outcome struct {
	Status       string    `json:"status"`                  // running | completed | interrupted | failed
	Interruption string    `json:"interruption,omitempty"`  // why an interrupted run stopped
	Error        string    `json:"error,omitempty"`         // why a failed run stopped
	StoppedEarly string    `json:"stopped_early,omitempty"` // why a completed run stopped before its last step (patience)
	Previous     *Previous `json:"previous,omitempty"`      // a running session's: how the session before it ended
}

// Previous is how the session before a running one ended, as its
// summary.json said: its outcome (without a previous of its own) and step.
// A previous that is running was killed.
type Previous struct {
	Outcome
	Step int `json:"step"`
}

// interrupt records that the run stops before its end, and why.
func (o *Outcome) interrupt(why string) { o.Status, o.Interruption = "interrupted", why }

// fail records that the run failed with err; an interrupted run fails when
// its last checkpoint does.
func (o *Outcome) fail(err error) { o.Status, o.Error = "failed", err.Error() }

// settle sets the status of a run that ended without one set.
func (o *Outcome) settle(status string) {
	if o.Status == "" {
		o.Status = status
	}
}

func (r *run) failed(err error) *Summary {
	r.sum.fail(err)
	r.fillSummary("failed")
	writeFailedSummary(r.opt.OutDir, r.sum, r.opt.Log)
	return r.sum
}

// writeFailedSummary writes sum, the summary of a session that failed, into
// the run directory dir. Where it cannot (the disk may be full), it removes
// the summary.json an earlier session wrote, which would give gptctl report
// and scripts that session's outcome ("interrupted": requeue it), and says
// on log that this session's outcome is the summary on stdout.
func writeFailedSummary(dir string, sum any, log io.Writer) {
	path := filepath.Join(dir, summaryFile)
	err := writeJSON(path, sum)
	if err == nil {
		return
	}
	switch rm := os.Remove(path); {
	case rm == nil:
		fmt.Fprintf(log, "note: %v: the outcome of this session is the summary on stdout (the %s of an earlier session is removed)\n", err, summaryFile)
	case errors.Is(rm, fs.ErrNotExist):
		fmt.Fprintf(log, "note: %v: the outcome of this session is the summary on stdout\n", err)
	default:
		fmt.Fprintf(log, "note: %v, and %v: the outcome of this session is the summary on stdout, not the %s of an earlier session\n", err, rm, summaryFile)
	}
}

// fillSummary copies the run's state into its summary.
func (r *run) fillSummary(status string) {
	r.sum.Step, r.sum.BestValLoss, r.sum.BestStep, r.sum.Best = r.state.Step, nil, 0, ""
	if b := shownBest(r.state.best(), r.kept, lower); b != nil && hasBest(r.opt.OutDir) { // not where writing it failed
		r.sum.BestValLoss, r.sum.BestStep = new(b.Value), b.Step
		r.sum.Best = filepath.Join(r.opt.OutDir, bestDir)
	}
	r.sum.ValLoss, r.sum.TrainLoss = nil, nil
	if r.state.HasValLoss || r.state.ValLoss != 0 {
		r.sum.ValLoss = new(r.state.ValLoss)
	}
	if r.state.HasTrainLoss || r.state.TrainLoss != 0 {
		r.sum.TrainLoss = new(r.state.TrainLoss)
	}
	r.sum.TokensSeen, r.sum.WallSeconds = r.state.TokensSeen, r.state.Elapsed
	r.sum.settle(status)
	r.sum.StoppedEarly = r.state.StoppedEarly
}

// finishedSummary is the outcome of a resume at max_steps, which trains
// and writes nothing: the run's summary.json, or, when a kill came between
// the last checkpoint and the summary, one written from the checkpoint.
func (r *run) finishedSummary() (*Summary, error) {
	var s Summary
	if status, step := readSummary(r.opt.OutDir, &s); status == "completed" && step == r.state.Step {
		return &s, nil
	}
	r.sum.Params = r.params.Count()
	r.fillSummary("completed")
	return r.sum, writeJSON(filepath.Join(r.opt.OutDir, summaryFile), r.sum)
}

// readSummary reads runDir/summary.json into sum (when not nil) and returns
// its status and step; "" when there is none or it does not parse.
func readSummary(runDir string, sum any) (status string, step int) {
	head := summaryHead(runDir, sum)
	if head == nil {
		return "", 0
	}
	return head.Status, head.Step
}

// summaryHead reads runDir/summary.json into sum (when not nil) and returns
// its outcome and step; nil when there is none or it does not parse.
func summaryHead(runDir string, sum any) *Previous {
	b, err := os.ReadFile(filepath.Join(runDir, summaryFile))
	if err != nil {
		return nil
	}
	return parseHead(b, sum)
}

// parseHead is summaryHead of the summary.json b.
func parseHead(b []byte, sum any) *Previous {
	var head Previous
	if json.Unmarshal(b, &head) != nil || sum != nil && json.Unmarshal(b, sum) != nil {
		return nil
	}
	return &head
}

// endedStatus is the status of the last session in runDir that ended and
// said how in its summary.json: a running one's is that of the session
// before it (a running session holds the directory's lock, so one found
// by another job was killed); "" when none did.
func endedStatus(runDir string) string {
	head := summaryHead(runDir, nil)
	if head == nil {
		return ""
	}
	if head.Status == "running" {
		if p := head.Previous; p != nil && p.Status != "running" {
			return p.Status
		}
		return ""
	}
	return head.Status
}

// writeRunning replaces the summary.json in dir, once a session has
// written its job config and before it changes any other file of the run,
// with sum, filled from the state it starts at, with
// status running and, as previous, how the session before it ended, where
// one wrote a summary: an earlier session's outcome would otherwise stand
// for this one's while it runs and after a kill. o is sum's Outcome, put
// back as it was after. undo puts back the summary.json it replaced (none:
// removes it), for a session that ends having changed nothing.
func writeRunning(dir string, o *Outcome, sum any) (undo func(), err error) {
	path := filepath.Join(dir, summaryFile)
	old, oldErr := os.ReadFile(path)
	saved := *o
	*o = Outcome{Status: "running"}
	if oldErr == nil {
		o.Previous = parseHead(old, nil)
	}
	if p := o.Previous; p != nil {
		p.Previous = nil
	}
	err = writeJSON(path, sum)
	*o = saved
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return func() {
		if oldErr == nil {
			data.WriteFile(path, old)
		} else {
			os.Remove(path)
		}
	}, nil
}
