package train

// Config: defaults, then the YAML file, then --set overrides, then Validate.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
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

// AdamWConfig is the optimizer's keys, pretraining's and a finetune's.
type AdamWConfig struct {
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	Eps         float64 `yaml:"eps"`
	WeightDecay float64 `yaml:"weight_decay"` // on matrices and embeddings only
}

// validate passes each bad setting to bad.
func (a AdamWConfig) validate(bad func(format string, args ...any)) {
	// The optimizer computes in float32: a beta that rounds to 1 there
	// makes the bias correction 0, an eps that rounds to 0 divides 0 by 0
	// where a gradient is 0; either makes the weights NaN.
	switch {
	case a.Beta1 < 0 || a.Beta1 >= 1 || a.Beta2 < 0 || a.Beta2 >= 1:
		bad("beta1 %v and beta2 %v must be in [0, 1)", a.Beta1, a.Beta2)
	case float32(a.Beta1) == 1 || float32(a.Beta2) == 1:
		bad("beta1 %v and beta2 %v must be below 1 in float32, in which the optimizer computes (at most %v)", a.Beta1, a.Beta2, math.Nextafter32(1, 0))
	}
	switch {
	case a.Eps <= 0:
		bad("eps %v must be positive", a.Eps)
	case float32(a.Eps) == 0:
		bad("eps %v is 0 in float32, in which the optimizer computes: give at least %v", a.Eps, math.SmallestNonzeroFloat32)
	}
	if a.WeightDecay < 0 {
		bad("weight_decay %v must not be negative", a.WeightDecay)
	}
}

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

// newAdamW is an AdamW over p's weights with these settings.
func (a AdamWConfig) newAdamW(p *graph.Params) *AdamW {
	return NewAdamW(p, a.Beta1, a.Beta2, a.Eps, a.WeightDecay)
}

// GPUMath is how a run on a GPU computes; the CPU ignores it.
type GPUMath struct {
	TF32  bool `yaml:"tf32"`            // float32 products on TF32 tensor cores (weights stay float32)
	BF16  bool `yaml:"bf16"`            // products on bfloat16 copies of their operands, float32 accumulation (weights stay float32); overrides tf32
	Flash bool `yaml:"flash_attention"` // attention in tiles without the t×t probabilities (flash.cu; with TF32, head size 16, 32 or 64)
}

// set names the GPU-only settings g turns on that change the math
// (bf16, flash_attention; tf32 is on by default), "" when none.
func (g GPUMath) set() string {
	var on []string
	if g.BF16 {
		on = append(on, "bf16")
	}
	if g.Flash {
		on = append(on, "flash_attention")
	}
	return strings.Join(on, " and ")
}

// validate reports settings that contradict each other.
func (g GPUMath) validate() error {
	if g.Flash && !g.TF32 {
		return errors.New("flash_attention: true needs tf32: true (flash.cu multiplies on TF32 tensor cores); set one of them")
	}
	return nil
}

// flashNotice says when flash_attention cannot apply to a model whose heads
// have hs dimensions: its attention stays on the batched path.
func (g GPUMath) flashNotice(log io.Writer, hs int) {
	if g.Flash && !graph.FlashHeadSize(hs) {
		fmt.Fprintf(log, "flash_attention: head size %d (n_embd/n_head) is not 16, 32 or 64: attention stays on the batched path\n", hs)
	}
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

// MaxThreads is the most threads a run may ask for: far more than the
// cores of the machines gptctl runs on, and well below Go's limit of 10,000
// OS threads, past which it stops the program with a stack dump.
const MaxThreads = 1024

// keyFlags are the config keys that pretrain and finetune also take as
// flags of their own, which pass them on as overrides.
var keyFlags = map[string]string{"data": "--data", "device": "--device", "init_from": "--init"}

// Apply sets key=value overrides, each decoded as YAML into the named key.
func (c *Config) Apply(overrides []string) error { return applyOverrides(c, overrides, "") }

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
	if c.Data == "" {
		bad("data is empty: name a corpus file, a shard directory or builtin")
	}
	if c.ValData == "" && (c.ValFraction <= 0 || c.ValFraction >= 1) {
		bad("val_fraction %v is not in (0, 1) and no val_data is given", c.ValFraction)
	}
	if c.Tokenizer == "" {
		bad("tokenizer is empty: use char, byte, gpt2, gpt1 or a directory")
	}
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
	if c.LR <= 0 || c.MinLR < 0 || c.MinLR > c.LR && c.LRDecay != "constant" { // constant never reaches min_lr
		bad("lr %v and min_lr %v must satisfy 0 <= min_lr <= lr, lr > 0 (min_lr is where the decay ends)", c.LR, c.MinLR)
	}
	if c.LRDecay != "cosine" && c.LRDecay != "linear" && c.LRDecay != "constant" {
		bad("lr_decay %q is not cosine, linear or constant", c.LRDecay)
	}
	c.AdamWConfig.validate(bad)
	if c.GradClip < 0 {
		bad("grad_clip %v must not be negative (0: no clipping)", c.GradClip)
	}
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
	return errors.Join(errs...)
}

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

// fitsTraining refuses, on the CPU, a model and batch that cannot fit in
// twice the machine's memory and swap: 16 bytes a parameter (weights,
// gradients, AdamW's two moments) and a step's activations with their
// gradients, about 20 C + 2 H T floats a token a layer (measured: 40k
// for C=768, H=12, T=1024) and one of vocab_size for the logits (their
// softmax and their gradient are written over them). Twice,
// so that only the hopeless is refused (what passes may still not fit,
// and gets a note on log where it needs more than once); a GPU keeps all of
// it in its own memory.
func (c Config) fitsTraining(log io.Writer) error {
	return fitsTraining(c.Config, c.BatchSize, []int{c.T()}, fmt.Sprintf("training with batch_size %d and seq_len %d", c.BatchSize, c.T()), log)
}

// fitsTraining is Config.fitsTraining for a model m trained on batches of
// seqs sequences in graphs of each of the lengths lens (a finetune keeps
// one for each padded length, which share their activations and gradients,
// graph.SharedActivations and SharedGrads: the longest's is the need); what
// names the setting in the error.
func fitsTraining(m graph.Config, seqs int, lens []int, what string, log io.Writer) error {
	need := m.ParamBytes(16) + stepBytes(m, seqs, longestLen(lens))
	if err := m.FitsMemory(need, 2, what); err != nil {
		return err
	}
	if err := m.FitsMemory(need, 1, what); err != nil && log != nil {
		fmt.Fprintf(log, "note: %v: it may run out of memory as it goes\n", err)
	}
	return nil
}

// fitsInference refuses, on the CPU, forward passes of m over seqs
// sequences, in graphs of each of the lengths lens, that cannot fit in
// twice memory and swap: the weights, and the memory of the longest
// graph's forward pass (inferBytes), which the others share; logits says
// whether the logits are the pass's output.
func fitsInference(m graph.Config, seqs int, lens []int, logits bool, what string) error {
	return m.FitsMemory(m.ParamBytes(4)+inferBytes(m, seqs, longestLen(lens), logits), 2, what)
}

// inferBytes is the memory of a forward pass over seqs sequences of T
// tokens in a model built graph.ForwardOnly, whose activations share
// memory by lifetime: a token holds a row of one layer's attention
// probabilities (H T), the larger of its logits and a block's live
// activations (about 8 C), or both where the logits are the pass's output
// (logits: they keep a buffer of their own), two more rows of C, and a
// LayerNorm's mean and deviation a layer; the loss's softmax, if any, works
// in 32 rows of V (measured on GPT-2 124M shapes: 9,216 floats a token at T =
// 128 and V = 1,000, 13,824 at T = 512, as the formula says).
func inferBytes(m graph.Config, seqs, T int, logits bool) float64 {
	C, V, HT := float64(m.NEmbd), float64(m.VocabSize), float64(m.NHead)*float64(T)
	live, softmax := max(V, 8*C), 32*V
	if logits {
		live, softmax = V+8*C, 0
	}
	perToken := HT + live + 2*C + 4*float64(m.NLayer) + 2
	return 4 * (float64(seqs)*float64(T)*perToken + softmax)
}

// longestLen is the longest of lens; 0 for none.
func longestLen(lens []int) int {
	n := 0
	for _, T := range lens {
		n = max(n, T)
	}
	return n
}

// stepBytes is the memory of a training step's activations and their
// gradients over seqs sequences of T tokens (see Config.fitsTraining).
func stepBytes(m graph.Config, seqs, T int) float64 {
	tokens := float64(seqs) * float64(T)
	perToken := float64(m.NLayer)*(20*float64(m.NEmbd)+2*float64(m.NHead)*float64(T)) + float64(m.VocabSize) // the logits, their softmax and gradient in one
	return 4 * tokens * perToken
}
