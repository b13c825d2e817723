package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"gptctl/report"
	"gptctl/train"
)

// ReportOptions are the inputs of gptctl report.
type ReportOptions struct {
	Dirs    []string // run directories, each with a metrics.jsonl
	OutDir  string
	Formats []string  // png, svg, html
	Out     io.Writer // the written paths
	ErrOut  io.Writer // warnings
}

// NewCmdReport returns `gptctl report DIR...`, which plots runs' metrics.
func NewCmdReport() *cobra.Command { return newCmdReport(nil) }

// newCmdReport lets tests replace the run function to check flag parsing.
func newCmdReport(runF func(*ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{}
	cmd := &cobra.Command{
		Use:   "report DIR...",
		Short: "Plot the metrics of one or more runs and write an HTML report",
		Long: `Report reads DIR/metrics.jsonl for each run directory and writes, into
--out, loss, lr and one chart per other metric (one colour per run) as PNG
and SVG, and report.html: one self-contained page with the charts and a
table of each run's status (from DIR/summary.json) and final and best
values. A chart whose values are all positive and whose largest is over a
thousand times their median (a diverged run) has a log y axis, as its label
says.`,
		Example: "  gptctl report runs/shk runs/shk2                    # into runs/report\n  gptctl report runs/shk --out runs/shk/report --format png,html",
		Args: usageArgs(func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("report needs one or more run directories, e.g. gptctl report runs/shk")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dirs = args
			opts.Out, opts.ErrOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := checkFormats(opts.Formats); err != nil { // before loading the runs
				return &usageError{err}
			}
			if runF != nil {
				return runF(opts)
			}
			return reportRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.OutDir, "out", filepath.Join("runs", "report"), "directory to write the report into")
	cmd.Flags().StringSliceVar(&opts.Formats, "format", slices.Clone(report.Formats), "outputs to write, a comma-separated list of png, svg and html")
	return cmd
}

// checkFormats refuses a --format list that is empty, has an empty entry
// ("png,") or names something other than png, svg and html.
func checkFormats(formats []string) error {
	const takes = "the flag takes a comma-separated list of png, svg and html, e.g. --format png,html"
	if len(formats) == 0 {
		return fmt.Errorf("--format is empty: %s", takes)
	}
	for _, f := range formats {
		switch {
		case f == "":
			return fmt.Errorf("--format %q has an empty entry: %s", strings.Join(formats, ","), takes)
		case !slices.Contains(report.Formats, f):
			return fmt.Errorf("--format %q is not png, svg or html: %s", f, takes)
		}
	}
	return nil
}

// reportRun writes the report of the runs in opts.Dirs into opts.OutDir
// and lists the files written.
func reportRun(opts *ReportOptions) error {
	if fi, err := os.Stat(opts.OutDir); err == nil && !fi.IsDir() { // before the runs are read
		return &usageError{fmt.Errorf("--out %s is a file, not a directory: name a directory for the report", opts.OutDir)}
	}
	runs, skipped, err := loadRuns(opts)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(runs, func(r *report.Run) bool { return r.Records > 0 }) {
		runs = nil // only runs with no logged steps yet: nothing to draw, said as the error
	}
	switch {
	case len(runs) == 0 && len(skipped) > 0: // said once, as the error
		errs := make([]error, len(skipped))
		for i, s := range skipped {
			errs[i] = s
		}
		return &train.InputError{Err: errors.Join(errs...)}
	case len(runs) == 0: // only the report's own directory was named
		return &usageError{fmt.Errorf("no runs to report: name run directories (each with a %s), not only --out %s", report.MetricsFile, opts.OutDir)}
	}
	for _, s := range skipped {
		if s.Run != nil {
			fmt.Fprintf(opts.ErrOut, "report: %s: %s: in the table, without curves\n", s.Path, s.Reason)
			continue
		}
		fmt.Fprintf(opts.ErrOut, "report: skipped %s: %s\n", s.Path, s.Reason)
	}
	if err := makeOutDir(opts.OutDir); err != nil {
		return err
	}
	paths, err := report.Render(runs, opts.OutDir, opts.Formats)
	for _, p := range paths {
		if _, werr := fmt.Fprintln(opts.Out, p); werr != nil { // the files are written; a script reading the list gets none
			return errors.Join(err, werr)
		}
	}
	return err
}

// loadRuns reads the runs of opts.Dirs, each once, passing over the
// report's own directory and warning of truncated lines and notes. It
// returns apart the directories that are not runs, to be skipped or, when
// no run is left, refused; a run with no logged steps yet is among both,
// for the table beside other runs. Its error is the file system's.
func loadRuns(opts *ReportOptions) (runs []*report.Run, skipped []*report.NotRunError, err error) {
	runs = make([]*report.Run, 0, len(opts.Dirs))
	seen := map[string]bool{}
	out, _ := filepath.Abs(opts.OutDir)
	for _, dir := range opts.Dirs {
		abs, _ := filepath.Abs(strings.TrimSuffix(filepath.Clean(dir), string(filepath.Separator)+report.MetricsFile))
		switch {
		case seen[abs]: // named twice (runs/a, runs/a/, runs/a/metrics.jsonl): one legend entry
			continue
		case abs == out && !fileExists(filepath.Join(dir, report.MetricsFile)):
			fmt.Fprintf(opts.ErrOut, "report: %s is where the report goes, not a run: skipped\n", dir) // runs/* after a first report
			continue
		}
		seen[abs] = true
		run, err := report.LoadRun(dir)
		var notRun *report.NotRunError
		if errors.As(err, &notRun) { // not a run (yet), or a metrics file that is not one: the others are reported
			skipped = append(skipped, notRun)
			if notRun.Run != nil { // a run with no logged steps yet: in the table, with its status
				runs = append(runs, notRun.Run)
			}
			continue
		}
		if err != nil {
			return nil, nil, err // the file system's
		}
		if run.Truncated {
			fmt.Fprintf(opts.ErrOut, "report: %s: ignored a truncated last line\n", dir)
		}
		for _, note := range run.Notes {
			fmt.Fprintf(opts.ErrOut, "report: %s: %s\n", dir, note)
		}
		runs = append(runs, run)
	}
	return runs, skipped, nil
}

// makeOutDir makes the report's directory dir and checks that it takes
// files; one that cannot be made or written is a usage error.
func makeOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) { // as train.RunDirError classifies --out
			return &usageError{fmt.Errorf("--out %s: %w (name a directory you can write)", dir, err)}
		}
		return fmt.Errorf("report: %w", err)
	}
	// A directory that is there but takes no file (read-only, another
	// user's) is found before the charts, and said as the one above is.
	if err := takesFiles(dir); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return &usageError{fmt.Errorf("--out %s: %w (name a directory you can write)", dir, err)}
		}
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
