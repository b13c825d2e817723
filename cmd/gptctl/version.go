package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"gptctl/train"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// NewCmdVersion builds gptctl version.
func NewCmdVersion() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, the build's BLAS and CUDA support",
		Example: "  gptctl version",
		Args:    usageArgs(cobra.NoArgs),
		RunE:    func(cmd *cobra.Command, _ []string) error { return printVersion(cmd) },
	}
}

// printVersion writes the version, the build's BLAS and its CUDA support.
func printVersion(cmd *cobra.Command) error {
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = " (" + s.Value + ")"
			}
		}
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "gptctl %s%s %s %s/%s\n", Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	b := train.Build() // a CUDA build probes the GPU, after the line above
	fmt.Fprintf(w, "blas: %s\n", b.BLAS)
	if b.BLASNote != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", b.BLASNote)
	}
	_, err := fmt.Fprintf(w, "cuda: %s\n", cudaStatus(b))
	return err
}

// cudaStatus names the GPU, driver and cuBLAS a CUDA build finds, or says
// why none is usable.
func cudaStatus(b train.BuildInfo) string {
	switch {
	case !b.CUDA:
		return "not built in (make build-cuda)"
	case b.NoGPU != nil:
		return "built in, no usable GPU: " + b.NoGPU.Error()
	}
	return "built in, " + b.GPU
}
