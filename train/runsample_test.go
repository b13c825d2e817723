package train

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// sample_tokens writes a sample to the log after each evaluation, the text
// gptctl generate prints from a checkpoint of that step by default; a
// sample_prompt the char vocabulary cannot write is a config error before
// training, and a negative sample_tokens one when the config loads.
func TestPretrainSamples(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	if _, err := Pretrain(context.Background(), tinyConfig(t, "sample_tokens=12", "sample_prompt=The"), Options{OutDir: dir, Log: &log}); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	o := DefaultGenerate // what gptctl generate --prompt The -n 12 draws
	o.Prompt, o.MaxNewTokens = "The", 12
	if err := Generate(filepath.Join(dir, "checkpoint"), o, &want); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); strings.Count(got, "sample at step ") != 2 || !strings.Contains(got, "sample at step 10:\nThe") ||
		!strings.Contains(got, "val_loss") || !strings.Contains(got, "sample at step 20:\n"+want.String()) {
		t.Errorf("log:\n%s\nwant a sample after the evaluations at steps 10 and 20, the last:\n%s", got, want.String())
	}

	_, err := Pretrain(context.Background(), tinyConfig(t, "sample_tokens=5", "sample_prompt=€"), Options{OutDir: t.TempDir(), Log: io.Discard})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `sample_prompt "€": characters "€" are not in the vocabulary`) {
		t.Errorf("a sample_prompt outside the vocabulary: %v, want a config error naming it", err)
	}
	if _, err := Load("", []string{"sample_tokens=-1"}); err == nil || !strings.Contains(err.Error(), "sample_tokens -1 must not be negative") {
		t.Errorf("sample_tokens -1: %v", err)
	}
}

// cancelAt cancels its context at the first log line that holds at.
type cancelAt struct {
	strings.Builder
	at     string
	cancel context.CancelCauseFunc
}

func (w *cancelAt) Write(b []byte) (int, error) {
	if strings.Contains(string(b), w.at) {
		w.cancel(errors.New("received terminated"))
	}
	return w.Builder.Write(b)
}

// A signal that arrives as a sample is due cuts the sample short (what it
// drew is logged) and stops the run with its checkpoint, as one during the
// evaluation does, instead of drawing every sample_tokens first.
func TestPretrainSampleStopped(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	log := &cancelAt{at: "val_loss", cancel: cancel}
	sum, err := Pretrain(ctx, tinyConfig(t, "sample_tokens=20000"), Options{OutDir: t.TempDir(), Log: log})
	if err != nil || sum.Status != "interrupted" || sum.Step != 10 {
		t.Fatalf("stopped as the sample at step 10 began: %+v, %v; want an interrupted run at step 10", sum, err)
	}
	if got := log.String(); !strings.Contains(got, "sample at step 10 (cut short by the stop):") || len(got) > 10000 {
		t.Errorf("log (%d bytes):\n%.2000s\nwant the sample at step 10 cut short", len(got), got)
	}
}
