package train

// Progress output: a live line redrawn in place on a terminal, plain log
// lines in a batch job.

import (
	"fmt"
	"io"
	"math"
	"time"
)

type progress struct {
	w        io.Writer
	terminal bool
	start    time.Time
	drawn    bool
	// The first step logged and when: the pace of the steps since gives
	// the time left.
	first   int
	firstAt time.Time
}

func newProgress(w io.Writer, terminal bool) *progress {
	return &progress{w: w, terminal: terminal, start: time.Now()}
}

func (p *progress) log(m metrics, maxSteps int) {
	step := m["step"].(int)
	line := fmt.Sprintf("step %d/%d  train_loss %.4f  lr %.2e  %.0f tok/s", step, maxSteps,
		m["train_loss"], m["lr"], m["tokens_per_s"])
	if _, ok := m["train_loss"]; !ok { // skipped (on_nonfinite: skip), evaluated all the same
		line = fmt.Sprintf("step %d/%d  skipped  lr %.2e", step, maxSteps, m["lr"])
	}
	if v, ok := m["val_loss"]; ok {
		line += fmt.Sprintf("  val_loss %.4f", v)
	}
	if left, ok := p.eta(step, maxSteps); ok {
		line += "  eta " + left.String()
	}
	if !p.terminal {
		fmt.Fprintln(p.w, line)
		return
	}
	if el := time.Since(p.start); step > 0 {
		line += fmt.Sprintf("  elapsed %s", el.Round(time.Second))
	}
	if _, ok := m["val_loss"]; ok {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line) // keep evaluation lines
		p.drawn = false
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.drawn = true
}

// eta estimates the time left at step from the pace of this job's steps
// since the first it logged (evaluations and checkpoints included); false
// before there are any, and at the last step.
func (p *progress) eta(step, maxSteps int) (time.Duration, bool) {
	if p.firstAt.IsZero() {
		p.first, p.firstAt = step, time.Now()
		return 0, false
	}
	done := step - p.first
	if done <= 0 || step >= maxSteps {
		return 0, false
	}
	left := float64(time.Since(p.firstAt)) / float64(done) * float64(maxSteps-step)
	if left >= math.MaxInt64 { // past what a Duration holds: 292 years
		return 0, false
	}
	return time.Duration(left).Round(time.Second), true
}

// text writes lines of text (ending with a newline) below the live line.
func (p *progress) text(s string) {
	if p.terminal && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprint(p.w, s)
}

func (p *progress) done() {
	if p.terminal && p.drawn {
		fmt.Fprintln(p.w)
	}
}
