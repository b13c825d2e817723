package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"gptctl/kernels"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// NewCmdVersion builds gptctl version.
func NewCmdVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the build's BLAS and CUDA support",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			fmt.Fprintf(w, "blas: %s\n", kernels.BLASName())
			fmt.Fprintf(w, "cuda: %s\n", cudaStatus())
			return nil
		},
	}
}

func cudaStatus() string {
	if !kernels.CUDA {
		return "not built in (make build-cuda)"
	}
	return "built in"
}
