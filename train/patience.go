package train

import (
	"fmt"
	"io"
)

// patienceState is what early stopping (the patience key) keeps in a run's
// checkpoint, a pretrain's or a finetune's.
type patienceState struct {
	// SinceBest counts the evaluations since the best one (DIR/best).
	SinceBest int `json:"evals_since_best,omitempty"`
	// StoppedEarly says why the run stopped before its last step; "" when
	// it did not.
	StoppedEarly string `json:"stopped_early,omitempty"`
}

// evaluated counts an evaluation after step (improved: it set a new best,
// kept from step bestStep on) and sets StoppedEarly when the run stops there:
// patience evaluations in a row (0 = never) without a better metric, before
// the run's last step.
func (s *patienceState) evaluated(improved bool, patience, step, last, bestStep int, metric string) {
	if improved {
		s.SinceBest = 0
		return
	}
	s.SinceBest++
	if patience == 0 || s.SinceBest < patience || step >= last {
		return
	}
	evaluations := "evaluations"
	if s.SinceBest == 1 {
		evaluations = "evaluation"
	}
	s.StoppedEarly = fmt.Sprintf("no better %s in %d %s after step %d (patience %d)", metric, s.SinceBest, evaluations, bestStep, patience)
}

// resumed settles the early stop of a run resumed with patience: true when
// the run stays stopped (patience is what stopped it, or less), which log
// says; a run resumed with more patience, or none, goes on.
func (s *patienceState) resumed(log io.Writer, dir string, step, patience int) bool {
	if s.StoppedEarly == "" {
		return false
	}
	if patience > 0 && s.SinceBest >= patience {
		fmt.Fprintf(log, "%s stopped early at step %d, %s: nothing to do (--set patience=N with N above %d, or 0, goes on)\n", dir, step, s.StoppedEarly, s.SinceBest)
		return true
	}
	fmt.Fprintf(log, "%s stopped early at step %d (%s); with patience %d it goes on\n", dir, step, s.StoppedEarly, patience)
	s.StoppedEarly = ""
	return false
}

// stopped reports whether the evaluation after step stopped the run for its
// patience, which log then says.
func (s *patienceState) stopped(log io.Writer, step int) bool {
	if s.StoppedEarly == "" {
		return false
	}
	fmt.Fprintf(log, "stopping early at step %d: %s\n", step, s.StoppedEarly)
	return true
}
