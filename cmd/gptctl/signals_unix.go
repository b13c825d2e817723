//go:build unix

package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// stopSignals end a run after a checkpoint: SIGUSR1 is the warning batch
// schedulers send before a kill, SIGHUP the closing of the terminal a run
// was started from.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP}

// survivePipes makes a write to a closed pipe an error (EPIPE) instead of
// a kill: a job whose log reader went away (| tee, | head, a closed
// terminal) trains on and writes its checkpoints, its log lost.
func survivePipes() { signal.Ignore(syscall.SIGPIPE) }

// brokenPipe reports whether err is a write to a pipe whose reader went
// away.
func brokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }
