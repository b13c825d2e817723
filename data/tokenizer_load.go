package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables that name the directories of the OpenAI vocabularies
// for the tokenizer specs "gpt2" and "gpt1".
const (
	EnvGPT2Vocab = "GPTCTL_GPT2_VOCAB"
	EnvGPT1Vocab = "GPTCTL_GPT1_VOCAB"
)

// vocabFiles are the files of the OpenAI vocabularies, by spec.
var vocabFiles = map[string]string{"gpt2": GPT2EncoderFile + " and " + GPT2MergesFile, "gpt1": GPT1EncoderFile + " and " + GPT1MergesFile}

// ResolveTokenizer returns the tokenizer a command-line spec names:
//
//	gpt2  the GPT-2 BPE in the directory $GPTCTL_GPT2_VOCAB
//	gpt1  the GPT-1 BPE in the directory $GPTCTL_GPT1_VOCAB
//	byte  the 256 byte values, no end-of-text token
//	DIR   a directory, recognised by its files: encoder.json + vocab.bpe
//	      (or Hugging Face's vocab.json + merges.txt) is a GPT-2 style BPE,
//	      encoder_bpe_40000.json + vocab_40000.bpe is GPT-1, and
//	      tokenizer.json a char or byte tokenizer saved by gptctl, or
//	      Hugging Face's one-file form of a byte-level BPE; a gptctl run
//	      directory gives the tokenizer in its checkpoint/.
func ResolveTokenizer(spec string) (Tokenizer, error) {
	switch spec {
	case "":
		return nil, errors.New("tokenizer: empty spec (use gpt2, gpt1, byte or a directory)")
	case "byte":
		return ByteTokenizer{}, nil
	case "char":
		return nil, errors.New("tokenizer char is built from a corpus's characters (pretrain builds it from its corpus, data prepare from its inputs); here pass the run or shard directory that holds one")
	case "gpt2", "gpt1":
		env := map[string]string{"gpt2": EnvGPT2Vocab, "gpt1": EnvGPT1Vocab}[spec]
		dir := os.Getenv(env)
		if dir == "" {
			return nil, fmt.Errorf("tokenizer %s: set %s or pass a directory holding %s", spec, env, vocabFiles[spec])
		}
		tok, err := resolveDir(dir)
		if err != nil {
			return nil, fmt.Errorf("tokenizer %s (%s=%s): %w", spec, env, dir, err)
		}
		if tok.Name() != spec+"-bpe" { // the other vocabulary, or a char or byte tokenizer
			name := map[string]string{"gpt2": "GPT-2", "gpt1": "GPT-1"}[spec]
			return nil, fmt.Errorf("tokenizer %s: %s=%s holds %s, not %s's BPE: point %s at a directory holding %s's %s (or, to use the tokenizer it holds, name that directory as the tokenizer)",
				spec, env, dir, tokenizerKind(tok), name, env, name, vocabFiles[spec])
		}
		return tok, nil
	}
	tok, err := resolveDir(spec)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", spec, err)
	}
	return tok, nil
}

// tokenizerKind says what tokenizer tok is, for a message.
func tokenizerKind(tok Tokenizer) string {
	switch tok.Name() {
	case "gpt1-bpe":
		return "the GPT-1 BPE"
	case "gpt2-bpe":
		return fmt.Sprintf("a GPT-2 style byte-level BPE of %d tokens", tok.VocabSize())
	case "char":
		return fmt.Sprintf("a char tokenizer of %d characters", tok.VocabSize())
	}
	return "the " + tok.Name() + " tokenizer"
}

func resolveDir(dir string) (Tokenizer, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("not char, byte, gpt2, gpt1 or a tokenizer directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is a file; pass its directory, or gpt2, gpt1 or byte", dir)
	}
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	switch {
	case has(GPT2EncoderFile) && has(GPT2MergesFile):
		return LoadGPT2BPE(dir)
	case has(hfVocabFile) && has(hfMergesFile):
		return loadHFVocab(dir)
	case has(GPT1EncoderFile):
		return LoadGPT1BPE(dir)
	case has(CharTokenizerFile):
		return loadTokenizerJSON(filepath.Join(dir, CharTokenizerFile))
	case has(RunCheckpointDir): // a gptctl run directory: its model's tokenizer
		return resolveDir(filepath.Join(dir, RunCheckpointDir))
	case has(shardTokenizerDir): // a data prepare directory: its shards' tokenizer
		if err := CheckPrepared(dir); err != nil {
			return nil, err
		}
		return resolveDir(filepath.Join(dir, shardTokenizerDir))
	}
	return nil, fmt.Errorf("directory %s holds no tokenizer (want %s, %s and %s, %s and %s, or %s and %s; or a run's %s/ or shards' %s/ directory)",
		dir, CharTokenizerFile, GPT2EncoderFile, GPT2MergesFile, hfVocabFile, hfMergesFile, GPT1EncoderFile, GPT1MergesFile, RunCheckpointDir, shardTokenizerDir)
}

// RunCheckpointDir is where a gptctl run directory keeps its latest model
// and that model's tokenizer.
const RunCheckpointDir = "checkpoint"

// shardTokenizerDir is where data prepare saves the tokenizer of its shards.
const shardTokenizerDir = "tokenizer"

// loadHFVocab loads Hugging Face's vocab.json and merges.txt: GPT-2's
// byte-level BPE, or GPT-1's (openai-gpt), whose tokens mark word ends with
// </w> (32,581 of its 40,478 do; GPT-2's none).
func loadHFVocab(dir string) (Tokenizer, error) {
	vocab, merges := filepath.Join(dir, hfVocabFile), filepath.Join(dir, hfMergesFile)
	tokens, err := readEncoderJSON(vocab)
	if err != nil {
		return nil, err
	}
	pairs, err := readMerges(merges)
	if err != nil {
		return nil, err
	}
	ends := 0
	for _, t := range tokens {
		if strings.HasSuffix(t, gpt1WordEnd) {
			ends++
		}
	}
	if ends > len(tokens)/4 {
		return gpt1BPE(tokens, pairs, vocab, merges)
	}
	t, err := gpt2BPE(tokens, pairs, vocab, merges)
	if err != nil {
		return nil, fmt.Errorf("load bpe from %s: %w", dir, err)
	}
	return t, nil
}
