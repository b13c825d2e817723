package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"gptctl/data"
)

// runCmd executes cmd with args and stdin and returns its stdout.
func runCmd(cmd *cobra.Command, stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

// trainedTokenizer trains a small BPE with gptctl tokenizer train.
func trainedTokenizer(t *testing.T) (dir, corpus string) {
	t.Helper()
	tmp := t.TempDir()
	corpus = filepath.Join(tmp, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(data.BuiltinCorpus()[:50_000]), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, "tok")
	out, err := runCmd(NewCmdTokenizer(), "", "train", "--data", filepath.Join(tmp, "*.txt"), "--vocab-size", "400", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Out       string
		VocabSize int `json:"vocab_size"`
		Merges    int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Out != dir || res.VocabSize != 400 || res.Merges <= 0 || res.Merges >= 400 {
		t.Fatalf("train printed %q (%v), want its result as JSON", out, err)
	}
	return dir, corpus
}

func TestTokenizerCommands(t *testing.T) {
	dir, _ := trainedTokenizer(t)
	text := "The river runs past the town.\n\tÜnïcödé \xff<|endoftext|>"
	for _, binary := range []bool{false, true} {
		flags := []string{"--tokenizer", dir}
		if binary {
			flags = append(flags, "--binary")
		}
		ids, err := runCmd(NewCmdTokenizer(), text, append([]string{"encode"}, flags...)...)
		if err != nil {
			t.Fatal(err)
		}
		back, err := runCmd(NewCmdTokenizer(), ids, append([]string{"decode"}, flags...)...)
		if err != nil {
			t.Fatal(err)
		}
		if back != text {
			t.Fatalf("binary=%v: decode(encode(text)) = %q", binary, back)
		}
	}
	// The byte tokenizer encodes bytes, whatever they are: any bytes its
	// decode writes, those that begin as a byte order mark too.
	for _, b := range []string{"\xff\xfeA", "\xef\xbb\xbfA", "\x00\x00\xfe\xff"} {
		ids, err := runCmd(NewCmdTokenizer(), b, "encode", "-t", "byte")
		if err != nil {
			t.Fatalf("encode -t byte %q: %v", b, err)
		}
		if back, err := runCmd(NewCmdTokenizer(), ids, "decode", "-t", "byte"); err != nil || back != b {
			t.Errorf("byte tokenizer: decode(encode(%q)) = %q, %v", b, back, err)
		}
	}
	ids, _ := runCmd(NewCmdTokenizer(), "a<|endoftext|>", "encode", "-t", dir, "--special")
	if !strings.HasSuffix(ids, " 399\n") {
		t.Fatalf("--special: %q, want the EOT id 399 last", ids)
	}
	// The directory also holds Hugging Face's tokenizer.json, which
	// encodes alike on its own.
	hf := filepath.Join(t.TempDir(), "hf")
	os.Mkdir(hf, 0o755)
	if err := os.Rename(filepath.Join(dir, "tokenizer.json"), filepath.Join(hf, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	want, _ := runCmd(NewCmdTokenizer(), text, "encode", "-t", dir)
	if got, err := runCmd(NewCmdTokenizer(), text, "encode", "-t", hf); err != nil || got != want {
		t.Errorf("from tokenizer.json alone: %q, %v; want %q", got, err, want)
	}
}

func TestTokenizerCommandErrors(t *testing.T) {
	dir, _ := trainedTokenizer(t)
	t.Setenv(data.EnvGPT2Vocab, "")
	tests := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"train", "--vocab-size", "300", "--out", "x"}, "--data is required"},
		{"", []string{"train", "--data", "a.txt", "--vocab-size", "10", "--out", "x"}, "at least 257"},
		{"", []string{"train", "--data", "a.txt", "--out", "x"}, "--vocab-size is required"},
		{"", []string{"train", "--data", "/nonexistent/*.txt", "--vocab-size", "300", "--out", "x"}, "no files match"},
		{"", []string{"train", "--data", "/nonexistent.txt", "--vocab-size", "300", "--out", "x"}, "/nonexistent.txt"},
		{"", []string{"train", "--data", dir, "--vocab-size", "300", "--out", "x"}, "is a directory"},
		{"hi", []string{"encode"}, "--tokenizer is required"},
		{"hi", []string{"encode", "-t", "gpt2"}, "set GPTCTL_GPT2_VOCAB"},
		{"hi", []string{"encode", "-t", "/nonexistent"}, "not char, byte, gpt2, gpt1 or a tokenizer directory"},
		{"hi", []string{"encode", "-t", "char"}, "tokenizer char is built from a corpus's characters"},
		{"hi", []string{"encode", "-t", "byte", "--special"}, "--special: tokenizer byte has no special tokens"},
		{"1 2 x", []string{"decode", "-t", dir}, `word 3 "x" is not a token id`},
		{"1 400", []string{"decode", "-t", dir}, "id 400 (number 2 of the input) is outside the vocabulary"},
		{"\x01\x00\x00\x00\x05", []string{"decode", "-t", dir, "--binary"}, "ends 1 bytes into id 2"},
	}
	chars := t.TempDir()
	if err := data.NewCharTokenizer("abc \n").Save(chars); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "text.txt")
	os.WriteFile(text, []byte("ab ab ab"), 0o644)
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	runDir, shardDir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(runDir, "train.yaml"), []byte("n_layer: 1\n"), 0o644)
	os.WriteFile(filepath.Join(shardDir, "train_000.bin"), nil, 0o644)
	modelDir := t.TempDir() // a run's best/, or a Hugging Face model
	os.WriteFile(filepath.Join(modelDir, "model.safetensors"), nil, 0o644)
	hfDir := t.TempDir() // a Hugging Face model with its weights in another format
	os.WriteFile(filepath.Join(hfDir, "config.json"), []byte("{}"), 0o644)
	tests = append(tests, []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"train", "--data", text, "--vocab-size", "300", "--out", text}, "is a file, not a directory"},
		{"", []string{"train", "--data", empty, "--vocab-size", "300", "--out", t.TempDir()}, "empty.txt: no text to learn merges from"},
		{"", []string{"train", "--data", "-", "--vocab-size", "300", "--out", t.TempDir()}, "not standard input"},
		{"", []string{"train", "--data", text, "--vocab-size", "300", "--out", runDir}, "holds a gptctl run, model or data set (it has a run's job config"},
		{"", []string{"train", "--data", text, "--vocab-size", "300", "--out", shardDir}, "holds a gptctl run, model or data set (it has token shards, train_000.bin)"},
		{"", []string{"train", "--data", text, "--vocab-size", "300", "--out", modelDir}, "holds a gptctl run, model or data set (it has model.safetensors)"},
		{"", []string{"train", "--data", text, "--vocab-size", "300", "--out", filepath.Join(shardDir, "tokenizer")}, "a data set of token shards, whose tokenizer the shards were made with"},
		{"", []string{"train", "--data", text, "--vocab-size", "300", "--out", hfDir}, "(it has config.json)"},
	}...)
	tests = append(tests, struct {
		stdin string
		args  []string
		want  string
	}{"abc\nabd", []string{"encode", "-t", chars}, chars + `: characters "d" are not in the vocabulary (char, `})
	for _, tt := range tests {
		_, err := runCmd(NewCmdTokenizer(), tt.stdin, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != exitUsage {
			t.Errorf("%v: got %v (exit %d), want exit %d with %q", tt.args, err, exitCode(err), exitUsage, tt.want)
		}
	}
}

func TestTokenizerGPT2(t *testing.T) {
	dir := "../../../shared/data/tokenizer/gpt2"
	if _, err := os.Stat(filepath.Join(dir, "encoder.json")); err != nil {
		t.Skipf("no GPT-2 vocabulary at %s", dir)
	}
	t.Setenv(data.EnvGPT2Vocab, dir)
	out, err := runCmd(NewCmdTokenizer(), "Hello world", "encode", "--tokenizer", "gpt2")
	if err != nil || out != "15496 995\n" {
		t.Fatalf("encode: %q, %v", out, err)
	}
}
