package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// killedBeforeCheckpoint copies the finished run from to name in dir as a
// kill after its evaluations and before its first checkpoint leaves it:
// best/, its job config and metrics, no checkpoint or summary.
func killedBeforeCheckpoint(t *testing.T, from, dir, name string) string {
	t.Helper()
	return killedCopy(t, from, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")), []string{"checkpoint", "checkpoint.prev", "summary.json"})
}

// stoppedAt is a context cancelled after step n, and the AfterStep that
// cancels it.
func stoppedAt(n int) (context.Context, func(int)) {
	ctx, cancel := context.WithCancelCause(context.Background())
	return ctx, func(step int) {
		if step == n {
			cancel(errors.New("test interruption"))
		}
	}
}

// A pretrain killed after an evaluation wrote best/ and before its first
// checkpoint: --resume refuses a changed model, validation set or a
// max_steps before best/'s step, as a resume from a checkpoint does;
// another data, whose validation split best/ was not evaluated on, drops
// best/ (removed as the run starts, so that a later resume does not take
// it either); an unchanged resume keeps it.
func TestResumeWithoutCheckpointChecksBest(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	cfg := tinyConfig(t, "checkpoint_interval=0", "dropout=0", "lr=3e-3")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	rec, err := readBest(base)
	if err != nil || rec == nil {
		t.Fatalf("best/ of the run: %+v, %v", rec, err)
	}
	model := readFile(t, filepath.Join(base, "best", "model.safetensors"))
	for _, c := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"n_embd", func(c *Config) { c.NEmbd, c.NHead = 16, 2 }, "n_embd 16, but the run's model has 32"},
		{"seed", func(c *Config) { c.Seed = 7 }, "seed 7, but the run's is"},
		{"val_fraction", func(c *Config) { c.ValFraction = 0.2 }, "val_fraction 0.2, but the run's is 0.1"},
		{"max_steps", func(c *Config) { c.MaxSteps = rec.Step - 1 }, fmt.Sprintf("max_steps %d, but the run's best/ holds the model of step %d", rec.Step-1, rec.Step)},
	} {
		run := killedBeforeCheckpoint(t, base, dir, c.name)
		job := readFile(t, filepath.Join(run, "train.yaml"))
		changed := cfg
		c.set(&changed)
		var ce *ConfigError
		if _, err := Pretrain(context.Background(), changed, Options{OutDir: run, Resume: true, Log: io.Discard}); !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: resume without a checkpoint: %v; want a config error with %q", c.name, err, c.want)
		}
		if readFile(t, filepath.Join(run, "best", "model.safetensors")) != model || readFile(t, filepath.Join(run, "train.yaml")) != job {
			t.Errorf("%s: a refused resume changed best/ or train.yaml", c.name)
		}
	}

	// Unchanged: best/ stays the run's best.
	run := killedBeforeCheckpoint(t, base, dir, "unchanged")
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard})
	if err != nil || sum.BestStep != rec.Step || lossOf(sum.BestValLoss) != rec.Value || readFile(t, filepath.Join(run, "best", "model.safetensors")) != model {
		t.Errorf("unchanged resume: %v, best step %d, val %v; want best/'s, step %d, %v, and its model", err, sum.BestStep, lossOf(sum.BestValLoss), rec.Step, rec.Value)
	}

	// Another data: best/ was evaluated on the old one's validation split.
	run = killedBeforeCheckpoint(t, base, dir, "data")
	other := cfg
	other.Data = writeFile(t, filepath.Join(dir, "other.txt"), strings.Repeat(synthTSV(200), 4))
	ctx, stop := stoppedAt(1)
	var log strings.Builder
	if sum, err := Pretrain(ctx, other, Options{OutDir: run, Resume: true, Log: &log, AfterStep: stop}); err != nil || sum.Status != "interrupted" {
		t.Fatalf("resume on another data: %v, %+v", err, sum)
	}
	if !strings.Contains(log.String(), "is not kept as this run's best") || !strings.Contains(log.String(), "this job's data is "+other.Data) {
		t.Errorf("the log of a resume on another data does not say best/ is dropped, and why:\n%s", log.String())
	}
	if hasBest(run) {
		t.Errorf("best/ of the old data is still there after the resume on another data started")
	}
	log.Reset()
	sum, err = Pretrain(context.Background(), other, Options{OutDir: run, Resume: true, Log: &log})
	if err != nil || sum.BestStep == 0 || readFile(t, filepath.Join(run, "best", "model.safetensors")) == model {
		t.Errorf("resumed again on the other data: %v, %+v; want best/ its own\n%s", err, sum, log.String())
	}
	if nrec, err := readBest(run); err != nil || nrec == nil || nrec.Step != sum.BestStep || nrec.Value != lossOf(sum.BestValLoss) {
		t.Errorf("best/ holds %+v (%v), the summary best step %d, %v", nrec, err, sum.BestStep, lossOf(sum.BestValLoss))
	}
}

// A finetune killed after an evaluation wrote best/ and before its first
// checkpoint: --resume refuses another task, model, batches or steps ending
// before best/'s, as a resume from a checkpoint does; other validation rows
// drop best/; an unchanged resume keeps it.
func TestFinetuneResumeWithoutCheckpointChecksBest(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\neval_interval: 5\n")
	base := filepath.Join(dir, "base")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	rec, err := readBest(base)
	if err != nil || rec == nil || rec.Step < 3 {
		t.Fatalf("best/ of the run: %+v, %v", rec, err)
	}
	head := readFile(t, filepath.Join(base, "best", "head.safetensors"))
	otherModel := tinyModelDir(t)
	for _, c := range []struct {
		name string
		set  func(*FinetuneConfig)
		want string
	}{
		{"max_len", func(c *FinetuneConfig) { c.Task.MaxLen = 24 }, "task.max_len 24, but the run's model was finetuned with 32"},
		{"init_from", func(c *FinetuneConfig) { c.InitFrom = otherModel }, fmt.Sprintf("init_from %q, random_init false, but the run began from", otherModel)},
		{"batch_size", func(c *FinetuneConfig) { c.BatchSize = 4 }, "batch_size 4, but the run's is 8"},
		{"max_steps", func(c *FinetuneConfig) { c.MaxSteps = 2 }, fmt.Sprintf("max_steps 2, but the run's best/ holds the model of step %d", rec.Step)},
	} {
		run := killedBeforeCheckpoint(t, base, dir, c.name)
		changed := cfg
		c.set(&changed)
		var ce *ConfigError
		if _, err := Finetune(context.Background(), changed, Options{OutDir: run, Resume: true, Log: io.Discard}); !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: resume without a checkpoint: %v; want a config error with %q", c.name, err, c.want)
		}
		if readFile(t, filepath.Join(run, "best", "head.safetensors")) != head {
			t.Errorf("%s: a refused resume changed best/", c.name)
		}
	}

	run := killedBeforeCheckpoint(t, base, dir, "unchanged")
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard})
	if err != nil || sum.BestStep != rec.Step || *sum.BestValue != rec.Value || readFile(t, filepath.Join(run, "best", "head.safetensors")) != head {
		t.Errorf("unchanged resume: %v, %+v; want best/'s step %d, %v, and its head", err, sum, rec.Step, rec.Value)
	}

	// A best/ whose task cannot be read cannot be checked: not kept.
	run = killedBeforeCheckpoint(t, base, dir, "no task.json")
	os.Remove(filepath.Join(run, "best", "task.json"))
	var log strings.Builder
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: &log}); err != nil || !strings.Contains(log.String(), "its task cannot be read to check it against") {
		t.Errorf("resume with best/ lacking task.json: %v; log:\n%s", err, log.String())
	}

	// Other training rows, which the validation rows are split from.
	run = killedBeforeCheckpoint(t, base, dir, "data")
	other := cfg
	other.Task.Train = writeFile(t, filepath.Join(dir, "other.tsv"), synthTSV(70))
	log.Reset()
	sum, err = Finetune(context.Background(), other, Options{OutDir: run, Resume: true, Log: &log})
	if err != nil || !strings.Contains(log.String(), "is not kept as this run's best") {
		t.Fatalf("resume on other rows: %v; log:\n%s", err, log.String())
	}
	if nrec, err := readBest(run); err != nil || nrec == nil || nrec.Step != sum.BestStep || nrec.Value != *sum.BestValue || readFile(t, filepath.Join(run, "best", "head.safetensors")) == head {
		t.Errorf("after a resume on other rows best/ holds %+v (%v), the summary best step %d, %v; want the run's own", nrec, err, sum.BestStep, *sum.BestValue)
	}
}

// editInPlace rewrites the file at path with its last old replaced by new,
// as long and of the same characters: only its content tells the edit.
func editInPlace(t *testing.T, path, old, new string) {
	t.Helper()
	text := readFile(t, path)
	i := strings.LastIndex(text, old)
	if i < 0 || len(old) != len(new) {
		t.Fatalf("%s: no %q to edit to %q", path, old, new)
	}
	writeFile(t, path, text[:i]+new+text[i+len(old):])
}

// A pretrain killed before its first checkpoint, whose validation text was
// edited in place before the resume (the data it splits from, or its
// val_data file): best/ was evaluated on other tokens, and is dropped; the
// same text written again keeps it, and so does a best.json of a build
// before it recorded the validation data, which cannot tell.
func TestResumeWithoutCheckpointChecksValContent(t *testing.T) {
	for _, key := range []string{"data", "val_data"} {
		t.Run(key, func(t *testing.T) {
			dir := t.TempDir()
			text := strings.Repeat(synthTSV(200), 4)
			file := writeFile(t, filepath.Join(dir, "d.txt"), text)
			sets := []string{"data=" + file, "checkpoint_interval=0", "dropout=0", "lr=3e-3"}
			if key == "val_data" {
				sets = append(sets, "val_data="+writeFile(t, filepath.Join(dir, "v.txt"), text[:len(text)/4]))
			}
			cfg := tinyConfig(t, sets...)
			edited := cmp.Or(cfg.ValData, cfg.Data)
			base := filepath.Join(dir, "base")
			if _, err := Pretrain(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
				t.Fatal(err)
			}
			rec, err := readBest(base)
			if err != nil || rec == nil || rec.Val == nil {
				t.Fatalf("best/ of the run: %+v, %v; want a record of its validation data", rec, err)
			}
			model := readFile(t, filepath.Join(base, "best", "model.safetensors"))
			writeFile(t, edited, readFile(t, edited)) // the same text, a new mtime
			run := killedBeforeCheckpoint(t, base, dir, "unchanged")
			sum, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard})
			if err != nil || sum.BestStep != rec.Step || lossOf(sum.BestValLoss) != rec.Value || readFile(t, filepath.Join(run, "best", "model.safetensors")) != model {
				t.Errorf("resume on the same text: %v, best step %d, val %v; want best/'s, step %d, %v, and its model", err, sum.BestStep, lossOf(sum.BestValLoss), rec.Step, rec.Value)
			}

			editInPlace(t, edited, "yes", "sey")
			run = killedBeforeCheckpoint(t, base, dir, "edited")
			var log strings.Builder
			sum, err = Pretrain(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: &log})
			if err != nil || !strings.Contains(log.String(), "is not kept as this run's best") || !strings.Contains(log.String(), "whose content differs") {
				t.Fatalf("resume on edited validation text: %v; want best/ dropped, and why; log:\n%s", err, log.String())
			}
			if nrec, err := readBest(run); err != nil || nrec == nil || nrec.Step != sum.BestStep || nrec.Value != lossOf(sum.BestValLoss) || *nrec.Val == *rec.Val {
				t.Errorf("after the resume on edited text best/ holds %+v (%v), the summary best step %d, %v; want the run's own", nrec, err, sum.BestStep, lossOf(sum.BestValLoss))
			}

			run = killedBeforeCheckpoint(t, base, dir, "old record")
			old := *rec
			old.Val = nil
			if err := writeState(filepath.Join(run, "best", "best.json"), old); err != nil {
				t.Fatal(err)
			}
			sum, err = Pretrain(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard})
			if err != nil || sum.BestStep != rec.Step || readFile(t, filepath.Join(run, "best", "model.safetensors")) != model {
				t.Errorf("resume with a best.json without val: %v, best step %d; want best/ kept, step %d", err, sum.BestStep, rec.Step)
			}
		})
	}
}

// A finetune killed before its first checkpoint, whose validation rows
// were edited in place before the resume (in the training file they are
// split from, or in its task.val file): best/ was evaluated on other
// examples, and is dropped; the same rows written again keep it.
func TestFinetuneResumeWithoutCheckpointChecksValContent(t *testing.T) {
	for _, key := range []string{"train", "val"} {
		t.Run(key, func(t *testing.T) {
			dir := t.TempDir()
			cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\neval_interval: 5\n")
			edited := cfg.Task.Train
			if key == "val" {
				cfg.Task.Val, cfg.Task.ValFraction = writeFile(t, filepath.Join(dir, "v.tsv"), synthTSV(20)), 0
				edited = cfg.Task.Val
			}
			base := filepath.Join(dir, "base")
			if _, err := Finetune(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
				t.Fatal(err)
			}
			rec, err := readBest(base)
			if err != nil || rec == nil || rec.Val == nil {
				t.Fatalf("best/ of the run: %+v, %v; want a record of its validation examples", rec, err)
			}
			head := readFile(t, filepath.Join(base, "best", "head.safetensors"))
			writeFile(t, edited, readFile(t, edited)) // the same rows, a new mtime
			run := killedBeforeCheckpoint(t, base, dir, "unchanged")
			sum, err := Finetune(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard})
			if err != nil || sum.BestStep != rec.Step || *sum.BestValue != rec.Value || readFile(t, filepath.Join(run, "best", "head.safetensors")) != head {
				t.Errorf("resume on the same rows: %v, %+v; want best/'s step %d, %v, and its head", err, sum, rec.Step, rec.Value)
			}

			writeFile(t, edited, strings.ReplaceAll(readFile(t, edited), "\tneg\t", "\tpos\t"))
			run = killedBeforeCheckpoint(t, base, dir, "edited")
			var log strings.Builder
			sum, err = Finetune(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: &log})
			if err != nil || !strings.Contains(log.String(), "is not kept as this run's best") || !strings.Contains(log.String(), "whose content differs") {
				t.Fatalf("resume on edited validation rows: %v; want best/ dropped, and why; log:\n%s", err, log.String())
			}
			if nrec, err := readBest(run); err != nil || nrec == nil || nrec.Step != sum.BestStep || nrec.Value != *sum.BestValue || *nrec.Val == *rec.Val {
				t.Errorf("after the resume on edited rows best/ holds %+v (%v), the summary best step %d, %v; want the run's own", nrec, err, sum.BestStep, *sum.BestValue)
			}
		})
	}
}
