package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// eraseLine returns to the start of a terminal's line and erases it.
const eraseLine = "\r\x1b[K"

// termLog is a command's log on a terminal, where a live progress line is
// redrawn in place (each drawing starts with '\r' and ends without a
// newline): a line that someone else writes while one is drawn, a notice
// of the run or the signal handler's, starts on a line of its own below it
// instead of running on from its end. Safe for concurrent use.
type termLog struct {
	mu      sync.Mutex
	w       io.Writer
	partial bool // the last write left its line without a newline
	ended   bool // a live line was ended here, for a line written after it, and none drawn since
}

// terminalLog returns w, as a termLog when it is a terminal.
func terminalLog(w io.Writer) io.Writer {
	if _, ok := w.(*termLog); ok || !isTerminal(w) {
		return w
	}
	return &termLog{w: w}
}

func (t *termLog) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case len(b) == 0:
		return 0, nil
	case b[0] == '\r':
		t.ended = false
	case string(b) == "\n" && t.ended && !t.partial:
		return 1, nil // the progress's own end of the live line, ended here already
	case t.partial && b[0] != '\n':
		if _, err := io.WriteString(t.w, "\n"); err != nil {
			return 0, err
		}
		t.partial, t.ended = false, true
	}
	n, err := t.w.Write(b)
	if n > 0 { // a line erased ("\r\x1b[K") is as good as none
		t.partial = b[n-1] != '\n' && !bytes.HasSuffix(b[:n], []byte(eraseLine))
	}
	return n, err
}

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
		fmt.Fprintf(p.w, eraseLine+format, args...)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// done erases a line drawn on a terminal.
func (p *progressLine) done() {
	if p.drawn {
		fmt.Fprint(p.w, eraseLine)
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
