package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// addProfiling adds the hidden --cpuprofile flag to every command of root.
// The profile starts before the command runs; stop ends it and closes the
// file, after the command, whether it succeeded or failed (cobra skips
// post-run hooks after an error, and the failing runs are worth profiling
// too).
func addProfiling(root *cobra.Command) (stop func() error) {
	var path string
	var f *os.File
	root.PersistentFlags().StringVar(&path, "cpuprofile", "", "write a CPU profile to this file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkPathFlags(cmd); err != nil {
			return err
		}
		if path == "" {
			return nil
		}
		var err error
		if f, err = os.Create(path); err != nil {
			return &usageError{fmt.Errorf("--cpuprofile: %w", err)}
		}
		return pprof.StartCPUProfile(f)
	}
	return func() error {
		if f == nil {
			return nil
		}
		pprof.StopCPUProfile()
		err := f.Close()
		f = nil
		return err
	}
}
