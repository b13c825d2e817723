package train

// Pretrain: a run of gptctl pretrain, its options, the device it runs on
// and the frame of a training job, which claims the run directory (its
// setup is in runsetup.go, the training loop in run_loop.go, its summary
// in run_summary.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/report"
)

// Options are the parts of a run that are not in its config.
type Options struct {
	OutDir   string
	Resume   bool
	Log      io.Writer // progress and log lines
	Terminal bool      // Log is a terminal: draw a live progress line
	// MaxTime, when above 0, is this job's wall-time limit (--max-time), in
	// place of the config's max_time; it is not written into the run's
	// config, so a later --resume takes the config's again.
	MaxTime time.Duration
	// Started is when the job started (the process, for the command line):
	// the wall-time limit counts from it, setup included. Zero: from when
	// training starts.
	Started time.Time
	// AfterStep, if set, is called after each optimizer step with the number
	// of steps done (tests use it to interrupt a run at a known step).
	AfterStep func(step int)
}

// clock is the time the wall-time limit counts from: Started, else start
// (when training started).
func (o Options) clock(start time.Time) time.Time {
	if o.Started.IsZero() {
		return start
	}
	return o.Started
}

// wallLimit is the job's wall-time limit: MaxTime, else the config's.
func (o Options) wallLimit(config time.Duration) time.Duration {
	if o.MaxTime > 0 {
		return o.MaxTime
	}
	return config
}

// logBLASNote writes graph.BLASNote to log on the CPU, where BLAS does
// the products.
func logBLASNote(log io.Writer, device string) {
	if n := graph.BLASNote(); n != "" && device == "cpu" {
		fmt.Fprintln(log, "note: "+n)
	}
}

// SetupDevice checks the device setting against this build and the
// machine and returns the device the run uses: "cuda" when the config asks
// for it (an error if no GPU is usable) or says auto and a GPU is usable,
// else "cpu", with a one-line notice of why.
func SetupDevice(cfg Config, log io.Writer) (string, error) {
	device := "cpu"
	switch {
	case cfg.Device == "cuda" && !graph.CUDA:
		return "", &ConfigError{errors.New("device cuda: this gptctl was built without CUDA (build it with make build-cuda, or use the CPU: device: cpu, --device cpu)")}
	case cfg.Device == "cuda":
		desc, err := graph.ProbeCUDA()
		if err != nil {
			return "", &ConfigError{fmt.Errorf("device cuda: no usable GPU (%v); use device: auto or cpu (--device auto or cpu)", err)}
		}
		fmt.Fprintf(log, "device: cuda (%s)\n", desc)
		device = "cuda"
	case cfg.Device == "auto" && !graph.CUDA:
		fmt.Fprintln(log, "device: cpu (this build has no CUDA support)")
	case cfg.Device == "auto":
		desc, err := graph.ProbeCUDA()
		switch {
		case err != nil:
			fmt.Fprintf(log, "device: cpu (no usable GPU: %v)\n", err)
		default:
			fmt.Fprintf(log, "device: cuda (%s)\n", desc)
			device = "cuda"
		}
	}
	if cfg.Threads > 0 { // the kernels split their work over GOMAXPROCS goroutines; BLAS runs single-threaded
		runtime.GOMAXPROCS(cfg.Threads)
	}
	if n := runtime.NumCPU(); cfg.Threads > n && device == "cpu" {
		fmt.Fprintf(log, "note: threads %d is more than the %d cores this process may use: the threads share them, which is slower than %d\n", cfg.Threads, n, n)
	}
	if gpuOnly := cfg.GPUMath.set(); device == "cpu" && gpuOnly != "" {
		verb := "takes"
		if strings.Contains(gpuOnly, " and ") {
			verb = "take"
		}
		fmt.Fprintf(log, "note: %s %s effect on a GPU only: on the CPU the products are float32 and the attention is computed whole\n", gpuOnly, verb)
	}
	return device, nil
}

// Pretrain trains a language model as cfg says and writes the run into
// opt.OutDir. A cancelled ctx (SIGTERM, SIGINT) checkpoints and returns a
// Summary with status "interrupted"; before the first step of a run without
// a checkpoint (as the data loads, too) there is nothing to checkpoint.
func Pretrain(ctx context.Context, cfg Config, opt Options) (*Summary, error) {
	sum, err := runJob[Summary](ctx, cfg, opt, func(device string) (*run, error) { return newRunContext(ctx, cfg, opt, device) })
	return sum, deviceMemory(err, cfg.memoryFix())
}

// memoryFix names the settings of a training job that take less memory.
func (c Config) memoryFix() string {
	return fmt.Sprintf("lower batch_size (%d; grad_accum keeps the tokens a step) or seq_len (%d), use a smaller model, or device: cpu",
		c.BatchSize, c.T())
}

// job is a run that Pretrain or Finetune has set up (newRun,
// newFinetuneRun), S its summary.
type job[S any] interface {
	loop(ctx context.Context) (*S, error)
	// done reports a resume at the last step: nothing to train or write;
	// finishedSummary is then the run's outcome.
	done() bool
	finishedSummary() (*S, error)
	failed(err error) *S // writes the summary of a run that failed with err, best effort, and returns it
	undoStart()          // puts back the summary.json the session replaced, for one that changed nothing
	close()
}

// runJob is the frame of a training job: it claims opt.OutDir for a run on
// the device cfg names, sets the run up there with setup and trains it.
func runJob[S any, J job[S]](ctx context.Context, cfg Config, opt Options, setup func(device string) (J, error)) (sum *S, err error) {
	device, unlock, created, err := claim(cfg, opt)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && created != "" { // a run directory of nothing but the lock is no one's
			data.RemoveCreated(opt.OutDir, created, filepath.Join(opt.OutDir, data.RunLockFile), unlock)
			return
		}
		unlock()
	}()
	defer trainingGC()()
	r, err := setup(device)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if r.done() {
		sum, err := r.finishedSummary()
		if err != nil { // a completed run whose summary could not be written: the error alone
			return nil, err
		}
		return sum, nil
	}
	sum, err = r.loop(ctx)
	var np *noProgressError
	switch {
	case errors.As(err, &np): // the run is as it was, and so is its summary
		r.undoStart()
		return nil, err
	case err != nil:
		sum = r.failed(err)
	}
	return sum, err
}

func (r *run) done() bool { return r.finished }

func (r *run) undoStart() {
	if r.unstart != nil {
		r.unstart()
	}
}

// trainingGCPercent is the garbage collector's target in a training job,
// unless GOGC is set: its heap is almost all weights, moments and
// activations that live the whole run, and the default of 100 lets the
// steps' garbage grow as large again before a collection (a 25M-parameter
// model, 430 MB live, reached 800 MB). Marking pointer-free float buffers
// costs little.
const trainingGCPercent = 20

// trainingGC sets the collector's target for a training job and returns
// what restores it.
func trainingGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(trainingGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// claim picks the device of a run and locks its directory; a new run (not
// opt.Resume) is refused a directory that holds a run (HeldRun). created is
// the outermost directory that taking the lock created, "" for none.
func claim(cfg Config, opt Options) (device string, unlock func(), created string, err error) {
	if device, err = SetupDevice(cfg, opt.Log); err != nil {
		return "", nil, "", err
	}
	if !opt.Resume {
		created = data.FirstMissing(opt.OutDir)
	}
	for _, f := range []string{modelFile, stateFile} { // checked before the lock file goes into it
		if _, err := os.Stat(filepath.Join(opt.OutDir, f)); err == nil {
			return "", nil, "", inputErrorf("--out %s is a model or checkpoint directory (it has %s), not a run directory: a run keeps its checkpoints in directories of its own; choose another --out", opt.OutDir, f)
		}
	}
	if unlock, err = lockRunDir(opt.OutDir); err != nil {
		return "", nil, "", err
	}
	if err := readyRunDir(opt); err != nil {
		unlock()
		return "", nil, "", err
	}
	return device, unlock, created, nil
}

// readyRunDir readies the run directory opt.OutDir, locked, for the run:
// it refuses a data prepare's shard directory or, for a new run, one that
// holds a run, and it finishes or removes what a killed job left.
func readyRunDir(opt Options) error {
	if !opt.Resume { // after the lock: see data's lockOutDir
		if sign := data.PrepareSign(opt.OutDir); sign != "" {
			return inputErrorf("--out %s is a data prepare's shard directory (%s), which a run's files would be mixed in with: choose another --out for the run (the shard directory is for data: or --data)", opt.OutDir, sign)
		}
	}
	for _, name := range []string{bestDir, prevDir} { // a kill in the middle of their swaps
		if err := recoverDir(opt.OutDir, name); err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
	}
	if err := removeStaleFiles(opt.OutDir); err != nil {
		return err
	}
	if held := HeldRun(opt.OutDir); !opt.Resume && held != "" { // a new run would write over it
		return inputErrorf("run directory %s already holds a run (it has %s): --resume continues it; to start again, remove it or choose another --out", opt.OutDir, held)
	}
	return nil
}

// removeStaleFiles removes from the locked run directory dir the files of
// the run's own that a killed job was writing atomically (data.WriteFile's
// .NAME.tmp-*: no other job writes them while the lock is held; a predict
// --out into the directory takes no lock, so only the run's names go) and
// commitDir's half-written directories. It refuses a directory where the
// run writes a file.
func removeStaleFiles(dir string) error {
	stale, _ := data.FilesIn(dir, isStaleTemp)
	for _, f := range stale {
		os.Remove(f)
	}
	for _, name := range runFiles {
		// Found now, not when the run ends and writes its summary.
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.IsDir() {
			return inputErrorf("run directory %s: %s is a directory, where the run writes a file of that name: remove or rename it", dir, name)
		}
	}
	for _, name := range []string{bestDir, checkpointDir} { // commitDir's, half-written
		os.RemoveAll(filepath.Join(dir, "."+name+".tmp"))
	}
	return nil
}

// runFiles are the files a run writes atomically in its directory, besides
// its TensorBoard event files (trimmed in place at each start).
var runFiles = []string{metricsName, summaryFile, jobFile, finetuneJobFile}

// isStaleTemp reports whether name is the temporary name (.NAME.tmp-*) of
// one of runFiles or of an event file gptctl wrote.
func isStaleTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	if i < 1 || name[0] != '.' {
		return false
	}
	base := name[1:i]
	return slices.Contains(runFiles, base) || report.IsOwnEventFile(base)
}
