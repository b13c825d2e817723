package train

// FinetuneConfig: the GPT-1 finetuning recipe as defaults, then the YAML
// file (which sets only what differs, plus init_from and the task), then
// --set overrides (dotted keys reach into task:), then Validate.

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"gptctl/data"
)

// Task types: the input transformations of the GPT-1 paper (figure 1).
const (
	TaskClassification = "classification"  // <s> text <e>
	TaskEntailment     = "entailment"      // <s> premise $ hypothesis <e>
	TaskSimilarity     = "similarity"      // <s> a $ b <e> and <s> b $ a <e>, states added
	TaskMultipleChoice = "multiple_choice" // <s> context question $ option_i <e> for each option
)

// TaskConfig is the task: of a finetune config: its type, where the data is
// and how to read it (data.TaskFormat, inline: format, header, columns,
// labels, label_base, min_options, skip_bad_rows).
type TaskConfig struct {
	Type            string `yaml:"type" json:"type"`
	data.TaskFormat `yaml:",inline"`

	Train       string  `yaml:"train" json:"-"`        // training file
	Val         string  `yaml:"val" json:"-"`          // validation file; "" = split val_fraction off train
	ValFraction float64 `yaml:"val_fraction" json:"-"` // share of train held out when val is ""
	SplitSeed   uint64  `yaml:"split_seed" json:"-"`

	// MaxLen is the most tokens of one sequence, <s>, $ and <e> included;
	// 0 = the model's n_ctx. Longer inputs lose tokens from the end of their
	// longest segment first (see truncate).
	MaxLen int    `yaml:"max_len" json:"max_len"`
	Metric string `yaml:"metric" json:"metric"` // best checkpoint by: accuracy, f1, mcc, pearson, spearman, mse or loss
}

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
	if c.LR <= 0 || c.MinLR < 0 || c.MinLR > c.LR && c.LRDecay != "constant" { // constant never reaches min_lr
		bad("lr %v and min_lr %v must satisfy 0 <= min_lr <= lr, lr > 0 (min_lr is where the decay ends)", c.LR, c.MinLR)
	}
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

// minMaxLen is the smallest max_len of any task type: classification's,
// <s> text <e> with one token of text (taskMinLen has each type's).
const minMaxLen = 3

// taskMinLen is the smallest max_len of a task type, its special tokens and
// one token of each segment, and the sequence that says so.
func taskMinLen(typ string) (n int, seq string) {
	switch typ {
	case TaskEntailment:
		return 5, "<s> premise $ hypothesis <e>"
	case TaskSimilarity:
		return 5, "<s> a $ b <e>"
	case TaskMultipleChoice:
		return 5, "<s> context question $ option <e>"
	}
	return minMaxLen, "<s> text <e>"
}

// taskRoles lists the columns each task type reads, required first.
var taskRoles = map[string]struct{ need, may []string }{
	TaskClassification: {need: []string{"text"}},
	TaskEntailment:     {need: []string{"premise", "hypothesis"}},
	TaskSimilarity:     {need: []string{"a", "b"}},
	TaskMultipleChoice: {may: []string{"context", "question"}},
}

func (t TaskConfig) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("task."+format, a...)) }
	roles, ok := taskRoles[t.Type]
	if !ok {
		bad("type %q is not classification, entailment, similarity or multiple_choice", t.Type)
	}
	if err := t.TaskFormat.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("task: %w", err))
	}
	for _, r := range roles.need {
		if _, has := t.Columns[r]; !has {
			bad("columns: %s needs a %q column", t.Type, r)
		}
	}
	for r := range t.Columns {
		if ok && isInputRole(r) && !slices.Contains(roles.need, r) && !slices.Contains(roles.may, r) {
			bad("columns: %s does not read %q (it reads %s)", t.Type, r, strings.Join(append(roles.need, roles.may...), ", "))
		}
	}
	t.validateTarget(bad)
	if t.Train == "" {
		bad("train is empty: name the training file")
	}
	if t.Val == "" && (t.ValFraction <= 0 || t.ValFraction >= 1) {
		bad("val_fraction %v is not in (0, 1) and no task.val file is given", t.ValFraction)
	}
	if n, seq := taskMinLen(t.Type); t.MaxLen < 0 || t.MaxLen > 0 && t.MaxLen < n {
		bad("max_len %d is too small for %s: %s needs at least %d tokens, one of each segment (0 = n_ctx)", t.MaxLen, t.Type, seq, n)
	}
	if t.Metric != "" && !slices.Contains(t.metrics(), t.Metric) {
		bad("metric %q is not one of %s for this task", t.Metric, strings.Join(t.metrics(), ", "))
	}
	return errors.Join(errs...)
}

func (t TaskConfig) validateTarget(bad func(string, ...any)) {
	nOpt := t.numOptions()
	switch {
	case t.Type == TaskMultipleChoice && nOpt < 2 && !t.hasOptionRoles():
		// (with some option roles, the format's check says what is amiss)
		bad("columns: multiple_choice needs option0, option1, ... (at least two)")
	case t.Type != TaskMultipleChoice && nOpt > 0:
		bad("columns: options belong to multiple_choice, not %s", t.Type)
	case t.Type == TaskMultipleChoice && t.Columns["context"] == "" && t.Columns["question"] == "":
		bad("columns: multiple_choice needs a context or question column")
	}
	_, hasLabel := t.Columns["label"]
	_, hasScore := t.Columns["score"]
	for _, target := range []string{"label", "score"} {
		col, has := t.Columns[target]
		if !has {
			continue
		}
		for _, role := range slices.Sorted(maps.Keys(t.Columns)) {
			if in := t.Columns[role]; (isInputRole(role) || strings.HasPrefix(role, "option")) && (in == col || slices.Contains(strings.Split(in, "+"), col)) {
				bad("columns: %s reads %q, the %s column: the model would be given the answer (map %s to the text)", role, col, target, role)
			}
		}
	}
	switch {
	case !hasLabel && !hasScore:
		bad("columns: map the label (or, for regression, the score) column")
	case hasLabel && t.Type != TaskMultipleChoice && len(t.Labels) < 2:
		score := ""
		if t.Type == TaskSimilarity {
			score = "; or, for a numeric similarity score, map that column as score: instead of label:"
		}
		bad("labels: list the label values as written in the file, in class order (at least two), e.g. [\"0\", \"1\"]%s", score)
	}
	t.validateLabelBase(hasLabel, bad)
}

// labelBaseCounts reports whether label_base has an effect: the task is
// multiple choice, labeled by the right option's number (no labels:).
func (t TaskConfig) labelBaseCounts() bool {
	_, hasLabel := t.Columns["label"]
	return t.Type == TaskMultipleChoice && hasLabel && len(t.Labels) == 0
}

// validateLabelBase refuses a label_base that would have no effect: it is
// the integer label of option0 in a multiple-choice task without labels:.
func (t TaskConfig) validateLabelBase(hasLabel bool, bad func(string, ...any)) {
	switch {
	case t.LabelBase == 0:
	case !hasLabel:
		bad("label_base %d has no effect: the task has no label column (leave label_base out)", t.LabelBase)
	case len(t.Labels) > 0:
		bad("label_base %d has no effect: with labels: given, a label is read as its place in that list (leave label_base out)", t.LabelBase)
	case t.Type != TaskMultipleChoice:
		bad("label_base %d applies only to multiple_choice, to number the options; %s reads its labels by labels: (leave label_base out)", t.LabelBase, t.Type)
	}
}

// regression reports whether the task predicts a score.
func (t TaskConfig) regression() bool {
	_, ok := t.Columns["score"]
	return ok
}

// metrics are the validation metrics of the task, the default first.
func (t TaskConfig) metrics() []string {
	if t.regression() {
		return []string{"pearson", "spearman", "mse", "loss"} // loss is the mse
	}
	return []string{"accuracy", "f1", "mcc", "loss"}
}

// metric is the best-checkpoint metric.
func (t TaskConfig) metric() string {
	if t.Metric != "" {
		return t.Metric
	}
	return t.metrics()[0]
}

func (t TaskConfig) numOptions() int {
	n := 0
	for t.Columns[fmt.Sprintf("option%d", n)] != "" {
		n++
	}
	return n
}

// hasOptionRoles reports whether columns maps any option role.
func (t TaskConfig) hasOptionRoles() bool {
	for r := range t.Columns {
		if strings.HasPrefix(r, "option") {
			return true
		}
	}
	return false
}

func isInputRole(r string) bool {
	return slices.Contains([]string{"text", "premise", "hypothesis", "a", "b", "context", "question"}, r)
}
