package train

// The task: section of a finetune config: the task types of the GPT-1
// paper, TaskConfig, its checks (the columns each type reads, its label or
// score, max_len) and the metrics it is judged by.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

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
	for _, e := range leafErrors(t.TaskFormat.Validate()) { // each a key's: columns: ..., labels: ...
		bad("%w", e)
	}
	for _, r := range roles.need {
		if _, has := t.Columns[r]; !has {
			bad("columns: %s needs %s %q column", t.Type, article(r), r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(t.Columns)) { // in one order, run after run
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
	case !hasLabel && !hasScore && len(t.Labels) == 0: // with labels, the format's check says it
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

// article is "an" before a role that starts with a vowel ("a"), else "a".
func article(role string) string {
	if strings.ContainsAny(role[:1], "aeio") {
		return "an"
	}
	return "a"
}

func isInputRole(r string) bool {
	return slices.Contains([]string{"text", "premise", "hypothesis", "a", "b", "context", "question"}, r)
}
