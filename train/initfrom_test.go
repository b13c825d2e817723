package train

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// init_from continues pretraining from a model: its architecture, weights
// and tokenizer, whatever the config's model keys and tokenizer say, and the
// loss goes on from where the model left it; a resume keeps all three.
func TestPretrainInitFrom(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	srcSum, err := Pretrain(ctx, tinyConfig(t), Options{OutDir: src, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	want, wantTok, err := LoadModel(src)
	if err != nil {
		t.Fatal(err)
	}

	// One step at lr 1e-9 leaves the weights as they were loaded.
	dir := t.TempDir()
	cfg := tinyConfig(t, "init_from="+src, "n_layer=2", "n_embd=64", "n_ctx=32", "tokenizer=byte", "dropout=0",
		"max_steps=1", "lr=1e-9", "min_lr=0", "warmup_steps=0", "checkpoint_interval=0")
	var log bytes.Buffer
	sum, err := Pretrain(ctx, cfg, Options{OutDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "init_from "+filepath.Join(src, "checkpoint")) {
		t.Errorf("the log does not say where the model came from:\n%s", log.String())
	}
	got, tok, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	wc, gc := want.Config, got.Config
	wc.Dropout, gc.Dropout = 0, 0
	if gc != wc || got.Config.Dropout != 0 {
		t.Fatalf("model %+v, want init_from's %+v with the config's dropout 0", got.Config, want.Config)
	}
	if tok.Name() != wantTok.Name() || tok.VocabSize() != wantTok.VocabSize() || tok.Decode(wantTok.Encode("The king")) != "The king" {
		t.Errorf("tokenizer %s (%d tokens), want init_from's %s (%d)", tok.Name(), tok.VocabSize(), wantTok.Name(), wantTok.VocabSize())
	}
	for i, w := range got.List {
		for j, v := range w.Data {
			if d := math.Abs(float64(v - want.List[i].Data[j])); d > 1e-6 {
				t.Fatalf("%s[%d] = %g, init_from has %g", w.Name, j, v, want.List[i].Data[j])
			}
		}
	}
	// The same validation batches (same seed, corpus and tokenizer): the
	// same loss as the model's last evaluation.
	if math.Abs(lossOf(sum.ValLoss)-lossOf(srcSum.ValLoss)) > 1e-4 {
		t.Errorf("val_loss %.6f after the first step, init_from ended at %.6f", lossOf(sum.ValLoss), lossOf(srcSum.ValLoss))
	}

	// train.yaml records the model's architecture and tokenizer, so a
	// resume agrees with its checkpoint.
	rcfg, err := Load(filepath.Join(dir, jobFile), []string{"max_steps=3"})
	if err != nil {
		t.Fatal(err)
	}
	if rcfg.NLayer != want.Config.NLayer || rcfg.NEmbd != want.Config.NEmbd || rcfg.Tokenizer != filepath.Join(src, "checkpoint") {
		t.Errorf("train.yaml: n_layer %d, n_embd %d, tokenizer %q", rcfg.NLayer, rcfg.NEmbd, rcfg.Tokenizer)
	}
	if rs, err := Pretrain(ctx, rcfg, Options{OutDir: dir, Resume: true, Log: io.Discard}); err != nil || rs.Step != 3 {
		t.Fatalf("resume: %v, summary %+v", err, rs)
	}
}

func TestPretrainInitFromErrors(t *testing.T) {
	bare, _ := hfModelDir(t, "gpt2", func(s string) string { return s })  // weights, no tokenizer
	short, _ := hfModelDir(t, "gpt2", func(s string) string { return s }) // n_ctx 8, a tokenizer of 11 chars
	if err := data.NewCharTokenizer("abcdefghijk").Save(short); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		sets   []string
		config bool // a ConfigError, else an InputError
		want   string
	}{
		{"missing", []string{"init_from=/nonexistent/model"}, false, "init_from: model /nonexistent/model: no such directory"},
		{"no tokenizer", []string{"init_from=" + bare}, false, "has no tokenizer (tokenizer.json"},
		{"seq_len", []string{"init_from=" + short, "seq_len=12"}, true, "seq_len 12 exceeds n_ctx 8 of init_from"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Pretrain(context.Background(), tinyConfig(t, c.sets...), Options{OutDir: t.TempDir(), Log: io.Discard})
			var ce *ConfigError
			var ie *InputError
			if (c.config && !errors.As(err, &ce)) || (!c.config && !errors.As(err, &ie)) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a %s containing %q", err, map[bool]string{true: "ConfigError", false: "InputError"}[c.config], c.want)
			}
		})
	}
}
