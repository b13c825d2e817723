package main

import (
	"errors"
	"os"
	"syscall"
)

// stopSignals end a run after a checkpoint: Ctrl-C or Ctrl-Break
// (os.Interrupt) and a console close or shutdown (SIGTERM).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// survivePipes is a no-op: Windows sends no signal for a closed pipe.
func survivePipes() {}

// errorNoData is ERROR_NO_DATA, "The pipe is being closed.", what a write
// to a pipe whose reader went away returns.
const errorNoData = syscall.Errno(232)

// brokenPipe reports whether err is a write to a pipe whose reader went
// away.
func brokenPipe(err error) bool {
	return errors.Is(err, syscall.ERROR_BROKEN_PIPE) || errors.Is(err, errorNoData) || errors.Is(err, syscall.EPIPE)
}
