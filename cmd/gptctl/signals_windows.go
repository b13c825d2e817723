package main

import (
	"os"
	"syscall"
)

// stopSignals end a run after a checkpoint: Ctrl-C or Ctrl-Break
// (os.Interrupt) and a console close or shutdown (SIGTERM).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// survivePipes is a no-op: Windows sends no signal for a closed pipe.
func survivePipes() {}
