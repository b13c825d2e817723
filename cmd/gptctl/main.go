package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"gptctl/data"
	"gptctl/train"
)

// Exit statuses, documented in the README.
const (
	exitOK    = 0
	exitError = 1 // a runtime failure: I/O (a full disk), a bug
	exitUsage = 2 // bad flags, config, input data or model directory
	exitNaN   = 3 // the loss or the gradients stopped being finite
	// exitPipe is the status of a process SIGPIPE ends (128 + 13): the
	// reader of the output went away (| head), quietly, as for any
	// command.
	exitPipe = 141
)

// processStart is when the process started, which a job's wall-time limit
// (max_time, --max-time) counts from; zero where tests call run: from the
// start of training.
var processStart time.Time

func main() {
	processStart = time.Now()
	catchEarlySignals(os.Args[1:])
	abortOnCrash()
	code := run(os.Args[1:], stdout{os.Stdout}, os.Stderr)
	releaseEarlySignals()
	os.Exit(code)
}

// stdout marks its write errors where the reader went away (| head):
// they end the command quietly with exitPipe, where the same error from
// another file (a FIFO a run writes) is reported as any error is.
type stdout struct{ w io.Writer }

func (s stdout) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && brokenPipe(err) {
		err = &readerGone{err}
	}
	return n, err
}

// readerGone is a write to stdout whose reader went away.
type readerGone struct{ err error }

func (e *readerGone) Error() string { return "stdout: " + e.err.Error() }
func (e *readerGone) Unwrap() error { return e.err }

// stdoutGone reports whether err is, or wraps, a write to stdout whose
// reader went away.
func stdoutGone(err error) bool {
	var gone *readerGone
	return errors.As(err, &gone)
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	defer recoverCrash(stderr, &code)
	cmd := NewCmdRoot()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	finishTree(cmd)
	stopProfile := addProfiling(cmd)
	err := cmd.Execute()
	if perr := stopProfile(); err == nil && perr != nil {
		err = fmt.Errorf("--cpuprofile: %w", perr)
	}
	if stdoutGone(err) {
		return exitPipe // (pretrain and data prepare take no reader for a failure)
	}
	if err != nil {
		// One line, whatever the error holds, so batch logs stay greppable.
		fmt.Fprintf(stderr, "gptctl: %s\n", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		return exitCode(err)
	}
	return exitOK
}

// abortOnCrash makes a crash no code recovers (a panic in a worker
// goroutine, the runtime out of memory) abort the process (SIGABRT, status
// 134 in a shell) with every goroutine's stack, where Go would exit with
// status 2: a config error's here, which a batch script takes for "fix the
// config, do not retry".
func abortOnCrash() { debug.SetTraceback("crash") }

// recoverCrash turns a panic of the command's goroutine (a bug) into its
// message and stack on stderr and exit status 1, not Go's 2.
func recoverCrash(stderr io.Writer, code *int) {
	if r := recover(); r != nil {
		fmt.Fprintf(stderr, "gptctl: internal error (a bug; please report it with this output): %v\n%s", r, debug.Stack())
		*code = exitError
	}
}

// usageError is a bad command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ue *usageError
	var ce *train.ConfigError
	var ie *data.InputError // train.InputError too
	var re *data.RowError
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &ie) || errors.As(err, &re) {
		return exitUsage
	}
	var ne *train.NonFiniteError
	if errors.As(err, &ne) {
		return exitNaN
	}
	return exitError
}
