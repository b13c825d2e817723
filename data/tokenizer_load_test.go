package data

import (
	"encoding/json"
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
	// Read from the environment too, where gpt2 must be GPT-2's 50,257.
	t.Setenv(EnvGPT2Vocab, hf)
	if got, err := ResolveTokenizer("gpt2"); err == nil || !strings.Contains(err.Error(), "holds a BPE of 300 tokens, not GPT-2's 50257") {
		t.Fatalf("gpt2 from the environment: %v, %v; want the vocabulary's size refused", got, err)
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
// the other one, a BPE of another size, or a char tokenizer, is refused naming the variable and
// what its directory holds, where it was loaded as if it were the one asked
// for.
func TestResolveTokenizerEnvOtherVocabulary(t *testing.T) {
	gpt2 := sharedPath("GPTCTL_GPT2_VOCAB", "../../shared/data/tokenizer/gpt2")
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
	// A byte-level BPE of another size is of gpt2's kind, not GPT-2's: a
	// run that says tokenizer gpt2 would have another vocabulary.
	t.Setenv(EnvGPT2Vocab, bpe)
	want := "tokenizer gpt2: GPTCTL_GPT2_VOCAB=" + bpe + " holds a BPE of 300 tokens, not GPT-2's 50257: point GPTCTL_GPT2_VOCAB at a directory holding GPT-2's encoder.json and vocab.bpe (or, to use the tokenizer it holds, name that directory as the tokenizer)"
	if tok, err := ResolveTokenizer("gpt2"); err == nil || err.Error() != want {
		t.Errorf("gpt2 from a 300-token byte-level BPE: %v, %v; want %q", tok, err, want)
	}
	if _, err := os.Stat(filepath.Join(gpt2, GPT2EncoderFile)); err == nil {
		t.Setenv(EnvGPT2Vocab, gpt2)
		if tok, err := ResolveTokenizer("gpt2"); err != nil || tok.VocabSize() != 50257 {
			t.Errorf("gpt2 from GPT-2's vocabulary: %v, %v", tok, err)
		}
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

// A directory with tokenizer.json beside vocab.json + merges.txt (or
// encoder.json + vocab.bpe) holds the tokenizer twice: Hugging Face's
// AutoTokenizer reads tokenizer.json, gptctl the others. Files that agree
// load; files of two tokenizers are refused, naming both and how they
// differ, where gptctl read one of them silently.
func TestTokenizerJSONBesideVocabFiles(t *testing.T) {
	tok := trainTiny(t, smallText()[:20_000], 300)
	other := trainTiny(t, smallText()[20_000:40_000], 300) // the same size, other merges
	smaller := trainTiny(t, smallText()[:20_000], 280)
	save := func(t *testing.T, vocab *BPE, tj *BPE) string {
		dir := t.TempDir()
		if err := vocab.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := vocab.SaveHF(dir, 64); err != nil {
			t.Fatal(err)
		}
		if err := tj.SaveTokenizerJSON(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	agree := save(t, tok, tok)
	if got, err := ResolveTokenizer(agree); err != nil || got.VocabSize() != 300 {
		t.Fatalf("files that agree: %v, %v", got, err)
	}
	for _, c := range []struct {
		name string
		tj   *BPE
		want string
	}{
		{"other size", smaller, "tokenizer.json has 280 tokens, encoder.json 300"},
		{"other tokens", other, `in tokenizer.json, "`},
	} {
		for _, names := range [][2]string{{GPT2EncoderFile, GPT2MergesFile}, {hfVocabFile, hfMergesFile}} {
			dir := save(t, tok, c.tj)
			if names[0] == hfVocabFile {
				os.Remove(filepath.Join(dir, GPT2EncoderFile))
				os.Remove(filepath.Join(dir, GPT2MergesFile))
			}
			want := strings.ReplaceAll(c.want, GPT2EncoderFile, names[0])
			_, err := ResolveTokenizer(dir)
			if err == nil || !strings.Contains(err.Error(), want) ||
				!strings.Contains(err.Error(), filepath.Join(dir, "tokenizer.json")+" and "+names[0]+" + "+names[1]+" beside it are two different tokenizers") ||
				!strings.Contains(err.Error(), "remove the files of the one the model was not trained with") {
				t.Errorf("%s, %s: %v; want %q, both files named and the fix", c.name, names[0], err, want)
			}
		}
	}

	// The same vocabulary with one merge changed, and with two ids
	// swapped: compared by content, in either form of merges.
	dir := save(t, tok, tok)
	path := filepath.Join(dir, "tokenizer.json")
	var f map[string]any
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	model := f["model"].(map[string]any)
	merges := model["merges"].([]any)
	pairs := make([]any, len(merges))
	for i, m := range merges {
		l, r, _ := strings.Cut(m.(string), " ")
		pairs[i] = []string{l, r}
	}
	model["merges"] = pairs // the newer form, [left, right]
	writeJSONFile(t, path, f)
	if _, err := ResolveTokenizer(dir); err != nil {
		t.Errorf("merges as pairs, the same tokenizer: %v", err)
	}
	pairs[5], pairs[6] = pairs[6], pairs[5]
	writeJSONFile(t, path, f)
	if _, err := ResolveTokenizer(dir); err == nil || !strings.Contains(err.Error(), "merge 6 is ") || !strings.Contains(err.Error(), "in vocab.bpe") {
		t.Errorf("two merges swapped: %v", err)
	}
	pairs[5], pairs[6] = pairs[6], pairs[5]
	// One merge fewer, the last: Hugging Face's converter drops the last
	// line of a merges file without a final newline. One tokenizer.
	model["merges"] = pairs[:len(pairs)-1]
	writeJSONFile(t, path, f)
	if _, err := ResolveTokenizer(dir); err != nil {
		t.Errorf("tokenizer.json without the last merge: %v", err)
	}
	model["merges"] = pairs[:len(pairs)-2]
	writeJSONFile(t, path, f)
	if _, err := ResolveTokenizer(dir); err == nil || !strings.Contains(err.Error(), "merges") {
		t.Errorf("tokenizer.json without the last two merges: %v", err)
	}
	model["merges"] = pairs
	// A Unigram tokenizer.json (a list of [piece, score] for vocabulary)
	// beside them is named as what it is, not as a JSON type error.
	unigram := map[string]any{"model": map[string]any{"type": "Unigram", "vocab": [][]any{{"a", -1.5}, {"b", -2}}}}
	writeJSONFile(t, path, unigram)
	if _, err := ResolveTokenizer(dir); err == nil || !strings.Contains(err.Error(), "is a Unigram model, not a BPE") {
		t.Errorf("a Unigram tokenizer.json beside the BPE files: %v", err)
	}
	writeJSONFile(t, path, f)
	vocab := model["vocab"].(map[string]any)
	vocab["a"], vocab["b"] = vocab["b"], vocab["a"]
	writeJSONFile(t, path, f)
	if _, err := ResolveTokenizer(dir); err == nil || !strings.Contains(err.Error(), `is "b" in tokenizer.json, "a" in encoder.json`) {
		t.Errorf("two ids swapped: %v", err)
	}
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The check reads tokenizer.json once more beside GPT-2's vocabulary:
// tens of milliseconds for 50,257 tokens and 50,000 merges.
func BenchmarkTokenizerJSONCheck(b *testing.B) {
	tok := gpt2Vocab(b)
	dir := b.TempDir()
	if err := tok.Save(dir); err != nil {
		b.Fatal(err)
	}
	if err := tok.SaveTokenizerJSON(dir); err != nil {
		b.Fatal(err)
	}
	tokens, err := readEncoderJSON(filepath.Join(dir, GPT2EncoderFile))
	if err != nil {
		b.Fatal(err)
	}
	pairs, err := readMerges(filepath.Join(dir, GPT2MergesFile))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := sameAsTokenizerJSON(dir, GPT2EncoderFile, GPT2MergesFile, tokens, pairs); err != nil {
			b.Fatal(err)
		}
	}
}

// A tokenizer_config.json that makes Hugging Face's tokenizers add a space
// before the text or a token around it gives the model other ids there than
// in gptctl: refused, naming the file and the keys. gptctl's own file, and
// the settings at false, load.
func TestTokenizerConfigThatChangesIDs(t *testing.T) {
	dir := t.TempDir()
	if err := trainTiny(t, smallText()[:20_000], 300).SaveHF(dir, 64); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveTokenizer(dir); err != nil {
		t.Fatalf("gptctl's own files: %v", err)
	}
	path := filepath.Join(dir, hfTokenizerConfigFile)
	for cfg, want := range map[string]string{
		`{"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": true}`:                          "add_prefix_space true",
		`{"tokenizer_class": "GPT2Tokenizer", "add_bos_token": true, "add_eos_token": true}`:      "add_bos_token, add_eos_token true",
		`{"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": false, "add_bos_token": false}`: "",
		`[1, 2]`: "not a JSON object",
	} {
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ResolveTokenizer(dir)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", cfg, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path)):
			t.Errorf("%s: got %v, want an error naming %s and %q", cfg, err, path, want)
		}
	}
	// A char tokenizer's directory is read the same way.
	char := t.TempDir()
	if err := NewCharTokenizer("abc").Save(char); err != nil {
		t.Fatal(err)
	}
	if err := NewCharTokenizer("abc").SaveHF(char, 64); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveTokenizer(char); err != nil {
		t.Fatalf("gptctl's own char files: %v", err)
	}
	os.WriteFile(filepath.Join(char, hfTokenizerConfigFile), []byte(`{"add_bos_token": true}`), 0o644)
	if _, err := ResolveTokenizer(char); err == nil || !strings.Contains(err.Error(), "add_bos_token") {
		t.Errorf("char tokenizer with add_bos_token: %v", err)
	}
}
