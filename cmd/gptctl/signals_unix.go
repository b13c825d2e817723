//go:build unix

package main

import (
	"os"
	"syscall"
)

// stopSignals end a run after a checkpoint: SIGUSR1 is the warning batch
// schedulers send before a kill.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1}
