package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveTokenizer(t *testing.T) {
	t.Setenv(EnvGPT2Vocab, "")
	t.Setenv(EnvGPT1Vocab, "")
	for spec, want := range map[string]string{
		"gpt2":         "tokenizer gpt2: set GPTCTL_GPT2_VOCAB or pass a directory holding encoder.json and vocab.bpe",
		"gpt1":         "tokenizer gpt1: set GPTCTL_GPT1_VOCAB",
		"":             "empty spec",
		"/nonexistent": "tokenizer /nonexistent: not char, byte, gpt2, gpt1 or a tokenizer directory",
		t.TempDir():    "holds no tokenizer",
	} {
		if _, err := ResolveTokenizer(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveTokenizer(%q) = %v, want %q", spec, err, want)
		}
	}

	if got, err := ResolveTokenizer("byte"); err != nil || got.VocabSize() != 256 || got.Decode(got.Encode("h\u00e9")) != "h\u00e9" {
		t.Fatalf("ResolveTokenizer(byte) = %v, %v", got, err)
	}

	// A trained BPE saved in a directory is found by its files.
	tok := trainTiny(t, smallText()[:20_000], 300)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := ResolveTokenizer(dir)
	if err != nil || got.VocabSize() != 300 || got.Name() != "gpt2-bpe" {
		t.Fatalf("ResolveTokenizer(dir) = %v, %v", got, err)
	}
	// So is one under Hugging Face's file names.
	hf := t.TempDir()
	os.Rename(filepath.Join(dir, GPT2EncoderFile), filepath.Join(hf, hfVocabFile))
	os.Rename(filepath.Join(dir, GPT2MergesFile), filepath.Join(hf, hfMergesFile))
	if got, err := ResolveTokenizer(hf); err != nil || got.VocabSize() != 300 {
		t.Fatalf("Hugging Face names: %v, %v", got, err)
	}
	t.Setenv(EnvGPT2Vocab, hf)
	if got, err := ResolveTokenizer("gpt2"); err != nil || got.VocabSize() != 300 {
		t.Fatalf("gpt2 from the environment: %v, %v", got, err)
	}

	// A char tokenizer directory saved by gptctl.
	char := t.TempDir()
	os.WriteFile(filepath.Join(char, "tokenizer.json"), []byte(`{"type": "char", "chars": "ab"}`), 0o644)
	if tok, err := ResolveTokenizer(char); err != nil || tok.Name() != "char" || tok.VocabSize() != 2 {
		t.Fatalf("char dir: %v, %v", tok, err)
	}
	// A data prepare directory names its shards' tokenizer, unless the
	// prepare that wrote it did not finish.
	shards := t.TempDir()
	os.Rename(char, filepath.Join(shards, "tokenizer"))
	if tok, err := ResolveTokenizer(shards); err != nil || tok.Name() != "char" || tok.VocabSize() != 2 {
		t.Fatalf("shard dir: %v, %v", tok, err)
	}
	os.WriteFile(filepath.Join(shards, IncompleteFile), nil, 0o644)
	if _, err := ResolveTokenizer(shards); err == nil || !strings.Contains(err.Error(), IncompleteFile) {
		t.Errorf("shard dir of an unfinished prepare: %v", err)
	}
	if _, err := ResolveTokenizer("char"); err == nil || !strings.Contains(err.Error(), "built from a corpus") {
		t.Errorf("char: %v", err)
	}
}

// GPTCTL_GPT2_VOCAB and GPTCTL_GPT1_VOCAB must name their own vocabulary:
// the other one, or a char tokenizer, is refused naming the variable and
// what its directory holds, where it was loaded as if it were the one asked
// for.
func TestResolveTokenizerEnvOtherVocabulary(t *testing.T) {
	bpe := t.TempDir()
	if err := trainTiny(t, smallText()[:20_000], 300).Save(bpe); err != nil {
		t.Fatal(err)
	}
	char := t.TempDir()
	if err := NewCharTokenizer("ab").Save(char); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ spec, env, dir, want string }{
		{"gpt1", EnvGPT1Vocab, bpe, "tokenizer gpt1: GPTCTL_GPT1_VOCAB=" + bpe + " holds a GPT-2 style byte-level BPE of 300 tokens, not GPT-1's BPE: point GPTCTL_GPT1_VOCAB at a directory holding GPT-1's encoder_bpe_40000.json and vocab_40000.bpe"},
		{"gpt2", EnvGPT2Vocab, char, "tokenizer gpt2: GPTCTL_GPT2_VOCAB=" + char + " holds a char tokenizer of 2 characters, not GPT-2's BPE"},
	}
	gpt1 := sharedPath("GPTCTL_GPT1_VOCAB", "../../shared/data/tokenizer/gpt1")
	if _, err := os.Stat(filepath.Join(gpt1, GPT1EncoderFile)); err == nil {
		cases = append(cases, struct{ spec, env, dir, want string }{"gpt2", EnvGPT2Vocab, gpt1,
			"tokenizer gpt2: GPTCTL_GPT2_VOCAB=" + gpt1 + " holds the GPT-1 BPE, not GPT-2's BPE: point GPTCTL_GPT2_VOCAB at a directory holding GPT-2's encoder.json and vocab.bpe"})
	}
	for _, c := range cases {
		t.Setenv(c.env, c.dir)
		if tok, err := ResolveTokenizer(c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: %v, %v; want %q", c.env, c.dir, tok, err, c.want)
		}
	}
	t.Setenv(EnvGPT2Vocab, bpe) // a byte-level BPE is gpt2's kind
	if tok, err := ResolveTokenizer("gpt2"); err != nil || tok.VocabSize() != 300 {
		t.Errorf("gpt2 from a byte-level BPE: %v, %v", tok, err)
	}
}

// A gptctl run directory names its model's tokenizer, in checkpoint/.
func TestResolveTokenizerRunDirectory(t *testing.T) {
	run := t.TempDir()
	ck := filepath.Join(run, RunCheckpointDir)
	os.Mkdir(ck, 0o755)
	if err := NewCharTokenizer("abc").Save(ck); err != nil {
		t.Fatal(err)
	}
	tok, err := ResolveTokenizer(run)
	if err != nil || tok.VocabSize() != 3 {
		t.Fatalf("ResolveTokenizer(run dir) = %v, %v; want the checkpoint's 3 chars", tok, err)
	}
	empty := t.TempDir()
	os.Mkdir(filepath.Join(empty, RunCheckpointDir), 0o755)
	if _, err := ResolveTokenizer(empty); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Fatalf("a run without a tokenizer: %v", err)
	}
}
