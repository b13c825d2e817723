package train

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// Pretraining on token shards from gptctl data prepare: a run works and a
// resumed run sees the same data as an uninterrupted one.
func TestPretrainOnShards(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(data.BuiltinCorpus()[:200000]), 0o644); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(dir, "shards")
	opts := data.DefaultPrepareOptions()
	opts.Tokenizer, opts.Inputs, opts.OutDir, opts.ValFraction, opts.ShardTokens = data.ByteTokenizer{}, []string{corpus}, shards, 0.1, 60000
	if _, err := data.Prepare(opts); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, "data="+shards, "tokenizer=byte", "checkpoint_interval=0")
	straight := filepath.Join(dir, "straight")
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ValLoss <= 0 || sum.ValLoss > 5.6 {
		t.Errorf("val loss %v on byte shards", sum.ValLoss)
	}
	split := filepath.Join(dir, "split")
	ctx, cancel := context.WithCancelCause(context.Background())
	_, err = Pretrain(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: func(s int) {
		if s == 7 {
			cancel(nil)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(straight, "checkpoint", "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(split, "checkpoint", "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("resumed shard run differs from the uninterrupted one")
	}
}

// Shards made with one tokenizer are refused by a run with another, even of
// the same size, where the ids would silently mean other text.
func TestPretrainOnShardsOfAnotherTokenizer(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	text := strings.Repeat("to be, or not to be: that is the question. ", 400)
	if err := os.WriteFile(corpus, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	made, other := data.NewCharTokenizer(text), data.NewCharTokenizer(strings.Replace(text, "q", "z", -1))
	otherDir := filepath.Join(dir, "other")
	os.Mkdir(otherDir, 0o755)
	if err := other.Save(otherDir); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(dir, "shards")
	if _, err := data.Prepare(data.PrepareOptions{Tokenizer: made, Inputs: []string{corpus}, OutDir: shards, ValFraction: 0.2, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(context.Background(), tinyConfig(t, "data="+shards, "max_steps=2"), Options{OutDir: t.TempDir(), Log: io.Discard}); err != nil {
		t.Fatalf("with the shards' own tokenizer: %v", err)
	}
	_, err := Pretrain(context.Background(), tinyConfig(t, "data="+shards, "tokenizer="+otherDir, "max_steps=2"), Options{OutDir: t.TempDir(), Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the shards were made with another tokenizer") {
		t.Fatalf("another tokenizer of %d tokens (the shards': %d): %v, want an InputError", other.VocabSize(), made.VocabSize(), err)
	}
}
