package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/report"
)

func tinyConfig(t *testing.T, sets ...string) Config {
	t.Helper()
	base := []string{"n_layer=1", "n_embd=32", "n_head=2", "n_ctx=16", "batch_size=4", "max_steps=20",
		"eval_interval=10", "eval_batches=3", "log_interval=5", "checkpoint_interval=10", "warmup_steps=5", "dropout=0.1"}
	cfg, err := Load("", append(base, sets...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPretrainWritesRun(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	sum, err := Pretrain(context.Background(), tinyConfig(t), Options{OutDir: dir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if wall := time.Since(t0).Seconds(); sum.WallSeconds <= 0 || sum.WallSeconds > wall {
		t.Errorf("summary wall_seconds %.3f, but the run took %.3f s", sum.WallSeconds, wall)
	}
	if sum.Status != "completed" || sum.Step != 20 || !(lossOf(sum.ValLoss) > 0) || sum.BestStep == 0 || sum.Best != filepath.Join(dir, "best") {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range []string{"train.yaml", "metrics.jsonl", "summary.json", "checkpoint/model.safetensors",
		"checkpoint/config.json", "checkpoint/tokenizer.json", "checkpoint/optimizer.safetensors", "checkpoint/state.json", "checkpoint.prev/state.json", "best/model.safetensors", "best/config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "metrics.jsonl"))), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], `"val_loss"`) || !strings.Contains(lines[0], `"tokens_per_s"`) {
		t.Errorf("metrics.jsonl:\n%s", strings.Join(lines, "\n"))
	}
	res, err := EvalLM(dir, "builtin", InferOptions{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loss <= 0 || res.Loss > 4 || res.Tokens < 400000 {
		t.Errorf("eval %+v", res)
	}
	var out bytes.Buffer
	if err := Generate(dir, GenerateOptions{Prompt: "The ", MaxNewTokens: 20, Temperature: 0.8, TopK: 10, TopP: 0.9, Seed: 1}, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(out.String(), "\n"); !strings.HasPrefix(got, "The ") || len(got) != 24 {
		t.Errorf("generate printed %q, want the prompt and 20 characters", got)
	}
}

// 20 steps straight must equal 10 steps, an interruption, and a resume, bit
// for bit: weights, optimizer state, data position and dropout RNG.
func TestResumeIsExact(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	cfg := tinyConfig(t, "checkpoint_interval=0")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stopAt := func(step int) {
		if step == 10 {
			cancel(errors.New("test interruption"))
		}
	}
	sum, err := Pretrain(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: stopAt})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "interrupted" || sum.Step != 10 {
		t.Fatalf("interrupted run summary %+v", sum)
	}
	resumed, err := Load(filepath.Join(split, "train.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(context.Background(), resumed, Options{OutDir: split, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"checkpoint/model.safetensors", "checkpoint/optimizer.safetensors"} {
		if !bytes.Equal([]byte(readFile(t, filepath.Join(straight, f))), []byte(readFile(t, filepath.Join(split, f)))) {
			t.Errorf("%s differs between the straight and the resumed run", f)
		}
	}
	a := readFile(t, filepath.Join(straight, "metrics.jsonl"))
	b := readFile(t, filepath.Join(split, "metrics.jsonl"))
	if stepsOf(a) != stepsOf(b) {
		t.Errorf("metrics steps differ:\n%s\nvs\n%s", stepsOf(a), stepsOf(b))
	}
}

// tensorboardSteps reads the event files of a run in order, as TensorBoard
// does: a session-start event at step s drops the earlier events at s or
// later. It returns the steps left with a train_loss.
func tensorboardSteps(t *testing.T, dir string) string { return eventSteps(t, dir, true) }

// eventSteps is tensorboardSteps, honouring session starts or not (as
// TensorBoard's Rust data server and plain record readers do not).
func eventSteps(t *testing.T, dir string, starts bool) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	sort.Strings(files)
	var steps []int64
	for _, f := range files {
		events, err := report.ReadEvents(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.Start && starts {
				steps = slices.DeleteFunc(steps, func(s int64) bool { return s >= ev.Step })
			}
			for _, sc := range ev.Scalars {
				if sc.Tag == "train_loss" {
					steps = append(steps, ev.Step)
				}
			}
		}
	}
	return strings.Trim(fmt.Sprint(steps), "[]")
}

// stepsOf lists the steps of the lines of a metrics.jsonl, "?" for a line
// without one.
func stepsOf(metrics string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(metrics), "\n") {
		i := strings.Index(l, `"step":`)
		if i < 0 {
			if l != "" {
				out = append(out, "?")
			}
			continue
		}
		j := strings.IndexAny(l[i+7:], ",}")
		out = append(out, l[i+7:i+7+j])
	}
	return strings.Join(out, " ")
}

// lineWith returns the first line of log that contains s.
func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPretrainBadInput(t *testing.T) {
	runDir := t.TempDir() // a run, named as data for --init
	os.Mkdir(filepath.Join(runDir, checkpointDir), 0o755)
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	short := filepath.Join(t.TempDir(), "short.txt")
	os.WriteFile(short, []byte("to be or not"), 0o644)
	emptyDocs := filepath.Join(t.TempDir(), "docs.jsonl")
	os.WriteFile(emptyDocs, []byte("{\"text\": \"\"}\n{\"text\": \"\"}\n"), 0o644)
	oneDoc := filepath.Join(t.TempDir(), "doc.jsonl")
	os.WriteFile(oneDoc, []byte("\n{\"text\": \"\"}\n"), 0o644)
	blankLines := filepath.Join(t.TempDir(), "blank.jsonl")
	os.WriteFile(blankLines, []byte("\ufeff\n\n  \n"), 0o644)
	shortVal := filepath.Join(t.TempDir(), "short-val.txt") // 36 training characters, 4 held out
	os.WriteFile(shortVal, []byte("to be or not to be, that is the quest"), 0o644)
	for _, c := range []struct {
		name, data, want string
		sets             []string
	}{
		{"missing", "/nonexistent/corpus.txt", "no such file", nil},
		{"standard input", "-", "data -: standard input is read by data prepare", nil},
		{"a run directory", runDir, "is a model or run directory (it has checkpoint), not a corpus: --init " + runDir, nil},
		{"empty", empty, "the file is empty", nil},
		{"empty documents", emptyDocs, `the 2 documents are all empty (no {"text": ...} holds text)`, nil},
		{"an empty document", oneDoc, `its one document is empty (its {"text": ...} holds no text)`, nil},
		{"blank lines", blankLines, `the file holds no document, only blank lines (a .jsonl file holds one {"text": ...} a line)`, nil},
		{"short", short, "windows of 16 need at least 17 each (use a longer corpus or a smaller seq_len)", nil},
		{"short val", shortVal, "(raise val_fraction (0.1), name a val_data file, or use a longer corpus or a smaller seq_len)", nil},
		{"seq_len 1", shortVal, "windows of 1 need at least 2 each (raise val_fraction (0.01), name a val_data file, or use a longer corpus)",
			[]string{"val_fraction=0.01", "seq_len=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Pretrain(context.Background(), tinyConfig(t, append([]string{"data=" + c.data}, c.sets...)...), Options{OutDir: t.TempDir(), Log: io.Discard})
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want an InputError containing %q", err, c.want)
			}
		})
	}
}

// A corpus a config file names by a relative path, missing where gptctl
// runs (a recipe of configs/ run from another directory), is named with
// the config, the directory it was looked for in and the flag that names
// another; a --data of its own gets no advice to use --data.
func TestMissingCorpusOfConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "recipe.yaml")
	os.WriteFile(path, []byte("data: shared/corpus.txt\nmax_steps: 2\n"), 0o644)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	_, err = Pretrain(context.Background(), cfg, Options{OutDir: t.TempDir(), Log: io.Discard})
	want := fmt.Sprintf("config %s: data: open shared/corpus.txt: no such file or directory (read from the working directory, %s); --data FILE reads the corpus from another path", path, wd)
	var ie *InputError
	if !errors.As(err, &ie) || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	flagged, err := Load(path, []string{`data="other.txt"`}) // as the command passes --data other.txt
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pretrain(context.Background(), flagged, Options{OutDir: t.TempDir(), Log: io.Discard})
	if err == nil || strings.Contains(err.Error(), "--data FILE") || !strings.Contains(err.Error(), "(read from the working directory, "+wd+")") {
		t.Errorf("a --data of the job's own: %v", err)
	}
	// A missing tokenizer is the tokenizer key's, named once, with no
	// advice on the corpus.
	os.WriteFile(path, []byte("data: "+path+"\ntokenizer: tok/missing\nmax_steps: 2\n"), 0o644)
	if cfg, err = Load(path, nil); err != nil {
		t.Fatal(err)
	}
	_, err = Pretrain(context.Background(), cfg, Options{OutDir: t.TempDir(), Log: io.Discard})
	if err == nil || strings.Count(err.Error(), "config "+path) != 1 || strings.Contains(err.Error(), "--data") || strings.Contains(err.Error(), "working directory") {
		t.Errorf("a missing tokenizer directory: %v", err)
	}
}

func TestRunDirectoryLockAndEvents(t *testing.T) {
	dir := t.TempDir()
	release, err := lockRunDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pretrain(context.Background(), tinyConfig(t, "max_steps=2"), Options{OutDir: dir, Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "in use by another gptctl") {
		t.Fatalf("second writer: %v, want a lock error", err)
	}
	release()
	// Another writer's event file (TensorFlow's) is not the run's to remove.
	foreign := filepath.Join(dir, "events.out.tfevents.1600000000.otherhost.12345.0.v2")
	if err := os.WriteFile(foreign, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=10"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a new run removed another writer's event file: %v", err)
	}
	files, _ := data.FilesIn(dir, report.IsOwnEventFile)
	if len(files) != 1 {
		t.Fatalf("want one TensorBoard event file, have %v", files)
	}
	events, err := report.ReadEvents(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, e := range events {
		for _, s := range e.Scalars {
			tags = append(tags, s.Tag)
		}
	}
	for _, want := range []string{"train_loss", "val_loss", "lr"} {
		if !strings.Contains(strings.Join(tags, " "), want) {
			t.Errorf("event file lacks %s (tags %v)", want, tags)
		}
	}
}

// A damaged latest checkpoint is detected by its checksums and the run
// resumes from the previous one.
func TestResumeFallsBackToPreviousCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=20", "checkpoint_interval=10")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "checkpoint", "model.safetensors")
	damage := func() {
		b, _ := os.ReadFile(model)
		b[len(b)-3] ^= 0xff
		os.WriteFile(model, b, 0o644)
	}
	damage()
	var log bytes.Buffer
	cfg.MaxSteps, cfg.CheckpointInterval = 25, 100 // one checkpoint, at the end
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "checkpoint.prev at step 10") || sum.Step != 25 {
		t.Errorf("resume log %q, summary %+v: want a resume from checkpoint.prev at step 10", log.String(), sum)
	}
	// The same line says why the latest checkpoint was passed over, and
	// where it went.
	if line := lineWith(log.String(), "resuming from"); !strings.Contains(line, "model.safetensors is damaged (checksum mismatch)") ||
		!strings.HasSuffix(line, "; moved to checkpoint.rejected)") {
		t.Errorf("resume line %q does not say why checkpoint/ was rejected and where it is", line)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint.rejected", "model.safetensors")); err != nil {
		t.Errorf("the rejected checkpoint was not kept: %v", err)
	}
	// The damaged checkpoint must not have been rotated into
	// checkpoint.prev by the resumed run's checkpoint: with the latest
	// damaged again, the run still resumes from the good step 10.
	damage()
	log.Reset()
	cfg.MaxSteps = 30
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatalf("second fallback: %v", err)
	}
	if !strings.Contains(log.String(), "checkpoint.prev at step 10") {
		t.Errorf("second resume log %q: want a resume from checkpoint.prev at step 10", log.String())
	}
	// Steps 11-20 were done twice; metrics.jsonl and TensorBoard (which
	// drops what a session-start event supersedes) show each once.
	want := "5 10 15 20 25 30"
	if got := stepsOf(readFile(t, filepath.Join(dir, "metrics.jsonl"))); got != want {
		t.Errorf("metrics.jsonl steps %s, want %s", got, want)
	}
	if got := tensorboardSteps(t, dir); got != want {
		t.Errorf("TensorBoard steps %s, want %s", got, want)
	}
	// The event files themselves hold them once: the resume cut them back
	// to its checkpoint, as metrics.jsonl.
	if got := eventSteps(t, dir, false); got != want {
		t.Errorf("steps in the event files %s, want %s", got, want)
	}
	for _, d := range []string{"checkpoint", "checkpoint.prev"} {
		p := filepath.Join(dir, d, "state.json")
		os.WriteFile(p, []byte("{torn"), 0o644)
	}
	_, err = Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no usable checkpoint") {
		t.Errorf("with both checkpoints damaged: %v, want an InputError", err)
	}
}

func TestMaxTimeStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	sum, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=100000", "max_time=300ms"), Options{OutDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "interrupted" || !strings.Contains(sum.Interruption, "max_time") || sum.Step == 0 || sum.Step >= 100000 {
		t.Errorf("summary %+v", sum)
	}
	if line := lineWith(log.String(), "max_time 300ms reached"); !strings.Contains(line, fmt.Sprintf("stopping at step %d", sum.Step)) {
		t.Errorf("the log does not say why the run stopped where it did:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint", "state.json")); err != nil {
		t.Error("no checkpoint after max_time")
	}
}

func TestNonFiniteLoss(t *testing.T) {
	for _, policy := range []string{"stop", "skip"} {
		cfg := tinyConfig(t, "on_nonfinite="+policy)
		opt := Options{OutDir: t.TempDir(), Log: io.Discard}
		r, err := newRun(cfg, opt, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		r.params.Get("h.0.mlp.c_fc.weight").Data[0] = float32(math.NaN())
		_, err = r.loop(context.Background())
		r.close()
		want := map[string]string{"stop": "step 1: the training loss is NaN", "skip": "10 steps skipped"}[policy]
		var ne *NonFiniteError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), want) {
			t.Errorf("on_nonfinite %s: %v, want a NonFiniteError containing %q", policy, err, want)
		}
	}
}

// The states a kill can leave between the steps of a checkpoint commit:
// a half-written temporary directory beside the latest checkpoint, and the
// instant between the two renames, when only checkpoint.prev is in place.
// And a run killed before its first checkpoint starts again from step 0.
func TestResumeAfterKillInCommit(t *testing.T) {
	cfg := tinyConfig(t, "max_steps=20", "checkpoint_interval=10")
	base := t.TempDir()
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"half-written tmp", func(dir string) {
			os.MkdirAll(filepath.Join(dir, ".checkpoint.tmp"), 0o755)
			os.WriteFile(filepath.Join(dir, ".checkpoint.tmp", "model.safetensors"), []byte("torn"), 0o644)
		}, "checkpoint at step 20"},
		{"between renames", func(dir string) {
			os.RemoveAll(filepath.Join(dir, "checkpoint.prev"))
			os.Rename(filepath.Join(dir, "checkpoint"), filepath.Join(dir, "checkpoint.prev"))
		}, "checkpoint.prev at step 20 (no checkpoint/ (a checkpoint write was interrupted))"},
		{"before the first checkpoint", func(dir string) {
			for _, f := range []string{"checkpoint.prev", "checkpoint", "metrics.jsonl", "summary.json"} {
				os.RemoveAll(filepath.Join(dir, f))
			}
		}, "no checkpoint yet: starting from step 0"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		c.setup(dir)
		var log bytes.Buffer
		cfg := cfg
		cfg.MaxSteps = 25
		sum, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log})
		if err != nil || sum.Step != 25 || !strings.Contains(log.String(), c.want) || strings.Contains(log.String(), "moved to") {
			t.Errorf("%s: %v, summary %+v, log %q; want a finished run and %q (and no checkpoint moved)", c.name, err, sum, log.String(), c.want)
		}
		// TensorBoard shows each step once: a restart from step 0 leaves
		// no event file of the killed session beside its own.
		if tb, m := tensorboardSteps(t, dir), stepsOf(readFile(t, filepath.Join(dir, "metrics.jsonl"))); tb != m {
			t.Errorf("%s: TensorBoard steps %s, metrics.jsonl steps %s", c.name, tb, m)
		}
	}
}

// A run stopped before its first step, as it loads its data or after its
// setup, writes its job config and a valid summary, interrupted (no NaN
// loss in it), and no checkpoint, which would hold nothing: --resume starts
// it from step 0, from the job config it wrote, and ends where a run never
// stopped ends.
func TestInterruptedBeforeFirstStep(t *testing.T) {
	cfg := tinyConfig(t)
	straight := t.TempDir()
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	loading := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("stopped at once"))
	sum, err := Pretrain(ctx, cfg, Options{OutDir: loading, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	setUp := t.TempDir()
	ctx, cancel = context.WithCancelCause(context.Background())
	r, err := newRunContext(ctx, cfg, Options{OutDir: setUp, Log: io.Discard}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	cancel(errors.New("stopped at once"))
	sum2, err := r.loop(ctx)
	r.close()
	if err != nil {
		t.Fatal(err)
	}
	for dir, sum := range map[string]*Summary{loading: sum, setUp: sum2} {
		if sum.Status != "interrupted" || sum.Interruption != "stopped at once" || sum.Step != 0 || sum.Checkpoint != "" {
			t.Fatalf("summary %+v", sum)
		}
		if s := readFile(t, filepath.Join(dir, "summary.json")); !strings.Contains(s, `"status": "interrupted"`) {
			t.Errorf("summary.json:\n%s", s)
		}
		if _, err := os.Stat(filepath.Join(dir, "checkpoint")); err == nil {
			t.Error("a checkpoint of step 0")
		}
		job, err := Load(filepath.Join(dir, "train.yaml"), nil) // as --resume reads it
		if err != nil {
			t.Fatal(err)
		}
		if sum, err := Pretrain(context.Background(), job, Options{OutDir: dir, Resume: true, Log: io.Discard}); err != nil || sum.Status != "completed" || sum.Step != 20 {
			t.Fatalf("resumed: %+v, %v", sum, err)
		}
		a := readFile(t, filepath.Join(straight, "checkpoint", "model.safetensors"))
		if b := readFile(t, filepath.Join(dir, "checkpoint", "model.safetensors")); a != b {
			t.Error("the resumed run's weights differ from an uninterrupted run's")
		}
	}
}

// A session stopped as it loads its data starts as any session does: its
// metrics.jsonl and TensorBoard events are cut back to where --resume
// goes on, the step its summary names (the checkpoint's, or 0), and the
// lines and events a kill left past it are gone.
func TestStoppedLoadingCutsMetrics(t *testing.T) {
	cfg := tinyConfig(t)
	straight := t.TempDir()
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		cut  []string
		step int
		want string
	}{
		{[]string{"checkpoint", "summary.json"}, 10, "5 10"}, // killed past the step-10 checkpoint
		{[]string{"checkpoint", "checkpoint.prev", "summary.json"}, 0, ""},
	} {
		dir := killedCopy(t, straight, filepath.Join(t.TempDir(), fmt.Sprint(i)), c.cut)
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errors.New("stopped at once"))
		sum, err := Pretrain(ctx, cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
		if err != nil || sum.Status != "interrupted" || sum.Step != c.step {
			t.Fatalf("stopped as it loaded the data, at step %d: %+v, %v", c.step, sum, err)
		}
		if got := stepsOf(readFile(t, filepath.Join(dir, "metrics.jsonl"))); got != c.want {
			t.Errorf("at step %d, metrics.jsonl has steps %q, want %q", c.step, got, c.want)
		}
		if got := eventSteps(t, dir, false); got != c.want {
			t.Errorf("at step %d, the event files have steps %q, want %q", c.step, got, c.want)
		}
		// best/ (of step 20, kept by the kill) stays the run's best, in
		// the summary too, with or without a checkpoint.
		if sum.Best == "" || sum.BestStep != 20 {
			t.Errorf("at step %d, the summary names best %q of step %d, want best/ of step 20", c.step, sum.Best, sum.BestStep)
		}
	}
}

// A value not measured is absent from summary.json, never 0 (which a batch
// script reads as a perfect loss); the last val loss, best val loss and
// train loss go through the checkpoint, so a session that stops before it
// evaluates or logs still reports the run's.
func TestSummaryLossesAcrossSessions(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "checkpoint_interval=0")
	ctx, cancel := context.WithCancelCause(context.Background())
	stopAt := func(at int) func(int) {
		return func(step int) {
			if step == at {
				cancel(nil)
			}
		}
	}
	sum, err := Pretrain(ctx, cfg, Options{OutDir: dir, Log: io.Discard, AfterStep: stopAt(3)})
	if err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, filepath.Join(dir, "summary.json")); strings.Contains(s, "val_loss") || sum.TrainLoss == nil {
		t.Errorf("before any evaluation, summary.json:\n%s", s)
	}
	ctx, cancel = context.WithCancelCause(context.Background())
	first, err := Pretrain(ctx, cfg, Options{OutDir: dir, Resume: true, Log: io.Discard, AfterStep: stopAt(12)})
	if err != nil || first.Step != 12 || lossOf(first.ValLoss) == 0 || lossOf(first.BestValLoss) == 0 {
		t.Fatalf("session stopped at step 12: %+v, %v", first, err)
	}
	// A session stopped before its first step: the run's losses still.
	cancel(nil)
	second, err := Pretrain(ctx, cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
	if err != nil || second.Status != "interrupted" || second.Step != 12 {
		t.Fatalf("second session: %+v, %v", second, err)
	}
	if lossOf(second.ValLoss) != lossOf(first.ValLoss) || lossOf(second.BestValLoss) != lossOf(first.BestValLoss) || lossOf(second.TrainLoss) != lossOf(first.TrainLoss) {
		t.Errorf("after a session with no step: val %v, best %v, train %v; the run had %v, %v, %v",
			lossOf(second.ValLoss), lossOf(second.BestValLoss), lossOf(second.TrainLoss), lossOf(first.ValLoss), lossOf(first.BestValLoss), lossOf(first.TrainLoss))
	}
	if s := readFile(t, filepath.Join(dir, "summary.json")); strings.Contains(s, `_loss": 0,`) {
		t.Errorf("summary.json holds a loss of 0:\n%s", s)
	}
}

// snapshot maps every file of a run directory but its lock to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".lock" {
			return err
		}
		files[strings.TrimPrefix(path, dir)] = readFile(t, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameFiles reports the first difference between two snapshots.
func sameFiles(a, b map[string]string) string {
	for f := range a {
		if _, ok := b[f]; !ok {
			return f + " is gone"
		}
	}
	for f, v := range b {
		if w, ok := a[f]; !ok {
			return f + " is new"
		} else if v != w {
			return f + " changed"
		}
	}
	return ""
}

// --resume of a finished run says so and leaves every file as it was (no
// new summary, checkpoint rotation or event file); killed between its last
// checkpoint and its summary, it writes the summary from the checkpoint.
// A finished run whose checkpoints were removed has nothing to resume.
func TestResumeFinishedRun(t *testing.T) {
	dir := t.TempDir()
	if _, err := Pretrain(context.Background(), tinyConfig(t), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	resume := func() (*Summary, string, error) {
		cfg, err := Load(filepath.Join(dir, "train.yaml"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		sum, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log})
		return sum, log.String(), err
	}
	before := snapshot(t, dir)
	var want Summary
	json.Unmarshal([]byte(before["/summary.json"]), &want)
	sum, log, err := resume()
	if err != nil || !strings.Contains(log, "is complete at step 20 (max_steps 20): nothing to do") {
		t.Fatalf("resume of a finished run: %v, log %q", err, log)
	}
	if diff := sameFiles(before, snapshot(t, dir)); diff != "" {
		t.Errorf("resume of a finished run: %s", diff)
	}
	if got, _ := json.Marshal(sum); sum == nil || string(got) != mustJSON(t, want) {
		t.Errorf("summary %s, want the run's %s", got, mustJSON(t, want))
	}

	os.Remove(filepath.Join(dir, "summary.json")) // a kill after the last checkpoint
	if sum, _, err = resume(); err != nil || sum.Status != "completed" || sum.Step != 20 || lossOf(sum.ValLoss) != lossOf(want.ValLoss) ||
		lossOf(sum.BestValLoss) != lossOf(want.BestValLoss) || lossOf(sum.TrainLoss) != lossOf(want.TrainLoss) || sum.Best != want.Best {
		t.Errorf("resume of a finished run without summary.json: %+v, %v; want %+v", sum, err, want)
	}
	delete(before, "/summary.json")
	after := snapshot(t, dir)
	delete(after, "/summary.json")
	if diff := sameFiles(before, after); diff != "" {
		t.Errorf("resume of a finished run without summary.json: %s", diff)
	}

	os.RemoveAll(filepath.Join(dir, "checkpoint"))
	os.RemoveAll(filepath.Join(dir, "checkpoint.prev"))
	var ie *InputError
	if _, _, err := resume(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "nothing to continue from") {
		t.Errorf("resume of a finished run without checkpoints: %v, want an InputError", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "best", "model.safetensors")); err != nil {
		t.Errorf("best/ after a refused resume: %v", err)
	}
}

// A run directory that holds a checkpoint is not written over by a new run
// (only --resume continues it), and a resume keeps the run's model: an
// override of an architecture key is an error naming it, while a training
// setting such as dropout may change.
func TestRunDirectoryIsNotOverwritten(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=10")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(dir, "checkpoint", "model.safetensors"))
	_, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "already holds a run") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("a new run over a finished one: %v", err)
	}
	if readFile(t, filepath.Join(dir, "checkpoint", "model.safetensors")) != before {
		t.Fatal("the refused run changed the checkpoint")
	}
	// Nor is one of its model directories taken as a run directory, new or
	// resumed: nothing is written into it.
	for _, sub := range []string{"checkpoint", "best"} {
		for _, resume := range []bool{false, true} {
			out := filepath.Join(dir, sub)
			_, err := Pretrain(context.Background(), cfg, Options{OutDir: out, Resume: resume, Log: io.Discard})
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), "is a model or checkpoint directory") {
				t.Errorf("--out %s (resume %v): %v, want an input error", sub, resume, err)
			}
			if _, err := os.Stat(filepath.Join(out, ".lock")); err == nil {
				t.Errorf("--out %s (resume %v) left a lock file in it", sub, resume)
			}
		}
	}

	resume := func(sets ...string) error {
		c, err := Load(filepath.Join(dir, "train.yaml"), append([]string{"max_steps=12"}, sets...))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Pretrain(context.Background(), c, Options{OutDir: dir, Resume: true, Log: io.Discard})
		return err
	}
	var ce *ConfigError
	if err := resume("n_layer=2"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "n_layer 2, but the run's model has 1") {
		t.Errorf("resume with another n_layer: %v", err)
	}
	// max_steps below the run's step is refused, the run left as it was.
	summary := readFile(t, filepath.Join(dir, "summary.json"))
	if err := resume("max_steps=5"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "max_steps 5, but the run is at step 10") {
		t.Errorf("resume with max_steps below the run's step: %v", err)
	}
	if readFile(t, filepath.Join(dir, "summary.json")) != summary {
		t.Error("the refused resume rewrote summary.json")
	}
	// The tokenizer and init_from make the model too: refused, and
	// train.yaml keeps the run's.
	for sets, want := range map[string]string{
		"tokenizer=byte":           `tokenizer "byte", but the run's is "char"`,
		"init_from=" + t.TempDir(): `init_from "/`,
	} {
		if err := resume(sets); !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "a run keeps its model") {
			t.Errorf("resume with %s: %v, want a config error with %q", sets, err, want)
		}
	}
	if job := readFile(t, filepath.Join(dir, "train.yaml")); !strings.Contains(job, "tokenizer: char") || !strings.Contains(job, `init_from: ""`) {
		t.Errorf("train.yaml after refused resumes:\n%s", job)
	}
	// So is the validation set: another share, or another file.
	for sets, want := range map[string]string{
		"val_fraction=0.2": "val_fraction 0.2, but the run's is 0.1",
		"val_data=" + writeFile(t, filepath.Join(t.TempDir(), "v.txt"), "abc"): "val_data",
	} {
		if err := resume(sets); !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "a run keeps its validation set") {
			t.Errorf("resume with %s: %v, want a config error with %q", sets, err, want)
		}
	}

	if err := resume("dropout=0.2"); err != nil {
		t.Fatalf("resume with another dropout: %v", err)
	}
	if job := readFile(t, filepath.Join(dir, "train.yaml")); !strings.Contains(job, "dropout: 0.2") {
		t.Errorf("train.yaml after a resume with dropout 0.2:\n%s", job)
	}
}

// A run whose checkpoints were removed (the user kept best/, or only its
// summary or metrics) is still a run: a new run is refused it, and the
// message names what was found. A directory with only train.yaml and an
// empty metrics.jsonl (a job killed at once) is not a run.
func TestNewRunRefusesRunWithoutCheckpoint(t *testing.T) {
	base := t.TempDir()
	cfg := tinyConfig(t, "max_steps=10")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{"best", "summary.json", "metrics.jsonl", "failed", ""} {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"checkpoint", "checkpoint.prev", "best", "summary.json", "metrics.jsonl"} {
			if f != keep {
				os.RemoveAll(filepath.Join(dir, f))
			}
		}
		if keep == "" {
			writeFile(t, filepath.Join(dir, "metrics.jsonl"), "")
		}
		if keep == "failed" { // a run that failed before its first checkpoint
			writeFile(t, filepath.Join(dir, "summary.json"), `{"status": "failed", "step": 5}`)
		}
		probe := filepath.Join(dir, keep) // what the refused run must leave alone
		if keep == "best" {
			probe = filepath.Join(probe, "model.safetensors")
		}
		var before string
		if keep == "best" || keep == "summary.json" {
			before = readFile(t, probe)
		}
		_, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard})
		if before == "" { // nothing to continue from or keep
			if err != nil {
				t.Errorf("a directory with %q beside train.yaml: %v, want a new run", keep, err)
			}
			continue
		}
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "already holds a run") || !strings.Contains(err.Error(), keep) {
			t.Errorf("a new run over a run with only %s: %v, want an InputError naming it", keep, err)
		}
		if readFile(t, probe) != before {
			t.Errorf("the refused run changed %s", keep)
		}
	}
}

// A resume on token shards whose seq_len or data changed cannot restore
// its data position: a config error (exit 2) naming the key and its value
// in the run, not a runtime failure; shards changed on disk are bad input.
func TestResumeOnShardsWithChangedData(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("to be, or not to be: that is the question. ", 400)
	tok := data.NewCharTokenizer(text)
	prepare := func(name, text string) string {
		out := filepath.Join(dir, name)
		corpus := writeFile(t, filepath.Join(dir, name+".txt"), text)
		if _, err := data.Prepare(data.PrepareOptions{Tokenizer: tok, Inputs: []string{corpus}, OutDir: out, ValFraction: 0.2, Workers: 1}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	shards, other := prepare("shards", text), prepare("other", text[:len(text)/2])
	run := filepath.Join(dir, "run")
	cfg := tinyConfig(t, "data="+shards, "max_steps=4", "checkpoint_interval=0")
	ctx, cancel := context.WithCancelCause(context.Background())
	if _, err := Pretrain(ctx, cfg, Options{OutDir: run, Log: io.Discard, AfterStep: func(int) { cancel(nil) }}); err != nil {
		t.Fatal(err)
	}
	job := readFile(t, filepath.Join(run, "train.yaml"))
	for _, c := range []struct{ set, want string }{
		{"seq_len=8", "seq_len 8, but the run trains on sequences of 16"},
		{"data=" + other, "data " + other + ", but the run trains on " + shards},
	} {
		rc, err := Load(filepath.Join(run, "train.yaml"), []string{c.set})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Pretrain(context.Background(), rc, Options{OutDir: run, Resume: true, Log: io.Discard})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("resume with %s: %v, want a config error with %q", c.set, err, c.want)
		}
	}
	if readFile(t, filepath.Join(run, "train.yaml")) != job {
		t.Error("a refused resume rewrote train.yaml")
	}
	// Prepared again from text edited to the same length: the same token
	// count, other ids.
	prepare("shards", strings.Replace(text, "question", "noitseuq", 1))
	rc, err := Load(filepath.Join(run, "train.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pretrain(context.Background(), rc, Options{OutDir: run, Resume: true, Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "prepared again") {
		t.Errorf("resume on shards prepared again from edited text: %v, want an input error", err)
	}
}

// A corpus saved with a byte order mark reads as the same text: the mark is
// not a character of the vocabulary or of the training tokens.
func TestCorpusBOM(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("to be, or not to be: that is the question.\n", 20)
	plain, marked, only := filepath.Join(dir, "plain.txt"), filepath.Join(dir, "bom.txt"), filepath.Join(dir, "only.txt")
	writeFile(t, plain, text)
	writeFile(t, marked, "\ufeff"+text)
	writeFile(t, only, "\ufeff")
	a, err := loadCorpus(context.Background(), tinyConfig(t, "data="+plain), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadCorpus(context.Background(), tinyConfig(t, "data="+marked), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a.tok.VocabSize() != b.tok.VocabSize() || !slices.Equal(memIDs(a.train.mem), memIDs(b.train.mem)) || !slices.Equal(memIDs(a.val.mem), memIDs(b.val.mem)) {
		t.Fatalf("with a BOM: vocab %d, %d training tokens; without: vocab %d, %d tokens",
			b.tok.VocabSize(), b.train.len(), a.tok.VocabSize(), a.train.len())
	}
	if _, err := loadCorpus(context.Background(), tinyConfig(t, "data="+only), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "the file is empty") {
		t.Fatalf("a file holding only a BOM: %v, want \"the file is empty\"", err)
	}
}

// A .jsonl corpus is read as data prepare reads it: the "text" of each line
// is a document, followed by the end-of-text token where the tokenizer has
// one; the JSON around it is not text. eval reads it the same way.
func TestCorpusJSONL(t *testing.T) {
	dir := t.TempDir()
	docs := []string{"to be, or not to be: that is the question.\n", "whether 'tis nobler in the mind to suffer", "the slings and arrows of outrageous fortune"}
	var jl strings.Builder
	jl.WriteString("\ufeff")
	for _, d := range docs {
		b, _ := json.Marshal(map[string]any{"text": strings.Repeat(d, 8), "id": 7})
		jl.Write(b)
		jl.WriteString("\r\n\n")
	}
	path := filepath.Join(dir, "docs.jsonl")
	writeFile(t, path, jl.String())

	c, err := loadCorpus(context.Background(), tinyConfig(t, "data="+path, "val_fraction=0.2"), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	for _, d := range docs {
		text += strings.Repeat(d, 8)
	}
	want := data.NewCharTokenizer(text)
	if c.tok.VocabSize() != want.VocabSize() || c.tok.Decode(toInts(append(memIDs(c.train.mem), memIDs(c.val.mem)...))) != text {
		t.Fatalf("char corpus from JSONL: vocab %d (want %d), the tokens do not decode to the documents", c.tok.VocabSize(), want.VocabSize())
	}

	bpeDir := filepath.Join(dir, "bpe")
	text1 := filepath.Join(dir, "plain.txt")
	writeFile(t, text1, strings.Repeat(text, 4))
	bpe, err := data.TrainBPE([]string{text1}, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(bpeDir, 0o755)
	if err := bpe.Save(bpeDir); err != nil {
		t.Fatal(err)
	}
	c, err = loadCorpus(context.Background(), tinyConfig(t, "data="+path, "tokenizer="+bpeDir, "val_fraction=0.2", "n_ctx=8"), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var ids Tokens
	for _, d := range docs {
		for _, id := range bpe.Encode(strings.Repeat(d, 8)) {
			ids = append(ids, int32(id))
		}
		ids = append(ids, int32(bpe.EOT()))
	}
	if got := append(memIDs(c.train.mem), memIDs(c.val.mem)...); !slices.Equal(got, ids) {
		t.Fatalf("BPE corpus from JSONL: %d tokens, want %d (each document and its end-of-text token)", len(got), len(ids))
	}

	bad := filepath.Join(dir, "bad.jsonl")
	writeFile(t, bad, "{\"text\": \"fine\"}\n\n{\"body\": \"no text\"}\n")
	if _, err := loadCorpus(context.Background(), tinyConfig(t, "data="+bad), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "bad.jsonl:3: want a JSON object") {
		t.Fatalf("a line without text: %v, want its file and line", err)
	}
}

// memIDs is the ids of m, 32 bits each.
func memIDs(m memTokens) Tokens {
	ids := make(Tokens, m.Len())
	m.Window(ids, 0)
	return ids
}

func toInts(ids Tokens) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

// data: a glob pattern reads every file it matches, in name order, each a
// document (a .jsonl file its lines), kept apart by the end-of-text token
// where the tokenizer has one; a pattern that matches nothing is refused.
func TestCorpusGlob(t *testing.T) {
	dir := t.TempDir()
	docs := []string{"first document, the longest of them all.\n", "second one\n", "and a third"}
	for i, d := range docs {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("part%d.txt", i)), d)
	}
	writeFile(t, filepath.Join(dir, "notes.md"), "not matched")
	text := filepath.Join(dir, "all.txt")
	writeFile(t, text, strings.Repeat(strings.Join(docs, ""), 30))
	bpe, err := data.TrainBPE([]string{text}, 280, nil)
	if err != nil {
		t.Fatal(err)
	}
	bpeDir := filepath.Join(dir, "bpe")
	os.Mkdir(bpeDir, 0o755)
	if err := bpe.Save(bpeDir); err != nil {
		t.Fatal(err)
	}
	got, err := corpusDocs(filepath.Join(dir, "part*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, docs) {
		t.Fatalf("documents %q, want %q", got, docs)
	}
	ids, err := encodeCorpus("data", filepath.Join(dir, "part*.txt"), bpe)
	if err != nil {
		t.Fatal(err)
	}
	var want Tokens
	for _, d := range docs {
		for _, id := range bpe.Encode(d) {
			want = append(want, int32(id))
		}
		want = append(want, int32(bpe.EOT()))
	}
	if !slices.Equal(memIDs(ids), want) {
		t.Errorf("%d ids, want %d: each document and its end-of-text token", ids.Len(), len(want))
	}
	// The same documents as JSON lines in a .json file, as dataset tools'
	// to_json writes them, are the same documents.
	var lines strings.Builder
	for _, d := range docs {
		b, _ := json.Marshal(map[string]string{"text": d})
		lines.Write(append(b, '\n'))
	}
	writeFile(t, filepath.Join(dir, "docs.json"), lines.String())
	if got, err := corpusDocs(filepath.Join(dir, "docs.json")); err != nil || !slices.Equal(got, docs) {
		t.Errorf("JSON lines in a .json file: %q, %v; want %q", got, err, docs)
	}
	err = readCorpus(context.Background(), "data", filepath.Join(dir, "*.csv"), data.SpaceCuts, func(string, string, bool) error { return nil })
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no files match") {
		t.Errorf("a pattern that matches nothing: %v", err)
	}
	// An empty file among others is no document, whether it comes first
	// or later (the first used to fail, a later one to pass); all empty is
	// an error.
	writeFile(t, filepath.Join(dir, "part.txt"), "")
	writeFile(t, filepath.Join(dir, "part9.txt"), "")
	if got, err := corpusDocs(filepath.Join(dir, "part*.txt")); err != nil || !slices.Equal(got, docs) {
		t.Errorf("a pattern with empty files first and last: %q, %v; want %q", got, err, docs)
	}
	writeFile(t, filepath.Join(dir, "empty1.txt"), "")
	writeFile(t, filepath.Join(dir, "empty2.txt"), "")
	err = readCorpus(context.Background(), "val_data", filepath.Join(dir, "*9.txt"), data.SpaceCuts, func(string, string, bool) error { return nil })
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "val_data") || !strings.Contains(err.Error(), "the file is empty") {
		t.Errorf("an empty validation file: %v", err)
	}
	err = readCorpus(context.Background(), "data", filepath.Join(dir, "empty*.txt"), data.SpaceCuts, func(string, string, bool) error { return nil })
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the 2 files are empty") {
		t.Errorf("a pattern of empty files: %v", err)
	}
}

// corpusDocs is the documents readCorpus reads from path.
func corpusDocs(path string) ([]string, error) {
	var docs []string
	err := readCorpus(context.Background(), "data", path, data.SpaceCuts, func(_, s string, doc bool) error {
		if doc {
			docs = append(docs, "")
		}
		docs[len(docs)-1] += s
		return nil
	})
	return docs, err
}

// Errors about the validation file name val_data, not data.
func TestValDataErrorsNameIt(t *testing.T) {
	dir := t.TempDir()
	for set, want := range map[string]string{
		"val_data=" + writeFile(t, filepath.Join(dir, "tiny.txt"), "To be"): "val_data " + filepath.Join(dir, "tiny.txt") + ": 5 tokens; windows of 16",
		"val_data=" + filepath.Join(dir, "nomatch*"):                        "val_data: input",
	} {
		_, err := Pretrain(context.Background(), tinyConfig(t, set), Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want an input error with %q", set, err, want)
		}
	}
}

// grad_accum N over batches of B takes the step one batch of N*B would:
// the micro-batches are the big batch's rows in order, and the mean of
// their mean gradients is its mean gradient (to float32 rounding).
func TestGradAccumEqualsBigBatch(t *testing.T) {
	run := func(sets ...string) string {
		dir := t.TempDir()
		if _, err := Pretrain(context.Background(), tinyConfig(t, append(sets, "dropout=0", "max_steps=6")...), Options{OutDir: dir, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "checkpoint", "model.safetensors")
	}
	accum, big := run("batch_size=4", "grad_accum=2"), run("batch_size=8")
	a, err := data.ReadSafetensors(accum)
	if err != nil {
		t.Fatal(err)
	}
	b, err := data.ReadSafetensors(big)
	if err != nil {
		t.Fatal(err)
	}
	for name, ta := range a.Tensors {
		x, _ := ta.Float32()
		y, _ := b.Tensors[name].Float32()
		for i := range x {
			if d := math.Abs(float64(x[i] - y[i])); d > 1e-5 {
				t.Fatalf("%s[%d]: %v with grad_accum 2, %v with one batch of 8", name, i, x[i], y[i])
			}
		}
	}
}

// The summary of a run that fails names only what it wrote: no checkpoint
// before its first, no best/ before its first evaluation; its wall time is
// the time it trained.
func TestFailedRunSummary(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "lr=1e30", "grad_clip=0", "warmup_steps=0", "max_steps=50", "checkpoint_interval=0", "eval_interval=0", "log_interval=1")
	_, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard})
	var ne *NonFiniteError
	if !errors.As(err, &ne) {
		t.Fatalf("lr 1e30: %v, want a NonFiniteError", err)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "summary.json"))), &sum); err != nil {
		t.Fatal(err)
	}
	_, hasCk := sum["checkpoint"]
	_, hasBest := sum["best"]
	if sum["status"] != "failed" || hasCk || hasBest || !(sum["wall_seconds"].(float64) > 0) {
		t.Errorf("summary of a run that failed at step %v: %v", sum["step"], sum)
	}
}

// --resume --set changes the optimizer's settings as it changes train.yaml:
// a resume with another weight_decay trains with it, and ends elsewhere
// than a plain resume.
func TestResumeTakesOptimizerSettings(t *testing.T) {
	base := t.TempDir()
	cfg := tinyConfig(t, "max_steps=10", "checkpoint_interval=0", "dropout=0")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	model := map[string]string{}
	for _, wd := range []string{"0.1", "0.9"} {
		dir := filepath.Join(t.TempDir(), "run")
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, ".lock"))
		resumed := tinyConfig(t, "max_steps=20", "checkpoint_interval=0", "dropout=0", "weight_decay="+wd, "beta1=0.8", "eps=1e-6")
		r, err := newRun(resumed, Options{OutDir: dir, Resume: true, Log: io.Discard}, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		r.close()
		if o := r.optim; o.WeightDecay != resumed.WeightDecay || o.Beta1 != 0.8 || o.Eps != 1e-6 || o.Step != 10 {
			t.Errorf("weight_decay %s: resumed optimizer %v %v %v at step %d, want the job's settings at step 10", wd, o.Beta1, o.Eps, o.WeightDecay, o.Step)
		}
		if _, err := Pretrain(context.Background(), resumed, Options{OutDir: dir, Resume: true, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		model[wd] = readFile(t, filepath.Join(dir, "checkpoint", "model.safetensors"))
	}
	if model["0.1"] == model["0.9"] {
		t.Error("resumes with weight_decay 0.1 and 0.9 ended with the same weights")
	}
}

// max_time counts from the job's start (Options.Started), setup included,
// and leaves room for an evaluation the next step makes: three times the
// slowest step with its work, or, before any evaluation was timed, an
// estimate from the mean step.
func TestMaxTimeBudget(t *testing.T) {
	// A job that spent its time before its first step fails (exit status
	// 2): stopped as interrupted, each resume would stop there again.
	dir := t.TempDir()
	sum, err := Pretrain(context.Background(), tinyConfig(t, "max_time=30m"), Options{OutDir: dir, Log: io.Discard, Started: time.Now().Add(-time.Hour)})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "max_time 30m0s was spent before this job's first step") || sum != nil {
		t.Errorf("a job started an hour before a 30m limit: %v, %+v; want a ConfigError and no summary", err, sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err == nil {
		t.Error("the job wrote a summary: the run did not fail, and a resume with more time goes on")
	}
	cfg := synthClassifier(t, t.TempDir(), 60, "max_time: 30m\n")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: t.TempDir(), Log: io.Discard, Started: time.Now().Add(-time.Hour)}); !errors.As(err, &ce) {
		t.Errorf("a finetune started an hour before a 30m limit: %v, want a ConfigError", err)
	}
	var p pace
	for range 4 {
		p.step(10 * time.Millisecond)
	}
	p.save = 100 * time.Millisecond
	ms := time.Millisecond
	if got := p.budget(false, false, 200, 1); got != 20*ms+100*ms {
		t.Errorf("budget without an evaluation or checkpoint: %v, want 2 x 10ms + the last checkpoint", got)
	}
	if got := p.budget(false, true, 200, 1); got != 20*ms+200*ms {
		t.Errorf("budget with a checkpoint: %v, want 2 x 10ms + 2 checkpoints", got)
	}
	if got := p.budget(true, false, 200, 2); got != 120*ms+500*ms {
		t.Errorf("budget before the first evaluation: %v, want 120ms + 200 batches x 10ms/2/2", got)
	}
	p.evaluated(time.Second)
	if got := p.budget(true, false, 200, 1); got != 120*ms+time.Second {
		t.Errorf("budget after an evaluation of 1s: %v, want 120ms + 1s", got)
	}
	if got := p.budget(false, false, 200, 1); got != 120*ms {
		t.Errorf("a step that does not evaluate keeps room for none: %v", got)
	}
}

// eval, generate and --init read a run's latest intact checkpoint, as
// --resume does: a damaged checkpoint/ gives way to checkpoint.prev/; a
// checkpoint directory named directly is read as it is.
func TestModelDirSkipsDamagedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=20", "checkpoint_interval=10"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if md, err := ModelDir(dir); err != nil || md != filepath.Join(dir, "checkpoint") {
		t.Fatalf("ModelDir of an intact run: %s, %v", md, err)
	}
	model := filepath.Join(dir, "checkpoint", "model.safetensors")
	b, _ := os.ReadFile(model)
	b[len(b)-3] ^= 0xff
	os.WriteFile(model, b, 0o644)
	os.Chtimes(filepath.Join(dir, "checkpoint", "state.json"), time.Now(), time.Now().Add(time.Second)) // past the remembered check
	if md, err := ModelDir(dir); err != nil || md != filepath.Join(dir, "checkpoint.prev") {
		t.Errorf("ModelDir of a run with a damaged checkpoint/: %s, %v; want checkpoint.prev", md, err)
	}
	if md, err := ModelDir(filepath.Join(dir, "checkpoint")); err != nil || md != filepath.Join(dir, "checkpoint") {
		t.Errorf("ModelDir of the checkpoint itself: %s, %v; want it as it is (a copy a user edited is no run's)", md, err)
	}
	// The notes eval, generate and predict print: the fallback, and a
	// checkpoint named directly whose files are not those state.json lists.
	if _, note, _ := ModelDirNote(dir); !strings.Contains(note, "model.safetensors") || !strings.Contains(note, "reading "+filepath.Join(dir, "checkpoint.prev")) {
		t.Errorf("note on the run: %q, want the damaged file and checkpoint.prev", note)
	}
	if _, note, _ := ModelDirNote(filepath.Join(dir, "checkpoint")); !strings.Contains(note, "model.safetensors") || !strings.Contains(note, "read as they are") {
		t.Errorf("note on the checkpoint named: %q", note)
	}
	if _, note, _ := ModelDirNote(filepath.Join(dir, "checkpoint.prev")); note != "" {
		t.Errorf("note on an intact checkpoint: %q", note)
	}
	if _, err := EvalLM(dir, "builtin", InferOptions{Batch: 4}); err != nil {
		t.Errorf("eval of the run: %v", err)
	}
}

// A batch no machine here could train is a config error naming it, not an
// out-of-memory death after a long allocation.
func TestPretrainRefusesHopelessBatch(t *testing.T) {
	graph.MemoryLimit = 12 << 30 // a machine of 12 GB, whatever this one has
	defer func() { graph.MemoryLimit = 0 }()
	_, err := Pretrain(context.Background(), tinyConfig(t, "batch_size=100000000"), Options{OutDir: t.TempDir(), Log: io.Discard})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "batch_size 100000000") {
		t.Errorf("batch_size 1e8: %v, want a config error naming it", err)
	}
	// GPT-2 124M at batch 8 x 1024 takes about 17 GB on the CPU: not
	// refused on a machine of 12 GB (only what needs twice is), but noted.
	gpt2, err := Load("", []string{"arch=gpt2", "n_layer=12", "n_head=12", "n_embd=768", "n_ctx=1024", "vocab_size=50257", "batch_size=8"})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if err := gpt2.fitsTraining(&log); err != nil || !strings.HasPrefix(log.String(), "note: training with batch_size 8 and seq_len 1024 needs about ") ||
		!strings.Contains(log.String(), "more than the 12.0 GB of memory and swap this process may use: it may run out of memory") {
		t.Errorf("GPT-2 124M, batch 8, on 12 GiB: %v, note %q; want it run with a note", err, log.String())
	}
	log.Reset()
	graph.MemoryLimit = 64 << 30
	if err := gpt2.fitsTraining(&log); err != nil || log.Len() > 0 {
		t.Errorf("GPT-2 124M, batch 8, on 64 GiB: %v, note %q; want neither", err, log.String())
	}
}

// A job killed while writing a file atomically leaves its temporary file;
// the next job in the directory removes it.
func TestStaleTemporaryFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	var stale []string
	for _, name := range []string{".metrics.jsonl.tmp-123456", ".events.out.tfevents.1700000000.host.gptctl.tmp-42"} {
		stale = append(stale, filepath.Join(dir, name))
		os.WriteFile(stale[len(stale)-1], []byte("half"), 0o644)
	}
	other := filepath.Join(dir, ".notes.txt.tmp-7") // not the run's: kept
	os.WriteFile(other, []byte("mine"), 0o644)
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=2"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("the stale temporary file %s is still there", filepath.Base(f))
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another writer's %s was removed: %v", filepath.Base(other), err)
	}
	// A half-written best/ or checkpoint/ of a killed job goes too, even
	// when the next job writes neither (here a resume of the finished run).
	for _, d := range []string{".best.tmp", ".checkpoint.tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "model.safetensors"), []byte("half"), 0o644)
	}
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=2"), Options{OutDir: dir, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".best.tmp", ".checkpoint.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("the half-written %s is still there", d)
		}
	}
}

// A resume keeps the keys that draw the validation batches, which best/
// compares over: seed, batch_size and eval_batches changed are refused,
// naming the key (the seed was written into train.yaml and did nothing).
func TestResumeKeepsValidationDraw(t *testing.T) {
	dir := t.TempDir()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=4"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"seed=7", "batch_size=8", "eval_batches=5"} {
		_, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=8", set), Options{OutDir: dir, Resume: true, Log: io.Discard})
		var ce *ConfigError
		if key, _, _ := strings.Cut(set, "="); !errors.As(err, &ce) || !strings.Contains(err.Error(), "--resume: "+key) {
			t.Errorf("--resume --set %s: %v, want a config error naming %s", set, err, key)
		}
	}
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=8", "grad_accum=2"), Options{OutDir: dir, Resume: true, Log: io.Discard}); err != nil {
		t.Errorf("--resume --set grad_accum=2: %v", err)
	}
}

// A token shard given as the text corpus (data: DIR/train_000.bin rather
// than data: DIR) is refused, naming the directory to give instead.
func TestPretrainRefusesShardAsText(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "t.txt"), strings.Repeat("some text to shard. ", 200))
	if _, err := data.Prepare(data.PrepareOptions{Tokenizer: data.ByteTokenizer{}, Inputs: []string{in}, OutDir: filepath.Join(dir, "sh"), ValFraction: 0.1}); err != nil {
		t.Fatal(err)
	}
	_, err := Pretrain(context.Background(), tinyConfig(t, "tokenizer=byte", "data="+filepath.Join(dir, "sh", "train_000.bin")), Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "is a token shard") || !strings.Contains(err.Error(), filepath.Join(dir, "sh")+")") {
		t.Errorf("pretrain on a shard file: %v", err)
	}
}

// A warmup longer than the run is allowed (a short trial of a long
// recipe) but said: the learning rate never reaches lr.
func TestWarmupBeyondMaxStepsWarns(t *testing.T) {
	var log strings.Builder
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=4", "warmup_steps=10", "lr=1e-3"), Options{OutDir: t.TempDir(), Log: &log}); err != nil {
		t.Fatal(err)
	}
	if want := "warning: warmup_steps 10 exceeds max_steps 4: the learning rate peaks at 0.0004, not lr 0.001"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
}

// A patience the run has no evaluation to use (only the last step's) is
// said, as pretraining evaluates only at its end with eval_interval 0.
func TestPatienceWithoutEvaluationsWarns(t *testing.T) {
	for _, c := range []struct {
		sets []string
		warn bool
	}{
		{[]string{"patience=2", "eval_interval=0"}, true},
		{[]string{"patience=2", "eval_interval=8"}, true},
		{[]string{"patience=2", "eval_interval=2"}, false},
		{[]string{"patience=0", "eval_interval=0"}, false},
	} {
		var log strings.Builder
		if _, err := Pretrain(context.Background(), tinyConfig(t, append(c.sets, "max_steps=4")...), Options{OutDir: t.TempDir(), Log: &log}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(log.String(), "warning: patience 2 stops nothing: the run evaluates only at its last step"); got != c.warn {
			t.Errorf("%v: warning %v, want %v:\n%s", c.sets, got, c.warn, log.String())
		}
	}
}

// A run resumed from another working directory cannot find the corpus its
// job file names by a relative path: the error says why and what to do.
func TestResumeFromElsewhereNamesRelativePath(t *testing.T) {
	start, out := t.TempDir(), filepath.Join(t.TempDir(), "run")
	t.Chdir(start)
	writeFile(t, "c.txt", strings.Repeat("to be or not to be, that is the question. ", 40))
	if _, err := Pretrain(context.Background(), tinyConfig(t, "data=c.txt", "max_steps=10"), Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	_, err := Pretrain(context.Background(), tinyConfig(t, "data=c.txt", "max_steps=20"), Options{OutDir: out, Resume: true, Log: io.Discard})
	var ie *InputError
	if want := "c.txt is relative, as " + filepath.Join(out, "train.yaml") + " names it"; !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
		t.Errorf("resume from elsewhere: %v, want an InputError containing %q", err, want)
	}
	// A corpus this job names (--data, --set data=) that is not there is
	// not blamed on the job file.
	_, err = Pretrain(context.Background(), tinyConfig(t, "data=moved.txt", "max_steps=20"), Options{OutDir: out, Resume: true, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "moved.txt") || strings.Contains(err.Error(), "names it") {
		t.Errorf("resume with a corpus not there: %v, want the error without the job file's note", err)
	}
}

// A job's first step cannot budget an evaluation before it (no step was
// timed), so the job checks again after that step: an evaluation that
// would pass max_time is left due in the checkpoint, not run past the
// limit.
func TestMaxTimeBeforeFirstEvaluation(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	// 400,000 evaluation batches: half a step each is minutes, far past 10 s.
	sum, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=5", "eval_interval=1", "eval_batches=400000", "max_time=10s"), Options{OutDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "interrupted" || sum.Step != 1 || !strings.Contains(sum.Interruption, "max_time 10s reached") {
		t.Errorf("summary %+v, want interrupted by max_time after step 1", sum)
	}
	if line := lineWith(log.String(), "max_time 10s reached"); !strings.Contains(line, "stopping at step 1 with a checkpoint, the evaluation due") {
		t.Errorf("log line %q", line)
	}
	ck, err := readCheckpoint(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.State.Step != 1 || ck.State.EvalDue == nil || ck.State.EvalDue["train_loss"] == nil {
		t.Errorf("checkpoint at step %d with the evaluation due %v, want step 1 and its metrics line", ck.State.Step, ck.State.EvalDue)
	}
}

// stopBeforeEval stops a job only after its first step, when the
// evaluation estimated from that step, and a checkpoint, would pass the
// limit.
func TestStopBeforeEval(t *testing.T) {
	ms := time.Millisecond
	var p pace
	p.step(10 * ms) // evaluation estimate: 200 batches x 10ms/2 = 1s
	p.save = 500 * ms
	opt := Options{MaxTime: 10 * time.Second, Log: io.Discard}
	if why := p.stopBeforeEval(opt, 0, time.Now().Add(-8*time.Second), 200, 1, 1); why != "" {
		t.Errorf("8s spent, 1.5s more to come, in a 10s limit: %q", why)
	}
	var log strings.Builder
	opt.Log = &log
	if why := p.stopBeforeEval(opt, 0, time.Now().Add(-9*time.Second), 200, 1, 1); why != "max_time 10s reached" || !strings.Contains(log.String(), "about 1s") {
		t.Errorf("9s spent, 1.5s more to come: %q, log %q", why, log.String())
	}
	if why := p.stopBeforeEval(Options{Log: io.Discard}, 0, time.Now().Add(-time.Hour), 200, 1, 1); why != "" {
		t.Errorf("no limit: %q", why)
	}
	if why := p.stopBeforeEval(opt, 10*time.Second, time.Now().Add(-8800*ms), 200, 2, 1); why != "" {
		t.Errorf("grad_accum 2 halves the estimate: %q", why)
	}
	p.step(10 * ms) // later steps' evaluations are in the budget before the step
	if why := p.stopBeforeEval(opt, 0, time.Now().Add(-time.Hour), 200, 1, 2); why != "" {
		t.Errorf("a second step: %q", why)
	}
}

// patience stops a pretraining run after that many evaluations without a
// better validation loss, as completed, with best/ at the best one; a
// resume with the same patience does nothing, one with more goes on.
func TestPatienceStopsEarly(t *testing.T) {
	dir := t.TempDir()
	// A learning rate of 1e-30 moves no weight enough to change a float32
	// loss: every evaluation equals the first, and none is better.
	cfg := tinyConfig(t, "max_steps=40", "eval_interval=5", "lr=1e-30", "min_lr=0", "patience=2")
	var log strings.Builder
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	why := "no better val_loss in 2 evaluations after step 5 (patience 2)"
	if sum.Status != "completed" || sum.Step != 15 || sum.BestStep != 5 || sum.StoppedEarly != why {
		t.Errorf("summary %+v, want completed at step 15 with best step 5, stopped early: %s", sum, why)
	}
	if !strings.Contains(log.String(), "stopping early at step 15: "+why) {
		t.Errorf("log %q does not say it stops early", log.String())
	}
	if ck, err := readCheckpoint(filepath.Join(dir, "checkpoint")); err != nil || ck.State.Step != 15 {
		t.Errorf("checkpoint: %v, %v; want step 15", ck, err)
	}
	if rec, err := readBest(dir); err != nil || rec == nil || rec.Step != 5 {
		t.Errorf("best/ %+v, %v; want step 5", rec, err)
	}
	log.Reset()
	again, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log})
	if err != nil || again.Step != 15 || again.StoppedEarly != why || !strings.Contains(log.String(), "nothing to do") {
		t.Errorf("resume with the same patience: %+v, %v, log %q; want nothing done", again, err, log.String())
	}
	cfg.Patience = 3 // one more evaluation, at step 20, then it stops again
	more, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
	if err != nil || more.Step != 20 || more.StoppedEarly != "no better val_loss in 3 evaluations after step 5 (patience 3)" {
		t.Errorf("resume with patience 3: %+v, %v; want a stop at step 20", more, err)
	}
	cfg.Patience = 0
	rest, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
	if err != nil || rest.Step != 40 || rest.StoppedEarly != "" || rest.Status != "completed" {
		t.Errorf("resume without patience: %+v, %v; want the run to step 40", rest, err)
	}
	// A run whose loss improves at every evaluation is not stopped.
	steady, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=20", "eval_interval=5", "lr=3e-3", "patience=1"), Options{OutDir: t.TempDir(), Log: io.Discard})
	if err != nil || steady.Step != 20 || steady.StoppedEarly != "" {
		t.Errorf("a run that improves: %+v, %v", steady, err)
	}
}

// More threads than cores get a note: they share the cores, slower than
// as many threads as cores (a bench --threads 1000 was silent).
func TestSetupDeviceNotesThreadsOverCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var log strings.Builder
	n := runtime.NumCPU()
	if _, err := SetupDevice(Config{Device: "cpu", Threads: n + 1}, &log); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("note: threads %d is more than the %d cores this process may use", n+1, n); !strings.Contains(log.String(), want) {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	log.Reset()
	if _, err := SetupDevice(Config{Device: "cpu", Threads: n}, &log); err != nil || strings.Contains(log.String(), "note:") {
		t.Errorf("threads = cores: %v, log %q", err, log.String())
	}
}

// bf16 and flash_attention on the CPU get a note: they change nothing
// there, and a run asking for them was silent. tf32, on by default, none.
func TestSetupDeviceNotesGPUOnlyMath(t *testing.T) {
	for _, c := range []struct {
		math GPUMath
		want string
	}{
		{GPUMath{TF32: true, BF16: true}, "note: bf16 takes effect on a GPU only"},
		{GPUMath{TF32: true, BF16: true, Flash: true}, "note: bf16 and flash_attention take effect on a GPU only"},
		{GPUMath{TF32: true}, ""},
	} {
		var log strings.Builder
		if _, err := SetupDevice(Config{Device: "cpu", GPUMath: c.math}, &log); err != nil {
			t.Fatal(err)
		}
		if got := lineWith(log.String(), "note:"); !strings.Contains(got, c.want) || c.want == "" && got != "" {
			t.Errorf("%+v: log %q, want a note %q", c.math, log.String(), c.want)
		}
	}
}

// A finished run refuses a resume with another seq_len, as an unfinished
// one does, rather than saying there is nothing to do.
func TestResumeFinishedRunKeepsSeqLen(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=2", "checkpoint_interval=0"), Options{OutDir: run, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	rc, err := Load(filepath.Join(run, "train.yaml"), []string{"seq_len=8"})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	_, err = Pretrain(context.Background(), rc, Options{OutDir: run, Resume: true, Log: &log})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "seq_len 8, but the run trains on sequences of 16") {
		t.Errorf("resume of a finished run with seq_len=8: %v (log %q), want a config error", err, log.String())
	}
}

// A finished run resumed with other data trains no further (exit 0), and
// says so: the data is not read, and a new run from its checkpoint is the
// way to train the model on it.
func TestResumeFinishedRunOtherData(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=2", "checkpoint_interval=0"), Options{OutDir: run, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, filepath.Join(dir, "other.txt"), strings.Repeat("other text. ", 200))
	for _, c := range []struct {
		data string
		note bool
	}{{other, true}, {"", false}} {
		var sets []string
		if c.data != "" {
			sets = []string{"data=" + c.data}
		}
		rc, err := Load(filepath.Join(run, "train.yaml"), sets)
		if err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		sum, err := Pretrain(context.Background(), rc, Options{OutDir: run, Resume: true, Log: &log})
		note := strings.Contains(log.String(), "note: data "+other+" is not the run's") && strings.Contains(log.String(), "--init "+filepath.Join(run, "checkpoint"))
		if err != nil || sum.Step != 2 || note != c.note {
			t.Errorf("resume of a finished run with data %q: %v, step %d, log %q; want a note: %v", c.data, err, sum.Step, log.String(), c.note)
		}
	}
}

// lossOf is a summary's loss, NaN where it is absent.
func lossOf(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// A validation loss of exactly 0 (a corpus of one character: one token,
// always right) is an evaluation like any other: the first is the best,
// patience counts the ones that do not beat it, and the summary reports
// the losses and best/.
func TestZeroValidationLoss(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, filepath.Join(dir, "a.txt"), strings.Repeat("a", 3000))
	run := filepath.Join(dir, "run")
	sum, err := Pretrain(context.Background(), tinyConfig(t, "data="+corpus, "max_steps=50", "eval_interval=5", "patience=2", "dropout=0"), Options{OutDir: run, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Step != 15 || sum.StoppedEarly == "" || sum.BestStep != 5 || sum.ValLoss == nil || *sum.ValLoss != 0 || sum.BestValLoss == nil || *sum.BestValLoss != 0 || sum.Best != filepath.Join(run, "best") {
		t.Errorf("summary %+v (val_loss %v, best_val_loss %v); want a stop at step 15 with the best of step 5, losses 0", sum, sum.ValLoss, sum.BestValLoss)
	}
	s := readFile(t, filepath.Join(run, "summary.json"))
	for _, key := range []string{`"val_loss": 0`, `"best_val_loss": 0`, `"best_step": 5`, `"train_loss": `} {
		if !strings.Contains(s, key) {
			t.Errorf("summary.json lacks %s:\n%s", key, s)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A resume that finds best/ damaged drops it as the run's best, not its
// last validation loss: the summary of a session stopped before its next
// evaluation still has val_loss.
func TestDamagedBestKeepsValLoss(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=10"), Options{OutDir: run, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(run, "best", "model.safetensors"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := Pretrain(ctx, tinyConfig(t, "max_steps=20"), Options{OutDir: run, Resume: true, Log: io.Discard, AfterStep: func(int) { cancel() }})
	if err != nil || sum.Status != "interrupted" || sum.ValLoss == nil || !(*sum.ValLoss > 0) || sum.Best != "" {
		t.Errorf("resumed past a damaged best/ and stopped: %v, %s; want val_loss, no best", err, mustJSON(t, sum))
	}
}

// A failed session's summary that cannot be written (here, one JSON cannot
// encode) takes the earlier session's summary.json with it, and the log
// says that the outcome is the summary on stdout; one that cannot be
// removed either is named as the earlier session's.
func TestFailedSummaryNotWritten(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, summaryFile), `{"status": "interrupted", "step": 7}`)
	var log bytes.Buffer
	writeFailedSummary(dir, func() {}, &log)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the earlier session's summary.json is still there (%v)", err)
	}
	if s := log.String(); !strings.HasPrefix(s, "note: ") || !strings.HasSuffix(s, ": the outcome of this session is the summary on stdout (the summary.json of an earlier session is removed)\n") {
		t.Errorf("log: %q", s)
	}

	log.Reset()
	if err := os.Mkdir(path, 0o755); err != nil { // a directory, which neither a write nor a remove replaces
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(path, "x"), "")
	writeFailedSummary(dir, Summary{}, &log)
	if s := log.String(); !strings.HasPrefix(s, "note: ") || !strings.Contains(s, ", and remove "+path) || !strings.HasSuffix(s, ": the outcome of this session is the summary on stdout, not the summary.json of an earlier session\n") {
		t.Errorf("log: %q", s)
	}
}
