package graph

// The finetuning graph of GPT-1 (Radford et al. 2018, section 3.2): each
// example becomes one or more token sequences <s> ... <e>; the final hidden
// state at each <e> feeds a linear head, and the task loss L2 is combined
// with the language-modelling loss L1 on the same sequences,
// L3 = L2 + lambda*L1.

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

// Head objectives.
const (
	Classify = "classify" // softmax over Classes from the summed <e> states of an example's rows
	Regress  = "regress"  // one score from the summed <e> states, mean squared error
	Choose   = "choose"   // one score per row (option), softmax over an example's Rows
)

// HeadConfig says how a task head reads the model.
type HeadConfig struct {
	Objective string
	Classes   int     // Classify: number of classes
	Rows      int     // sequences per example: 1; 2 for both orders of a pair; N options for Choose
	Lambda    float32 // weight of L1; 0 leaves the LM loss out of the graph
	Dropout   float32 // on the head input while training
}

// Outputs is the width of the head's Linear layer.
func (h HeadConfig) Outputs() int {
	if h.Objective == Classify {
		return h.Classes
	}
	return 1
}

// Validate checks the head on its own.
func (h HeadConfig) Validate() error {
	switch {
	case h.Objective != Classify && h.Objective != Regress && h.Objective != Choose:
		return fmt.Errorf("head objective %q is not %s, %s or %s", h.Objective, Classify, Regress, Choose)
	case h.Objective == Classify && h.Classes < 2:
		return fmt.Errorf("head: %d classes; classification needs at least 2", h.Classes)
	case h.Rows < 1 || h.Objective == Choose && h.Rows < 2:
		return fmt.Errorf("head: %d rows per example is too few for %s", h.Rows, h.Objective)
	case h.Lambda < 0 || h.Dropout < 0 || h.Dropout >= 1:
		return fmt.Errorf("head: lambda %v must not be negative, dropout %v must be in [0, 1)", h.Lambda, h.Dropout)
	}
	return nil
}

// Task is a Model with a task head for batches of E examples, each of
// Head.Rows sequences of length T (the Model's batch is E*Rows rows).
type Task struct {
	*Model
	Head HeadConfig
	E    int

	Extract   *G.Node // int32 (E, Rows), or (E*Rows) for Choose: index r*T+t of each row's <e>; -1 = padding
	Labels    *G.Node // int32 (E) class or right option, -1 = padding; float32 (E) score, NaN = padding
	LMTargets *G.Node // int32 (E*Rows, T) next tokens, -1 where none; nil when Lambda is 0

	// The LM head computes only the rows with a next token, gathered
	// first (padding is a quarter of a CPU batch, most of a GPU one padded
	// to max_len): packLM fills these from LMTargets before each run of
	// a program compiled through the Model (Forward, Differentiate, ...).
	lmRows    *G.Node // int32 (E*Rows*T): the rows with a next token, then -1
	lmTargets *G.Node // int32 (E*Rows*T): their next tokens, then -1
	lmLimit   *kernels.RowLimit

	// OptionMask (Choose only) is float32 (E, Rows), added to the option
	// scores: 0 for the options of an example, AbsentOption for the slots
	// of an example with fewer options than Rows, whose softmax
	// probability and gradient are then exactly 0.
	OptionMask *G.Node

	Out      *G.Node // logits (E, Classes) or (E, Rows) for Choose; scores (E, 1) for Regress
	TaskLoss *G.Node // L2
	LMLoss   *G.Node // L1; nil when Lambda is 0
	Loss     *G.Node // L3 = L2 + Lambda*L1
}

// AbsentOption is the OptionMask entry of an option slot an example does
// not fill: far below any score, yet finite, so that no inf-inf appears.
const AbsentOption = -1e9

// NewTask builds the model and its head over p, which must hold the head's
// weights (Params.AddHead with head.Outputs()).
func NewTask(p *Params, head HeadConfig, E, T int, rng *RNG, opts ...Option) (t *Task, err error) {
	if err := head.Validate(); err != nil {
		return nil, err
	}
	if p.HeadOutputs() != head.Outputs() {
		return nil, fmt.Errorf("graph: the task head has %d outputs, the task needs %d", p.HeadOutputs(), head.Outputs())
	}
	m, err := New(p, E*head.Rows, T, rng, opts...)
	if err != nil {
		return nil, err
	}
	defer func() { // G.Must panics on a shape bug; report it with the layer
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("graph: building the task head: %v", r)
		}
	}()
	t = &Task{Model: m, Head: head, E: E}
	t.buildHead()
	if head.Lambda > 0 {
		t.buildLM()
		t.Loss = G.Must(kernels.AddScaled(t.TaskLoss, t.LMLoss, head.Lambda))
	} else {
		t.Loss = t.TaskLoss
	}
	return t, nil
}

// buildLM builds L1 over the rows with a next token: the LM head's
// product and softmax over the rows with none (the padding) would be most
// of a finetune's work, and count for nothing.
func (t *Task) buildLM() {
	n := t.B * t.T
	t.LMTargets = t.NewInt32Input("targets", t.B, t.T)
	t.lmRows, t.lmTargets = t.NewInt32Input("lm_rows", n), t.NewInt32Input("lm_targets", n)
	t.lmLimit = &kernels.RowLimit{}
	h := G.Must(kernels.GatherRows(t.Hidden, t.lmRows))
	logits := G.Must(kernels.LinearTRows(h, t.lmHead, t.lmLimit))
	t.LMLoss = G.Must(kernels.CrossEntropyRows(logits, t.lmTargets, t.Vocab, t.lmLimit))
	t.before = t.packLM
}

// packLM gathers the rows of LMTargets that have a next token.
func (t *Task) packLM() {
	rows, tg := Int32Data(t.lmRows), Int32Data(t.lmTargets)
	n := 0
	for i, v := range Int32Data(t.LMTargets) {
		if v >= 0 {
			rows[n], tg[n] = int32(i), v
			n++
		}
	}
	for i := n; i < len(rows); i++ {
		rows[i], tg[i] = -1, -1
	}
	t.lmLimit.N = n
}

// buildHead reads the <e> states, applies the head and the task loss.
func (t *Task) buildHead() {
	h, E := t.Head, t.E
	if h.Objective == Choose {
		t.Extract = t.NewInt32Input("extract", E*h.Rows)
	} else {
		t.Extract = t.NewInt32Input("extract", E, h.Rows)
	}
	x := G.Must(kernels.GatherRows(t.Hidden, t.Extract)) // (E, C), or (E*N, C) for Choose
	if h.Dropout > 0 {
		x = G.Must(kernels.Dropout(x, h.Dropout, t.mode, t.rng))
	}
	out := G.Must(kernels.Linear(x, t.nodes[HeadWeight], t.nodes[HeadBias])) // (E, k), or (E*N, 1)
	switch h.Objective {
	case Regress:
		t.Labels = t.NewFloat32Input("scores", E)
		t.TaskLoss = G.Must(kernels.MSE(out, t.Labels))
	case Choose:
		out = G.Must(kernels.Reshape(out, E, h.Rows)) // (E, N)
		t.OptionMask = t.NewFloat32Input("option_mask", E, h.Rows)
		out = G.Must(kernels.Add(out, t.OptionMask))
		fallthrough
	default:
		t.Labels = t.NewInt32Input("labels", E)
		t.TaskLoss = G.Must(kernels.CrossEntropy(out, t.Labels))
	}
	t.Out = out
}
