package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// OpenAIVocabSizes are the sizes of the OpenAI vocabularies, by spec.
var OpenAIVocabSizes = map[string]int{"gpt2": 50257, "gpt1": 40478}

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
		name := map[string]string{"gpt2": "GPT-2", "gpt1": "GPT-1"}[spec]
		if size := OpenAIVocabSizes[spec]; tok.Name() == spec+"-bpe" && tok.VocabSize() != size { // a BPE of the same format, trained on other text
			return nil, fmt.Errorf("tokenizer %s: %s=%s holds a BPE of %d tokens, not %s's %d: point %s at a directory holding %s's %s (or, to use the tokenizer it holds, name that directory as the tokenizer)",
				spec, env, dir, tok.VocabSize(), name, size, env, name, vocabFiles[spec])
		}
		if tok.Name() != spec+"-bpe" { // the other vocabulary, or a char or byte tokenizer
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
	if has(hfTokenizerConfigFile) && (has(GPT2EncoderFile) || has(hfVocabFile) || has(GPT1EncoderFile) || has(CharTokenizerFile)) {
		if err := checkTokenizerConfig(filepath.Join(dir, hfTokenizerConfigFile)); err != nil {
			return nil, err
		}
	}
	switch {
	case has(GPT2EncoderFile) && has(GPT2MergesFile):
		tokens, pairs, err := readBPEFiles(dir, GPT2EncoderFile, GPT2MergesFile)
		if err != nil {
			return nil, err
		}
		t, err := gpt2BPE(tokens, pairs, filepath.Join(dir, GPT2EncoderFile), filepath.Join(dir, GPT2MergesFile))
		if err != nil {
			return nil, fmt.Errorf("load bpe from %s: %w", dir, err)
		}
		return t, nil
	case has(hfVocabFile) && has(hfMergesFile):
		return loadHFVocab(dir)
	case has(GPT1EncoderFile):
		tokens, pairs, err := readBPEFiles(dir, GPT1EncoderFile, GPT1MergesFile)
		if err != nil {
			return nil, err
		}
		return gpt1BPE(tokens, pairs, filepath.Join(dir, GPT1EncoderFile), filepath.Join(dir, GPT1MergesFile))
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

// checkTokenizerConfig refuses a tokenizer_config.json with a setting that
// makes Hugging Face's tokenizers encode otherwise than the vocabulary files
// beside it say, and so otherwise than gptctl, or fail to load:
// add_prefix_space (a space before the text: "Hello" becomes "ĠHello"),
// add_bos_token and add_eos_token (a token before or after every encoding,
// where the class takes the setting; GPT-2's fast tokenizer refuses
// add_bos_token), whatever tokenizer_class says. Other keys, such as
// clean_up_tokenization_spaces, which changes decoding alone, stay unread.
func checkTokenizerConfig(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("tokenizer %s: not a JSON object: %w", path, err)
	}
	var set []string
	for _, key := range []string{"add_prefix_space", "add_bos_token", "add_eos_token"} {
		var on bool
		if v, ok := cfg[key]; ok && json.Unmarshal(v, &on) == nil && on {
			set = append(set, key)
		}
	}
	if len(set) > 0 {
		return fmt.Errorf("tokenizer %s: %s true: Hugging Face's tokenizers would then give other ids than gptctl, which encodes text as it is (each must be false or absent)",
			path, strings.Join(set, ", "))
	}
	return nil
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
	tokens, pairs, err := readBPEFiles(dir, hfVocabFile, hfMergesFile)
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

// readBPEFiles reads a BPE's vocabulary (tokens by id) and merges from the
// files vocabName and mergesName in dir. Where dir holds a tokenizer.json
// too, the two must be one tokenizer: Hugging Face's AutoTokenizer reads
// tokenizer.json and passes over the others, so files that disagree would
// give the model other ids there than in gptctl (see sameAsTokenizerJSON).
func readBPEFiles(dir, vocabName, mergesName string) ([]string, [][2]string, error) {
	tokens, err := readEncoderJSON(filepath.Join(dir, vocabName))
	if err != nil {
		return nil, nil, err
	}
	pairs, err := readMerges(filepath.Join(dir, mergesName))
	if err != nil {
		return nil, nil, err
	}
	if err := sameAsTokenizerJSON(dir, vocabName, mergesName, tokens, pairs); err != nil {
		return nil, nil, err
	}
	return tokens, pairs, nil
}

// sameAsTokenizerJSON checks that dir's tokenizer.json, if it has one, holds
// the vocabulary and merges read from vocabName (tokens by id) and
// mergesName (pairs by rank): model.vocab the same tokens with the same ids,
// its added tokens within the vocabulary the same too (those past it, such
// as a pad token Hugging Face added, gptctl does not encode to), and
// model.merges the same pairs in the same order. It compares what the files
// say, not their bytes, which differ in layout and escapes.
func sameAsTokenizerJSON(dir, vocabName, mergesName string, tokens []string, pairs [][2]string) error {
	path := filepath.Join(dir, CharTokenizerFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	why, err := tokenizerJSONDiffers(raw, path, vocabName, mergesName, tokens, pairs)
	if err != nil || why == "" {
		return err
	}
	return fmt.Errorf("%s and %s + %s beside it are two different tokenizers (%s): gptctl reads %s + %s, Hugging Face's AutoTokenizer reads %s, so the model would get other ids in each; remove the files of the one the model was not trained with",
		path, vocabName, mergesName, why, vocabName, mergesName, CharTokenizerFile)
}

// tokenizerJSONDiffers says how the tokenizer.json in raw (read from path)
// differs from tokens and pairs, read from vocabName and mergesName; ""
// where it does not.
func tokenizerJSONDiffers(raw []byte, path, vocabName, mergesName string, tokens []string, pairs [][2]string) (string, error) {
	const tj = CharTokenizerFile
	f, err := readHFBPEFile(raw, path)
	if err != nil {
		return "", err
	}
	switch {
	case f.old:
		return fmt.Sprintf("%s is gptctl's char or byte tokenizer, the others a BPE", tj), nil
	case f.typ == "":
		return fmt.Sprintf("%s's model %s", tj, untypedNotBPE), nil
	case f.typ != "BPE":
		return fmt.Sprintf("%s is a %s model, not a BPE", tj, f.typ), nil
	case len(f.vocab) != len(tokens):
		return fmt.Sprintf("%s has %d tokens, %s %d", tj, len(f.vocab), vocabName, len(tokens)), nil
	}
	if why := vocabDiffers(f, vocabName, tokens); why != "" {
		return why, nil
	}
	return mergesDiffer(f.merges, mergesName, pairs), nil
}

// vocabDiffers says where the vocabulary of f, a tokenizer.json of as many
// tokens, first differs from tokens, read from vocabName: the lowest id
// that differs, so that the message is the same each time; "" where it
// does not.
func vocabDiffers(f *hfBPEFile, vocabName string, tokens []string) string {
	const tj = CharTokenizerFile
	found, bad, badTok := false, 0, ""
	differs := func(e hfVocabEntry) {
		if (e.id < 0 || e.id >= len(tokens) || tokens[e.id] != e.tok) && (!found || e.id < bad) {
			found, bad, badTok = true, e.id, e.tok
		}
	}
	for _, e := range f.vocab {
		differs(e)
	}
	for _, a := range f.added {
		if a.id >= 0 && a.id < len(tokens) { // those past the vocabulary are Hugging Face's own
			differs(a)
		}
	}
	switch {
	case found && (bad < 0 || bad >= len(tokens)):
		return fmt.Sprintf("%s gives %q id %d, outside the ids 0..%d of %s", tj, badTok, bad, len(tokens)-1, vocabName)
	case found:
		return fmt.Sprintf("id %d is %q in %s, %q in %s", bad, badTok, tj, tokens[bad], vocabName)
	}
	return ""
}

// mergesDiffer says how merges, a tokenizer.json's, differ from pairs, read
// from mergesName; "" where they do not.
func mergesDiffer(merges [][2]string, mergesName string, pairs [][2]string) string {
	const tj = CharTokenizerFile
	if len(merges) == len(pairs)-1 {
		// Hugging Face's converter reads merges.txt as its lines after
		// the first and before the last: a file without a final newline
		// loses its last merge in tokenizer.json. The two encode alike
		// but where that merge applies; the files are one tokenizer.
		pairs = pairs[:len(merges)]
	}
	if len(merges) != len(pairs) {
		return fmt.Sprintf("%s has %d merges, %s %d", tj, len(merges), mergesName, len(pairs))
	}
	for i := range merges {
		if merges[i] != pairs[i] {
			return fmt.Sprintf("merge %d is %q in %s, %q in %s", i+1, merges[i][0]+" "+merges[i][1], tj, pairs[i][0]+" "+pairs[i][1], mergesName)
		}
	}
	return ""
}
