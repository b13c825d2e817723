package graph

// The language-modelling objective and the training step program over a
// Model: a loss node, its gradients with respect to every weight, and the
// compiled programs that evaluate them.

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

// LMLoss adds the mean next-token cross-entropy of the logits (over the
// first m.Vocab columns) against a new targets input (B, T); a negative
// target excludes its position.
func (m *Model) LMLoss() (loss, targets *G.Node, err error) {
	targets = m.NewInt32Input("targets", m.B, m.T)
	loss, err = kernels.CrossEntropyClasses(m.Logits, targets, m.Vocab)
	return loss, targets, err
}

// Trainer holds a loss, the gradient of every weight and the programs that
// compute them.
type Trainer struct {
	Model *Model
	Loss  *G.Node
	Grads []*G.Node // one per Params.List entry; nil for a weight the loss does not use

	step *Program // forward and backward
	eval *Program // forward only
}

// Differentiate builds the gradient graph of loss with respect to all weights.
func (m *Model) Differentiate(loss *G.Node, extra ...*G.Node) (*Trainer, error) {
	if m.m.forwardOnly {
		return nil, fmt.Errorf("graph: a model built ForwardOnly has no gradients")
	}
	var wrt []*G.Node
	var idx []int
	for i, w := range m.Params.List {
		wrt = append(wrt, m.nodes[w.Name])
		idx = append(idx, i)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("graph: differentiating the loss: %w", err)
	}
	t := &Trainer{Model: m, Loss: loss, Grads: make([]*G.Node, len(m.Params.List))}
	for j, i := range idx {
		t.Grads[i] = grads[j]
		if m.grads != nil {
			m.m.shareGrad(grads[j], m.Params.List[i].Name, m.grads)
		}
	}
	outs := append([]*G.Node{loss}, extra...)
	if t.step, err = m.compile(append(outs, grads...)...); err != nil {
		return nil, err
	}
	if t.eval, err = m.compile(outs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Step runs forward and backward in training mode and returns the loss.
func (t *Trainer) Step() (float32, error) {
	t.Model.mode.Training = true
	if err := t.step.Run(); err != nil {
		return 0, err
	}
	return t.LossValue(), nil
}

// Eval runs the forward pass in evaluation mode and returns the loss.
func (t *Trainer) Eval() (float32, error) {
	t.Model.mode.Training = false
	if err := t.eval.Run(); err != nil {
		return 0, err
	}
	return t.LossValue(), nil
}

// LossValue is the loss of the last run.
func (t *Trainer) LossValue() float32 { return kernels.Floats(t.Model.m.Value(t.Loss))[0] }

// Grad returns the gradient of weight i after Step, or nil if it has none.
func (t *Trainer) Grad(i int) []float32 {
	if t.Grads[i] == nil {
		return nil
	}
	return kernels.Floats(t.Model.m.Value(t.Grads[i]))
}

// Value returns the current value of any node the programs compute.
func (t *Trainer) Value(n *G.Node) []float32 { return kernels.Floats(t.Model.m.Value(n)) }

// Forward compiles a forward-only program for the given outputs.
func (m *Model) Forward(outputs ...*G.Node) (*Program, error) { return m.compile(outputs...) }

// compile compiles a CPU program over m whose every run first prepares
// the inputs derived from the caller's.
func (m *Model) compile(outputs ...*G.Node) (*Program, error) {
	p, err := m.m.Compile(outputs...)
	if err == nil {
		p.before = m.prepare
	}
	return p, err
}

// Run executes a program in evaluation mode.
func (m *Model) Run(p *Program) error {
	m.mode.Training = false
	return p.Run()
}

// Value returns the float32 values of n (an output of a program m ran) as
// of the last run, in the machine's own storage: valid until the next.
func (m *Model) Value(n *G.Node) []float32 { return kernels.Floats(m.m.Value(n)) }

// LossRows is the number of positions the last evaluation of a
// cross-entropy loss averaged over.
func LossRows(loss *G.Node) int { return kernels.LossCount(loss) }
