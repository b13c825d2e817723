package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// In a log file the progress line comes every 10 s and not at all for a
// shorter job; on a terminal it is redrawn in place and erased at the end.
func TestProgressLine(t *testing.T) {
	var log strings.Builder
	p := newProgressLine(&log)
	count := p.counter("eval", "windows")
	count(1, 4)
	if log.Len() != 0 {
		t.Fatalf("a job under 10 s logged %q", log.String())
	}
	p.last = time.Now().Add(-11 * time.Second)
	count(2, 4)
	if got := log.String(); !strings.HasPrefix(got, "eval: 2/4 windows (50%), ") || !strings.HasSuffix(got, " left\n") {
		t.Errorf("log line %q", got)
	}

	var tty strings.Builder
	p = &progressLine{w: &tty, tty: true}
	count = p.counter("predict", "examples")
	count(3, 10)
	count(10, 10)
	if got := tty.String(); !strings.HasPrefix(got, "\r\x1b[Kpredict: 3/10 examples (30%)") || !strings.HasSuffix(got, "left\r\x1b[K") {
		t.Errorf("terminal output %q", got)
	}
}

// On a terminal, a log line written while the live progress line is drawn
// (a notice of the run, the signal handler's) starts on a line of its own;
// the progress line's redrawing, its evaluation lines and its end do not
// gain blank lines.
func TestTerminalLog(t *testing.T) {
	var out strings.Builder
	log := &termLog{w: &out}
	for _, s := range []string{
		"setup\n",
		"\r\x1b[Kstep 1/9",
		"\r\x1b[Kstep 2/9",
		"max_time 1m0s reached: stopping at step 2\n",
		"\n", // the progress ending the live line it still takes for drawn
		"\r\x1b[Kstep 3/9  val_loss 1.5\n",
		"\r\x1b[Kstep 4/9",
		"\n",
		"\r\x1b[Kprepare: 10%",
		eraseLine,
		"warning\n",
	} {
		io.WriteString(log, s)
	}
	want := "setup\n\r\x1b[Kstep 1/9\r\x1b[Kstep 2/9\nmax_time 1m0s reached: stopping at step 2\n" +
		"\r\x1b[Kstep 3/9  val_loss 1.5\n\r\x1b[Kstep 4/9\n\r\x1b[Kprepare: 10%\r\x1b[Kwarning\n"
	if got := out.String(); got != want {
		t.Errorf("terminal shows\n%q\nwant\n%q", got, want)
	}
	if !isTerminal(log) || terminalLog(log) != io.Writer(log) {
		t.Error("a termLog is not taken for the terminal it writes to")
	}
}
