package train

// Config: defaults, then the YAML file, then --set overrides, then Validate.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"gptctl/graph"
)

// Config is one gptctl job: the model, the data and the optimisation.
type Config struct {
	graph.Config `yaml:",inline"`

	// Data.
	Data        string  `yaml:"data"`         // corpus file or token-shard directory; "builtin" = the embedded corpus
	ValData     string  `yaml:"val_data"`     // separate validation file or shard directory; "" = split off val_fraction
	ValFraction float64 `yaml:"val_fraction"` // tail of the corpus held out for validation
	Tokenizer   string  `yaml:"tokenizer"`    // char | byte | gpt2 | gpt1 | DIR

	// InitFrom continues pretraining from a model (a gptctl run or Hugging
	// Face model directory): its architecture, weights and tokenizer take the
	// place of the model keys above and tokenizer; the optimizer starts
	// fresh. "" = a new model drawn from seed.
	InitFrom string `yaml:"init_from"`

	// Optimisation.
	BatchSize   int     `yaml:"batch_size"`
	SeqLen      int     `yaml:"seq_len"` // 0 = n_ctx
	GradAccum   int     `yaml:"grad_accum"`
	MaxSteps    int     `yaml:"max_steps"`
	LR          float64 `yaml:"lr"`
	MinLR       float64 `yaml:"min_lr"`
	WarmupSteps int     `yaml:"warmup_steps"`
	LRDecay     string  `yaml:"lr_decay"` // cosine | linear | constant
	AdamWConfig `yaml:",inline"`
	GradClip    float64 `yaml:"grad_clip"` // 0 = no clipping

	// Evaluation, logging and checkpoints.
	EvalInterval       int `yaml:"eval_interval"`
	EvalBatches        int `yaml:"eval_batches"`
	LogInterval        int `yaml:"log_interval"`
	CheckpointInterval int `yaml:"checkpoint_interval"`
	// Patience stops the run early after that many evaluations in a row
	// without a better validation loss; 0 = never.
	Patience int `yaml:"patience"`
	// SampleTokens > 0 writes to the log, after each evaluation, a sample
	// of that many tokens after SamplePrompt, drawn as gptctl generate
	// draws by default (temperature 0.8, seed 1).
	SampleTokens int    `yaml:"sample_tokens"`
	SamplePrompt string `yaml:"sample_prompt"`

	// Batch-job behaviour.
	MaxTime     string `yaml:"max_time"`     // stop cleanly (checkpoint, exit 0) before this wall time, e.g. "3h50m"; "" = no limit
	OnNonFinite string `yaml:"on_nonfinite"` // stop (default): fail naming the step and tensor; skip: skip the step and halve the learning rate

	Seed    uint64 `yaml:"seed"`
	Device  string `yaml:"device"`  // auto | cpu | cuda
	Threads int    `yaml:"threads"` // 0 = all cores
	GPUMath `yaml:",inline"`

	// where names the config file and overrides the job was loaded from
	// ("" for the defaults alone), for the errors of values that only the
	// run's start can check (the tokenizer, vocab_size).
	where string
}

// Default is a small char-level GPT-1 on the built-in corpus: it trains in
// a few minutes on two cores.
func Default() Config {
	return Config{
		Config: graph.Config{Arch: "gpt1", NCtx: 64, NEmbd: 128, NHead: 4, NLayer: 4, LNEps: 1e-5, GELU: "tanh"},
		Data:   "builtin", ValFraction: 0.1, Tokenizer: "char",
		BatchSize: 12, GradAccum: 1, MaxSteps: 600,
		LR: 1e-3, MinLR: 1e-4, WarmupSteps: 50, LRDecay: "cosine",
		AdamWConfig: AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1}, GradClip: 1.0,
		EvalInterval: 200, EvalBatches: 50, LogInterval: 10, CheckpointInterval: 200,
		OnNonFinite: "stop", Seed: 1337, Device: "auto", GPUMath: GPUMath{TF32: true},
	}
}

// ConfigError is a problem with a config file or an override; the CLI exits
// with status 2 on it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Load reads a config file over the defaults (path "" keeps the defaults),
// applies key=value overrides and validates the result.
func Load(path string, overrides []string) (Config, error) { return load(path, overrides, nil) }

// load is Load, with adjust (when not nil) changing the config between the
// overrides and the validation.
func load(path string, overrides []string, adjust func(*Config)) (Config, error) {
	c := Default()
	// Every problem at once: the file's keys, the overrides, then the
	// values (those of keys that could not be read are left as they were).
	var errs []error
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, &ConfigError{fmt.Errorf("config: %w", err)}
		}
		if err := decodeStrict(bytes.NewReader(b), &c); err != nil {
			if slices.Contains(topKeys(b), "task") {
				errs = append(errs, otherCommand("config "+path, "a finetune config (it has task:): give it to gptctl finetune -c"))
			}
			errs = append(errs, fmt.Errorf("config %s: %w", path, err))
		}
	}
	if err := c.Apply(overrides); err != nil {
		errs = append(errs, err)
	}
	if c.GELU == "" { // an older train.yaml, or gelu: ""
		c.GELU = "tanh"
	}
	if adjust != nil {
		adjust(&c)
	}
	where := configWhere(path, overrides)
	if err := loadErrors(errs, c.Validate, where); err != nil {
		return c, err
	}
	if path != "" || len(overrides) > 0 {
		c.where = where
	}
	return c, nil
}

// named makes err, a problem with a value of c that the run's start found,
// a config error (an input error stays one), prefixed with the config file
// and overrides c came from.
func (c Config) named(err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		if c.where == "" {
			return err
		}
		return &InputError{Err: fmt.Errorf("%s: %w", c.where, ie.Err)}
	}
	if c.where != "" {
		err = fmt.Errorf("%s: %w", c.where, err)
	}
	return &ConfigError{err}
}

// configWhere names a config for its validation errors: the file, with
// the overrides that changed it, which may be the values at fault. An
// override of a key that a flag of its own sets is named as that flag
// (--data corpus.txt), the others as --set key=value.
func configWhere(path string, overrides []string) string {
	where := "config"
	if path != "" {
		where += " " + path
	}
	var named []string
	for _, o := range overrides {
		key, value, _ := strings.Cut(o, "=")
		// The commands pass their flags' values JSON-quoted; a --set of
		// the same key is named as the user wrote it.
		flag, ok := keyFlags[key]
		var s string
		if !ok || !strings.HasPrefix(value, `"`) || json.Unmarshal([]byte(value), &s) != nil {
			named = append(named, "--set "+shownOverride(o))
			continue
		}
		named = append(named, flag+" "+s)
	}
	if len(named) > 0 {
		where += " with " + strings.Join(named, " ")
	}
	return where
}

// keyFlags are the config keys that pretrain and finetune also take as
// flags of their own, which pass them on as overrides.
var keyFlags = map[string]string{"data": "--data", "device": "--device", "init_from": "--init"}

// Apply sets key=value overrides, each decoded as YAML into the named key.
func (c *Config) Apply(overrides []string) error { return applyOverrides(c, overrides, "") }

// evalsAt reports whether a run of c evaluates after step (counted from
// 1): every eval_interval steps, and at its last.
func (c Config) evalsAt(step int) bool {
	return c.EvalInterval > 0 && step%c.EvalInterval == 0 || step == c.MaxSteps
}

// T is the sequence length trained on.
func (c Config) T() int {
	if c.SeqLen > 0 {
		return c.SeqLen
	}
	return c.NCtx
}

// MaxDuration is max_time as a duration (0 = no limit).
func (c Config) MaxDuration() time.Duration {
	d, _ := time.ParseDuration(c.MaxTime)
	return d
}

// Marshal returns the config as YAML.
func (c Config) Marshal() ([]byte, error) { return yaml.Marshal(c) }
