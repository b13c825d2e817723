package main

import (
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
