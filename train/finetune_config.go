package train

// FinetuneConfig: the GPT-1 finetuning recipe as defaults, then the YAML
// file (which sets only what differs, plus init_from and the task), then
// --set overrides (dotted keys reach into task:), then Validate.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// FinetuneConfig is one gptctl finetune job.
type FinetuneConfig struct {
	InitFrom string `yaml:"init_from"` // a gptctl run or Hugging Face model directory
	// RandomInit keeps the architecture and tokenizer of init_from but draws
	// fresh weights: the from-scratch baseline of a finetune.
	RandomInit bool       `yaml:"random_init"`
	Task       TaskConfig `yaml:"task"`

	Lambda      float64 `yaml:"lambda"`       // weight of the LM loss: L3 = L2 + lambda*L1; 0 disables it
	Dropout     float64 `yaml:"dropout"`      // the model's embedding, attention and residual dropout
	HeadDropout float64 `yaml:"head_dropout"` // on the <e> states before the head

	BatchSize      int     `yaml:"batch_size"` // examples per micro-batch
	GradAccum      int     `yaml:"grad_accum"` // micro-batches per step, their gradients averaged
	Epochs         int     `yaml:"epochs"`
	MaxSteps       int     `yaml:"max_steps"` // 0 = epochs over the training data
	LR             float64 `yaml:"lr"`
	MinLR          float64 `yaml:"min_lr"`
	WarmupFraction float64 `yaml:"warmup_fraction"` // of all steps
	LRDecay        string  `yaml:"lr_decay"`        // linear | cosine | constant
	AdamWConfig    `yaml:",inline"`
	GradClip       float64 `yaml:"grad_clip"`

	EvalInterval       int    `yaml:"eval_interval"` // steps; 0 = at the end of every epoch
	LogInterval        int    `yaml:"log_interval"`
	CheckpointInterval int    `yaml:"checkpoint_interval"` // steps; 0 = only at the end (and on a signal)
	Patience           int    `yaml:"patience"`            // stop after that many evaluations in a row without a better metric; 0 = never
	MaxTime            string `yaml:"max_time"`            // stop cleanly (checkpoint, exit 0) before this wall time, e.g. "3h50m"
	OnNonFinite        string `yaml:"on_nonfinite"`        // stop (default): fail naming the step; skip: skip the step and halve the learning rate

	Seed    uint64 `yaml:"seed"`
	Device  string `yaml:"device"`
	Threads int    `yaml:"threads"`
	GPUMath `yaml:",inline"`

	// where names the config file and overrides it was loaded from, for
	// messages about its keys ("config f.yaml with --set k=v"); "" when it
	// was not loaded by LoadFinetune.
	where string
}

// DefaultFinetune is the finetuning recipe of the GPT-1 paper: Adam with lr
// 6.25e-5, batch 32, 3 epochs, linear warmup over 0.2% of training then
// linear decay to 0, dropout 0.1 (model and head), weight decay 0.01,
// lambda 0.5.
func DefaultFinetune() FinetuneConfig {
	return FinetuneConfig{
		Task:   TaskConfig{ValFraction: 0.1, SplitSeed: 1},
		Lambda: 0.5, Dropout: 0.1, HeadDropout: 0.1,
		BatchSize: 32, GradAccum: 1, Epochs: 3, LR: 6.25e-5, WarmupFraction: 0.002, LRDecay: "linear",
		AdamWConfig: AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}, GradClip: 1,
		LogInterval: 10, CheckpointInterval: 500, OnNonFinite: "stop", Seed: 42, Device: "auto", GPUMath: GPUMath{TF32: true},
	}
}

// LoadFinetune reads a finetune config over the defaults, applies the
// overrides and validates the result.
func LoadFinetune(path string, overrides []string) (FinetuneConfig, error) {
	c := DefaultFinetune()
	var errs []error // every problem at once, as Load reports them
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, &ConfigError{fmt.Errorf("finetune config: %w", err)}
		}
		if err := decodeStrict(bytes.NewReader(b), &c); err != nil {
			if keys := pretrainKeys(b, overrides); len(keys) > 0 {
				errs = append(errs, otherCommand("finetune config "+path, "a pretraining config (it has "+keys+" and no task:): give it to gptctl pretrain -c"))
			}
			errs = append(errs, fmt.Errorf("finetune config %s: %w", path, err))
		}
	}
	if err := c.Apply(overrides); err != nil {
		errs = append(errs, err)
	}
	c.where = configWhere(path, overrides)
	if err := loadErrors(errs, c.Validate, "finetune "+c.where); err != nil {
		return c, err
	}
	return c, nil
}

// pretrainKeys names the keys of the config document b that pretraining
// has and a finetune does not (n_layer, data), the first three, where
// neither b nor an override of overrides gives a task; "" where it has
// none.
func pretrainKeys(b []byte, overrides []string) string {
	keys := topKeys(b)
	if slices.Contains(keys, "task") || slices.ContainsFunc(overrides, func(o string) bool { return strings.HasPrefix(o, "task.") || strings.HasPrefix(o, "task=") }) {
		return ""
	}
	var theirs []string
	for _, k := range keys {
		if keyType(reflect.TypeOf(Config{}), []string{k}) != nil && keyType(reflect.TypeOf(FinetuneConfig{}), []string{k}) == nil {
			theirs = append(theirs, k)
		}
	}
	if len(theirs) > 3 {
		theirs = append(theirs[:3], "...")
	}
	return strings.Join(theirs, ", ")
}

// Apply sets key=value overrides; a dotted key such as task.max_len=64 or
// task.columns.text=sentence sets a nested key.
func (c *FinetuneConfig) Apply(overrides []string) error {
	return applyOverrides(c, overrides, " (task.key=value for a task key)")
}

// Marshal returns the config as YAML.
func (c FinetuneConfig) Marshal() ([]byte, error) { return yaml.Marshal(c) }

// Validate reports every problem at once.
func (c FinetuneConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	errs = append(errs, nonFinite(c), c.Task.validate(), c.GPUMath.validate())
	for _, f := range []struct {
		name string
		v    int
	}{{"batch_size", c.BatchSize}, {"grad_accum", c.GradAccum}, {"epochs", c.Epochs}, {"log_interval", c.LogInterval}} {
		if f.v <= 0 {
			bad("%s %d must be positive", f.name, f.v)
		}
	}
	if c.OnNonFinite != "stop" && c.OnNonFinite != "skip" {
		bad("on_nonfinite %q is not stop or skip", c.OnNonFinite)
	}
	nonNegative(bad, intKey{"max_steps", c.MaxSteps}, intKey{"eval_interval", c.EvalInterval},
		intKey{"checkpoint_interval", c.CheckpointInterval}, intKey{"patience", c.Patience}, intKey{"threads", c.Threads})
	if c.Threads > MaxThreads {
		bad("threads %d is more than %d (0: all cores)", c.Threads, MaxThreads)
	}
	if c.Lambda < 0 || c.Lambda > 1 {
		bad("lambda %v is not in [0, 1] (the weight of the LM loss; 0 disables it)", c.Lambda)
	}
	if c.Dropout < 0 || c.Dropout >= 1 || c.HeadDropout < 0 || c.HeadDropout >= 1 {
		bad("dropout %v and head_dropout %v must be in [0, 1)", c.Dropout, c.HeadDropout)
	}
	c.AdamWConfig.validateLR(bad, c.LR, c.MinLR, c.LRDecay)
	if c.WarmupFraction < 0 || c.WarmupFraction >= 1 {
		bad("warmup_fraction %v is not in [0, 1)", c.WarmupFraction)
	}
	if !slices.Contains([]string{"linear", "cosine", "constant"}, c.LRDecay) {
		bad("lr_decay %q is not linear, cosine or constant", c.LRDecay)
	}
	c.AdamWConfig.validate(bad)
	if c.GradClip < 0 {
		bad("grad_clip %v must not be negative (0: no clipping)", c.GradClip)
	}
	if c.Device != "auto" && c.Device != "cpu" && c.Device != "cuda" {
		bad("device %q is not auto, cpu or cuda", c.Device)
	}
	if c.MaxTime != "" {
		if d, err := time.ParseDuration(c.MaxTime); err != nil || d <= 0 {
			bad("max_time %q is not a positive duration such as 3h50m", c.MaxTime)
		}
	}
	return errors.Join(errs...)
}

// MaxDuration is max_time as a duration (0 = no limit).
func (c FinetuneConfig) MaxDuration() time.Duration {
	d, _ := time.ParseDuration(c.MaxTime)
	return d
}
