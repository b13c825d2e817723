package train

// Validate: a pretraining config's checks, and those a finetune's shares
// (numbers that are not finite, integer keys that must not be negative,
// the most threads).

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// intKey is an integer setting and its key, for checks of many at once.
type intKey struct {
	name string
	v    int
}

// nonNegative passes each negative setting of keys to bad.
func nonNegative(bad func(format string, args ...any), keys ...intKey) {
	for _, k := range keys {
		if k.v < 0 {
			bad("%s %d must not be negative", k.name, k.v)
		}
	}
}

// MaxThreads is the most threads a run may ask for: far more than the
// cores of the machines gptctl runs on, and well below Go's limit of 10,000
// OS threads, past which it stops the program with a stack dump.
const MaxThreads = 1024

// nonFinite reports each number of a config (a struct, its nested and
// inline structs included) that YAML's .nan or .inf made NaN or infinite: no
// bound check would catch them, since every comparison with NaN is false.
func nonFinite(c any) error {
	var errs []error
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			switch {
			case f.Kind() == reflect.Struct && opts == "inline":
				walk(f, prefix)
			case f.Kind() == reflect.Struct:
				walk(f, prefix+name+".")
			case f.CanFloat() && (math.IsNaN(f.Float()) || math.IsInf(f.Float(), 0)):
				errs = append(errs, fmt.Errorf("%s%s is %v: want a finite number", prefix, name, f.Float()))
			}
		}
	}
	walk(reflect.ValueOf(c), "")
	return errors.Join(errs...)
}

// Validate reports every problem at once. With init_from, the model keys
// but dropout are the init model's, set when it loads: the config's are
// not checked (a --set of one is refused by the command).
func (c Config) Validate() error {
	model := c.Config
	if c.InitFrom != "" {
		model = Default().Config
		model.Dropout = c.Dropout
	}
	errs := []error{nonFinite(c), model.Validate(), c.GPUMath.validate()}
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c.validateData(bad)
	c.validateSteps(bad)
	c.validateOptim(bad)
	c.validateJob(bad)
	return errors.Join(errs...)
}

// validateData passes bad the problems of the data keys: data, val_data
// and val_fraction, tokenizer.
func (c Config) validateData(bad func(format string, a ...any)) {
	if c.Data == "" {
		bad("data is empty: name a corpus file, a shard directory or builtin")
	}
	if c.ValData == "" && (c.ValFraction <= 0 || c.ValFraction >= 1) {
		bad("val_fraction %v is not in (0, 1) and no val_data is given", c.ValFraction)
	}
	if c.Tokenizer == "" {
		bad("tokenizer is empty: use char, byte, gpt2, gpt1 or a directory")
	}
}

// validateSteps passes bad the problems of the counts of the loop: the
// batch and its length, the steps, the intervals, threads, sample_tokens.
func (c Config) validateSteps(bad func(format string, a ...any)) {
	positive := []struct {
		name string
		v    int
	}{{"batch_size", c.BatchSize}, {"grad_accum", c.GradAccum}, {"max_steps", c.MaxSteps},
		{"eval_batches", c.EvalBatches}, {"log_interval", c.LogInterval}}
	for _, f := range positive {
		if f.v <= 0 {
			bad("%s %d must be positive", f.name, f.v)
		}
	}
	if c.SeqLen < 0 || (c.SeqLen > c.NCtx && c.InitFrom == "") { // init_from's n_ctx is checked when it loads
		bad("seq_len %d is not in [0, n_ctx %d]", c.SeqLen, c.NCtx)
	}
	nonNegative(bad, intKey{"eval_interval", c.EvalInterval}, intKey{"checkpoint_interval", c.CheckpointInterval},
		intKey{"patience", c.Patience}, intKey{"warmup_steps", c.WarmupSteps}, intKey{"threads", c.Threads},
		intKey{"sample_tokens", c.SampleTokens})
	if c.Threads > MaxThreads {
		bad("threads %d is more than %d (0: all cores)", c.Threads, MaxThreads)
	}
}

// validateOptim passes bad the problems of the optimisation keys: lr,
// min_lr and lr_decay, AdamW's, grad_clip.
func (c Config) validateOptim(bad func(format string, a ...any)) {
	c.AdamWConfig.validateLR(bad, c.LR, c.MinLR, c.LRDecay)
	if c.LRDecay != "cosine" && c.LRDecay != "linear" && c.LRDecay != "constant" {
		bad("lr_decay %q is not cosine, linear or constant", c.LRDecay)
	}
	c.AdamWConfig.validate(bad)
	if c.GradClip < 0 {
		bad("grad_clip %v must not be negative (0: no clipping)", c.GradClip)
	}
}

// validateJob passes bad the problems of the keys of how the job runs:
// max_time, on_nonfinite, device.
func (c Config) validateJob(bad func(format string, a ...any)) {
	if c.MaxTime != "" {
		if d, err := time.ParseDuration(c.MaxTime); err != nil || d <= 0 {
			bad("max_time %q is not a positive duration such as 3h50m", c.MaxTime)
		}
	}
	if c.OnNonFinite != "stop" && c.OnNonFinite != "skip" {
		bad("on_nonfinite %q is not stop or skip", c.OnNonFinite)
	}
	if c.Device != "auto" && c.Device != "cpu" && c.Device != "cuda" {
		bad("device %q is not auto, cpu or cuda", c.Device)
	}
}
