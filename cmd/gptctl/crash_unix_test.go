//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A panic no code recovers (another goroutine's) aborts the process with
// SIGABRT once abortOnCrash ran, instead of exiting with status 2.
func TestCrashIsNotExitUsage(t *testing.T) {
	if os.Getenv("GPTCTL_TEST_CRASH") == "1" {
		syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}) // no core file
		abortOnCrash()
		go func() { panic("a worker's bug") }()
		select {}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashIsNotExitUsage$")
	cmd.Env = append(os.Environ(), "GPTCTL_TEST_CRASH=1", "GOTRACEBACK=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "a worker's bug") {
		t.Fatalf("crash: %v, output %.300q", err, out)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGABRT {
		t.Errorf("crash ended with %v (status %d), want SIGABRT", ws, ee.ExitCode())
	}
}
