package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"time"
)

// signalContext is cancelled by SIGTERM, SIGINT, SIGUSR1 (the warning a
// batch scheduler sends before a kill) or SIGHUP, with the signal as its
// cause; a closed pipe no longer kills the process (survivePipes). The
// first signal stops the job cleanly (after the step at hand, with a
// checkpoint); a second takes its default action: SIGINT and SIGTERM end
// the process at once, for someone who will not wait (a job killed there
// resumes from its last checkpoint, as after any kill), and Go ignores a
// SIGUSR1 no one asked for, so a scheduler's repeated warning changes
// nothing. The first signal is reported on log.
//
// Signals within repeatWindow of the first are its copies, not a second
// request: GNU timeout (without --foreground) sends its signal to the
// process and then to the process group, and some schedulers signal both
// a job step and its processes, so one stop arrives twice, microseconds
// apart; taken as a second signal, it lost the checkpoint the first was
// writing.
func signalContext(log io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := earlySignals
	earlySignals = nil
	if ch == nil {
		ch = notifyStop()
	}
	survivePipes()
	go func() {
		s, ok := <-ch
		if !ok {
			return
		}
		fmt.Fprintf(log, "gptctl: %v: stopping cleanly; a second SIGINT (Ctrl-C), SIGTERM or SIGHUP stops at once\n", s)
		cancel(fmt.Errorf("received %v", s))
		copies := time.NewTimer(repeatWindow)
		defer copies.Stop()
		for {
			select {
			case _, ok := <-ch:
				if ok {
					continue
				}
			case <-copies.C:
				signal.Stop(ch)
			}
			return
		}
	}()
	return ctx, func() { signal.Stop(ch); close(ch); cancel(nil) }
}

// notifyStop returns a channel that receives the stop signals.
func notifyStop() chan os.Signal {
	ch := make(chan os.Signal, 1)
	for _, s := range stopSignals {
		// A signal the process started with ignored stays ignored: nohup's
		// SIGHUP, a background job's SIGINT (Notify would catch it again).
		if !signal.Ignored(s) {
			signal.Notify(ch, s)
		}
	}
	return ch
}

// earlySignals, set by catchEarlySignals, holds the stop signals that came
// before the command's signalContext, which takes it over: a stop signal
// in the first moments of a job (while its config and data load) stops it
// cleanly, as later, instead of killing it (SIGTERM, SIGINT, SIGHUP) or
// going unheard (SIGUSR1).
var earlySignals chan os.Signal

// stoppable are the commands that stop cleanly on a stop signal.
var stoppable = []string{"pretrain", "finetune", "data", "predict", "generate"}

// catchEarlySignals starts catching the stop signals at the start of the
// process when args name a stoppable command; releaseEarlySignals stops it
// where the command ended without taking them over (its help, a usage
// error).
func catchEarlySignals(args []string) {
	if len(args) > 0 && slices.Contains(stoppable, args[0]) {
		earlySignals = notifyStop()
	}
}

func releaseEarlySignals() {
	if earlySignals != nil {
		signal.Stop(earlySignals)
		earlySignals = nil
	}
}

// repeatWindow is how long after a stop signal another is taken for a copy
// of it (see signalContext): far longer than the microseconds between a
// signal's copies, shorter than a person takes to press Ctrl-C again.
const repeatWindow = 300 * time.Millisecond
