//go:build unix

// Package testpipe gives tests a named pipe that stays open with nothing
// more in it: the input of a job on a stalled link.
package testpipe

import (
	"os"
	"syscall"
	"testing"
)

// Idle makes a FIFO at path and a writer that opens it, writes text and
// holds it open until the test ends, when it closes it (and the reader
// left on it ends). It skips the test where there are no named pipes.
func Idle(t testing.TB, path, text string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	w := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for a reader
		if err == nil {
			f.WriteString(text)
		}
		w <- f
	}()
	t.Cleanup(func() {
		var f *os.File
		select {
		case f = <-w:
		default: // no reader came: one that does not wait lets the writer's open return
			if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				defer r.Close()
			}
			f = <-w
		}
		if f != nil {
			f.Close()
		}
	})
}
