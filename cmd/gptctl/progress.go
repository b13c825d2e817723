package main

import (
	"fmt"
	"io"
	"time"
)

// progressLine reports a long job's progress on stderr: on a terminal one
// line redrawn in place at most five times a second, in a log file a line
// every 10 s; a job shorter than that prints nothing.
type progressLine struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func newProgressLine(w io.Writer) *progressLine {
	return &progressLine{w: w, tty: isTerminal(w), last: time.Now()}
}

// print writes the line unless one was written too recently.
func (p *progressLine) print(format string, args ...any) {
	every := 10 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K"+format, args...)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// done erases a line drawn on a terminal.
func (p *progressLine) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// counter returns a progress callback for done of total things of a kind;
// the last call (done == total) erases the line, so that the job's output
// starts on a clean line.
func (p *progressLine) counter(job, things string) func(done, total int) {
	start := time.Now()
	return func(done, total int) {
		if done >= total {
			p.done()
			return
		}
		el := time.Since(start)
		left := ""
		if done > 0 {
			left = fmt.Sprintf(", %s left", (el * time.Duration(total-done) / time.Duration(done)).Round(time.Second))
		}
		p.print("%s: %d/%d %s (%.0f%%), %s%s", job, done, total, things, 100*float64(done)/float64(max(total, 1)), el.Round(time.Second), left)
	}
}
