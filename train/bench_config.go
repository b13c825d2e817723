package train

// gptctl bench's config: the keys it does not read, the shape and
// vocabulary of the model it measures.

import (
	"fmt"
	"path/filepath"
	"reflect"

	"gptctl/data"
	"gptctl/graph"
)

// benchUnread are the config keys bench does not read, each with why: it
// trains on random tokens at a constant lr for --steps steps, stops at the
// first non-finite step, and writes nothing but its JSON line. LoadBench
// does not validate them and gptctl bench notes a --set of one.
var benchUnread = []struct{ key, why string }{
	{"data", "bench trains on random tokens"},
	{"val_data", "bench trains on random tokens"},
	{"val_fraction", "bench trains on random tokens"},
	{"max_steps", "--steps sets the timed steps"},
	{"max_time", "--steps sets the timed steps"},
	{"warmup_steps", "bench steps at lr, without the schedule"},
	{"min_lr", "bench steps at lr, without the schedule"},
	{"lr_decay", "bench steps at lr, without the schedule"},
	{"eval_interval", "bench does not evaluate"},
	{"eval_batches", "bench does not evaluate"},
	{"patience", "bench does not evaluate"},
	{"sample_tokens", "bench draws no samples"},
	{"sample_prompt", "bench draws no samples"},
	{"log_interval", "bench prints one JSON line"},
	{"checkpoint_interval", "bench writes no checkpoint"},
	{"on_nonfinite", "bench stops at the first non-finite step: a skipped step is not a training step to time"},
}

// BenchUnread says why bench does not read the config key key, if it does
// not.
func BenchUnread(key string) (why string, ok bool) {
	for _, u := range benchUnread {
		if u.key == key {
			return u.why, true
		}
	}
	return "", false
}

// LoadBench is Load for gptctl bench: the keys bench does not read
// (benchUnread), from the file or an override, take values that pass
// before the config is validated, so that a pretrain config's max_time
// or a --set max_steps=0 does not stop a speed test. An unknown key, or a
// value of the wrong type, is an error all the same.
func LoadBench(path string, overrides []string) (Config, error) {
	return load(path, overrides, func(c *Config) {
		def := reflect.ValueOf(Default())
		for _, u := range benchUnread {
			fieldByYAMLName(reflect.ValueOf(c).Elem(), u.key).Set(fieldByYAMLName(def, u.key))
		}
		c.MinLR = 0 // the default's 1e-4 is more than a small lr
	})
}

// initShape returns the architecture of the init_from model.
func initShape(dir string) (graph.Config, error) {
	md, err := ModelDir(dir)
	if err != nil {
		return graph.Config{}, &InputError{Err: fmt.Errorf("init_from: %w", err)}
	}
	c, err := ReadHFConfig(filepath.Join(md, "config.json"))
	if err != nil {
		return graph.Config{}, &InputError{Err: fmt.Errorf("init_from: %w", err)}
	}
	if IsTaskModel(md) { // pretraining drops its task tokens (dropTaskTokens)
		info, err := readTaskInfo(filepath.Join(md, taskFile))
		if err != nil {
			return graph.Config{}, &InputError{Err: fmt.Errorf("init_from: %w", err)}
		}
		c.VocabSize = info.Special.Start
	}
	return c, nil
}

// benchConfig checks spec and returns cfg with the shape of the model to
// measure (init_from's, when set) and spec's thread count (when set).
func benchConfig(cfg Config, spec BenchSpec) (Config, error) {
	steps, warmup, threads := spec.Steps, spec.Warmup, spec.Threads
	if steps < 1 || warmup < 0 || threads < 0 {
		return cfg, &ConfigError{fmt.Errorf("bench: steps %d must be positive, warmup %d and threads %d not negative", steps, warmup, threads)}
	}
	if cfg.InitFrom != "" { // the shape of the model a pretrain would continue
		mc, err := initShape(cfg.InitFrom)
		if err != nil {
			return cfg, err
		}
		mc.Dropout = cfg.Dropout
		cfg.Config = mc
	}
	if cfg.InitFrom == "" { // else the model's vocabulary and tokenizer
		if err := benchVocab(&cfg); err != nil {
			return cfg, err
		}
	}
	if threads > 0 { // the flag; else the config's threads
		cfg.Threads = threads
	}
	return cfg, nil
}

// benchVocab sets cfg's vocab_size 0 to the size of its tokenizer, and
// refuses one smaller than the tokenizer's, as pretrain does. The size of
// a char tokenizer comes from a corpus, which bench does not read: with it
// vocab_size must be set.
func benchVocab(cfg *Config) error {
	n, err := tokenizerSize(cfg.Tokenizer)
	switch {
	case err != nil:
		return err
	case cfg.VocabSize <= 0 && n == 0:
		return &ConfigError{fmt.Errorf("bench: vocab_size is %d and tokenizer char takes its size from a corpus: set vocab_size to the number of characters of the corpus (pretrain logs it as the vocab: 65 for tiny-shakespeare), e.g. --set vocab_size=65", cfg.VocabSize)}
	case cfg.VocabSize <= 0:
		cfg.VocabSize = n
	case n > cfg.VocabSize:
		return &ConfigError{fmt.Errorf("bench: vocab_size %d is smaller than the tokenizer's %d tokens (tokenizer %s): set vocab_size to at least %d, or to 0 for the tokenizer's size", cfg.VocabSize, n, cfg.Tokenizer, n)}
	}
	return nil
}

// tokenizerSize is the number of tokens of the tokenizer spec names, or 0
// for char, whose size comes from a corpus. The built-in BPEs' sizes are
// known without their files.
func tokenizerSize(spec string) (int, error) {
	if spec == "char" {
		return 0, nil
	}
	tok, err := data.ResolveTokenizer(spec)
	if err == nil {
		return tok.VocabSize(), nil
	}
	if n, ok := data.OpenAIVocabSizes[spec]; ok { // its files need not be here
		return n, nil
	}
	return 0, &InputError{Err: err} // as pretrain reports it
}
