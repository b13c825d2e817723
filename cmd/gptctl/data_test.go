package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
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
	if code != 0 || !strings.Contains(stderr, "warning: --val-fraction 0.1 selected") || strings.Contains(stderr, "selected 0 tokens") ||
		!strings.Contains(stderr, "the text came in ") || !strings.Contains(stderr, " pieces of up to 400.0 kB, against a validation share of 49.6 kB, and a piece goes to one split whole") {
		t.Errorf("a corpus of few pieces: exit %d, %s", code, stderr)
	}
	// Text without cut points but its newlines (20 runs of 8 kB) at a share
	// of 0.005 gets no validation text: the warning says why (not that the
	// corpus is too small) and the fraction that gives a split, which does.
	runs := filepath.Join(t.TempDir(), "runs.txt")
	if err := os.WriteFile(runs, []byte(strings.Repeat(strings.Repeat("acgt", 2_000)+"\n", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "data", "prepare", "--tokenizer", dir, "--data", runs, "--out", filepath.Join(t.TempDir(), "runs"), "--workers", "1")
	want := "warning: --val-fraction 0.005 selected 0 tokens (0%): the text came in 20 pieces of up to 8.0 kB, against a validation share of 800 B, and a piece goes to one split whole " +
		"(a .jsonl line is one piece, and a text file is cut only between words gpt2-bpe keeps apart, or after 1 MiB without such a point); raise --val-fraction to 0.051 or more, or give pretrain a validation file of its own (val_data)"
	if code != 0 || !strings.Contains(stderr, want) || strings.Contains(stderr, "too small") {
		t.Errorf("a corpus of long runs: exit %d, %s\nwant %s", code, stderr, want)
	}
	code, stdout, stderr := runCLI(t, "data", "prepare", "--tokenizer", dir, "--data", runs, "--out", filepath.Join(t.TempDir(), "runs"), "--workers", "1", "--val-fraction", "0.051")
	if code != 0 || strings.Contains(stderr, "warning") || !strings.Contains(stdout, `"val_shards": 1`) {
		t.Errorf("the fraction the warning gives: exit %d, %s%s", code, stdout, stderr)
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

// --out of a directory that holds a pretrain or finetune run is refused
// (exit 2), as pretrain refuses one: the shards would go in among the
// run's files.
func TestDataPrepareRefusesRunDirectory(t *testing.T) {
	tok := t.TempDir()
	if err := data.NewCharTokenizer("ab").Save(tok); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("ab ba ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	for held, files := range map[string][]string{
		"checkpoint":   {"train.yaml", "checkpoint/config.json", "best/config.json", "summary.json"},
		"best":         {"best/config.json"},
		"summary.json": {"summary.json"},
		"a run's job config, train.yaml or finetune.yaml": {"finetune.yaml"},
	} {
		run := t.TempDir()
		for _, f := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(run, f)), 0o755)
			os.WriteFile(filepath.Join(run, f), []byte(`{"status": "completed"}`), 0o644)
		}
		code, _, stderr := runCLI(t, "data", "prepare", "--tokenizer", tok, "--data", in, "--out", run)
		want := "data prepare: --out " + run + " holds a gptctl run (it has " + held + "): the shards would go in among its files; choose another --out"
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, %s\nwant exit %d, %q", files, code, stderr, exitUsage, want)
		}
		if shards, _ := filepath.Glob(filepath.Join(run, "*.bin")); len(shards) > 0 {
			t.Errorf("%v: shards written: %v", files, shards)
		}
	}
}

// The other way round: pretrain --out of a shard directory, or of one a
// prepare is making (its lock alone shows it at first), is refused, and a
// prepare into a directory whose run lock a job holds (before it wrote
// anything that shows the run) is refused too.
func TestPrepareAndRunKeepApart(t *testing.T) {
	tok := t.TempDir()
	if err := data.NewCharTokenizer("ab ").Save(tok); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("ab ba ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(t.TempDir(), "shards")
	if code, _, stderr := runCLI(t, "data", "prepare", "--tokenizer", tok, "--data", in, "--out", shards); code != 0 {
		t.Fatalf("prepare: exit %d, %s", code, stderr)
	}
	making := t.TempDir()
	releasePrepare, err := data.LockFile(filepath.Join(making, ".prepare.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer releasePrepare()
	for dir, sign := range map[string]string{shards: "it has token shards, train_000.bin", making: "a data prepare (pid " + strconv.Itoa(os.Getpid()) + ") is writing it"} {
		code, _, stderr := runCLI(t, "pretrain", "--data", in, "--set", "max_steps=1", "--out", dir)
		want := "--out " + dir + " is a data prepare's shard directory (" + sign + ")"
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("pretrain --out %s: exit %d, %s\nwant exit %d, %q", dir, code, stderr, exitUsage, want)
		}
		if _, err := os.Stat(filepath.Join(dir, "train.yaml")); err == nil {
			t.Errorf("pretrain --out %s wrote its job config", dir)
		}
	}
	running := t.TempDir()
	release := holdLock(t, running)
	code, _, stderr := runCLI(t, "data", "prepare", "--tokenizer", tok, "--data", in, "--out", running)
	if code != exitUsage || !strings.Contains(stderr, "a pretrain or finetune (pid ") {
		t.Errorf("prepare into a held run directory: exit %d, %s", code, stderr)
	}
	if got, _ := filepath.Glob(filepath.Join(running, "*.bin")); len(got) > 0 {
		t.Errorf("shards written: %v", got)
	}
	if _, err := os.Stat(filepath.Join(running, ".prepare.lock")); !os.IsNotExist(err) {
		t.Errorf("the refused prepare left its lock file in the run's directory (%v)", err)
	}
	// The lock file of a prepare that ended (or was stopped) there is no
	// sign of shards once no one holds it.
	release()
	os.WriteFile(filepath.Join(running, ".prepare.lock"), nil, 0o644)
	if code, _, stderr := runCLI(t, "pretrain", "--data", in, "--set", "max_steps=1", "--set", "n_ctx=16", "--out", running); code != 0 {
		t.Errorf("pretrain --out with a prepare's leftover lock file: exit %d, %s", code, stderr)
	}
}

// A prepare that writes more shards than pretraining could map (half the
// system's limit on a process's maps) says so, with the fix.
func TestDataPrepareWarnsOfTheMapLimit(t *testing.T) {
	defer func(f func() int) { mapLimit = f }(mapLimit)
	mapLimit = func() int { return 8 }
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("ab ba ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shards")
	code, _, stderr := runCLI(t, "data", "prepare", "--tokenizer", "byte", "--data", in, "--out", out, "--shard-tokens", "100")
	want := "shards: pretraining maps each into memory, and a process may hold 8 maps (vm.max_map_count), its own included: prepare again with a larger --shard-tokens (100 now)"
	if code != 0 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, %s\nwant exit 0 and %q", code, stderr, want)
	}
}

// --data - reads standard input, as /dev/stdin does, where it was an error
// saying stat -: no such file or directory.
func TestDataPrepareStdin(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("standard input is read as /dev/stdin")
	}
	if args := os.Getenv("GPTCTL_TEST_PREPARE_ARGS"); args != "" { // the child: gptctl with its stdin
		os.Exit(run(strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("ab ba ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out := filepath.Join(dir, "out")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDataPrepareStdin$")
	cmd.Env = append(os.Environ(), "GPTCTL_TEST_PREPARE_ARGS="+strings.Join([]string{"data", "prepare", "--tokenizer", "byte", "--data", "-", "--out", out}, "\n"))
	cmd.Stdin = stdin
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), `"bytes": 600`) {
		t.Fatalf("--data -: %v\n%s", err, got)
	}
	if set, err := data.OpenShardSet(out, "train"); err != nil || set.Len() < 500 {
		t.Errorf("--data -: shards %v, %v", set, err)
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
