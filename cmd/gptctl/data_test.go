package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

func TestDataPrepareCommand(t *testing.T) {
	dir, corpus := trainedTokenizer(t)
	out := filepath.Join(t.TempDir(), "shards")
	msg, err := runCmd(NewCmdData(), "", "prepare", "--tokenizer", dir, "--data", corpus, "--out", out, "--val-fraction", "0.1", "--shard-tokens", "5000")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Out         string
		Docs        int64
		Bytes       int64
		TrainTokens int64   `json:"train_tokens"`
		ValTokens   int64   `json:"val_tokens"`
		TrainShards int     `json:"train_shards"`
		TokensPerS  float64 `json:"tokens_per_s"`
	}
	if err := json.Unmarshal([]byte(msg), &res); err != nil || res.Out != out || res.Docs != 1 || res.Bytes != 50_000 || res.TokensPerS <= 0 {
		t.Fatalf("data prepare printed %q (%v), want its result as JSON", msg, err)
	}
	for _, split := range []string{"train", "val"} {
		set, err := data.OpenShardSet(out, split)
		if err != nil {
			t.Fatal(err)
		}
		if n := map[string]int64{"train": res.TrainTokens, "val": res.ValTokens}[split]; set.Len() == 0 || int64(set.Len()) != n || set.VocabSize() != 400 {
			t.Fatalf("%s: %d tokens (printed: %d), vocab %d", split, set.Len(), n, set.VocabSize())
		}
		set.Close()
	}
	// Text of few cut points (100 KB of words, then a 400 KB run without
	// whitespace) comes in few pieces: a validation split far below its
	// share, not empty, is named.
	run := filepath.Join(t.TempDir(), "run.txt")
	if err := os.WriteFile(run, []byte(strings.Repeat("a few words ", 8_000)+strings.Repeat("acgt", 100_000)+" end"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "data", "prepare", "--tokenizer", dir, "--data", run, "--out", filepath.Join(t.TempDir(), "few"), "--val-fraction", "0.1")
	if code != 0 || !strings.Contains(stderr, "warning: --val-fraction 0.1 selected") || strings.Contains(stderr, "selected 0 tokens") || !strings.Contains(stderr, "too few pieces") {
		t.Errorf("a corpus of few pieces: exit %d, %s", code, stderr)
	}
	// --tokenizer char: the inputs' characters, the vocabulary a pretrain
	// on the text builds, saved beside the shards.
	chars := filepath.Join(t.TempDir(), "chars")
	if _, err := runCmd(NewCmdData(), "", "prepare", "--tokenizer", "char", "--data", corpus, "--out", chars); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(corpus)
	saved, err := data.LoadTokenizer(filepath.Join(chars, "tokenizer"))
	if err != nil || saved == nil || !data.SameVocabulary(saved, data.NewCharTokenizer(string(text))) {
		t.Errorf("char shards' tokenizer %v (%v), want the corpus's characters", saved, err)
	}
}

func TestDataPrepareCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"prepare", "--tokenizer", "x", "--out", "o"}, "--data is required"},
		{[]string{"prepare", "--tokenizer", "x", "--data", "a", "--out", "o", "--val-fraction", "1.5"}, "--val-fraction 1.5"},
		{[]string{"prepare", "--tokenizer", "x", "--data", "a", "--out", "o", "--shard-tokens", "0"}, "--shard-tokens 0"},
		{[]string{"prepare", "--data", "a", "--out", "o"}, "--tokenizer is required"},
	}
	for _, tt := range tests {
		_, err := runCmd(NewCmdData(), "", tt.args...)
		var ue *usageError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ue) {
			t.Errorf("%v: got %v, want a usage error with %q", tt.args, err, tt.want)
		}
	}
	// Inputs that are not there are bad input too: exit status 2, naming them.
	dir, tok := t.TempDir(), t.TempDir()
	if err := data.NewCharTokenizer("ab").Save(tok); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{filepath.Join(dir, "none.txt"), filepath.Join(dir, "*.md"), dir} {
		_, err := runCmd(NewCmdData(), "", "prepare", "--tokenizer", tok, "--data", in, "--out", filepath.Join(dir, "out"))
		if err == nil || !strings.Contains(err.Error(), in) || exitCode(err) != exitUsage {
			t.Errorf("--data %s: got %v (exit %d), want exit %d naming it", in, err, exitCode(err), exitUsage)
		}
	}
}
