package graph

// Machine executes the nodes of a Gorgonia graph that kernels ops build. It
// is the CPU executor: each node's output buffer is allocated when a program
// is compiled and reused on every run, so a training step allocates (close to)
// nothing. Programs compiled on one Machine share the buffers of the nodes
// they have in common.
//
// An op whose scratch may take its input's place (kernels.InPlaceScratcher:
// the softmax probabilities of a loss, over its logits) gets the input's
// buffer where its program reads the input last there and no program keeps
// the input (an output: kept); a later program that reads the input after
// the op, or keeps it, gives the op a buffer of its own (keepInputs). A
// gradient op that may write over its forward op's scratch
// (kernels.GradOverScratch: the logits' gradient over the probabilities)
// does, unless a program keeps its output or runs it without the forward
// op before it (placeOverScratch, keepForwardScratch): in training,
// the logits, their softmax and their gradient take one buffer.
//
// With SharedActivations, the buffers no one reads after a run (a node's
// that is no program's output, the scratch of an op, a program's arena)
// come from buffers the machines of several graphs share; a node a later
// program names as an output moves to a buffer of its own (unpool).
//
// Gradient intermediates share memory. Within one Compile, a gradient node
// (the output of a gradient op, a Part of one, or a Gorgonia "+" summing
// gradients) that is not an output of the program gets a place in the
// program's arena that it shares with gradient nodes whose lifetimes (first
// write to last read, in this program's order) do not overlap, and a "+"
// whose input dies there writes in place over it (the tied embedding's two
// gradients are summed into the LM head's). Forward nodes (but in a
// ForwardOnly machine, whose activations share the arena too), outputs and
// the packed gradients that hold them keep their own buffers, and a shared node
// lives until the end of the run if it is an output, so anything a caller
// reads after a run (loss, gradients, logits) is intact. A node is shared
// only for the order of the program that planned it: when another program
// reaches it, it gets a buffer of its own first (unshare), or, for an output
// (whose slices callers keep), Compile fails.

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

// Machine owns the values of the nodes of one graph.
type Machine struct {
	g     *G.ExprGraph
	slots map[*G.Node]int
	vals  []G.Value
	plan  []*step // every planned node, in slot order

	noShare     bool // give every node its own buffer (tests compare the two)
	own, shared int  // floats in buffers of their own, and in arenas

	// gradOf names the weight whose gradient a node is (SharedGrads): the
	// node, or the packed node its Part views, takes its own buffer from
	// grads.
	gradOf map[*G.Node]string
	grads  *GradBuffers

	// acts (SharedActivations) holds the buffers of the nodes whose values
	// no one reads after a run, the scratch of their ops and the gradient
	// arenas; nActs is how many this machine has taken.
	acts  *ActivationBuffers
	nActs int

	// forwardOnly (ForwardOnly): activations go into the arenas too, and
	// the ops' scratch into scratch, one buffer for all.
	forwardOnly bool
	scratch     []float32

	// inPlace holds the ops (kernels.InPlaceScratcher) whose scratch is
	// their input's buffer, by their step, with the input's; kept, the
	// nodes some program reads after its run (its outputs), which no op
	// may write its scratch over.
	inPlace map[*step]*step
	kept    map[*step]bool

	// overScratch holds the gradient steps (kernels.GradOverScratch: the
	// loss's logits gradient) that write over their forward op's scratch,
	// which placeOverScratch points them at.
	overScratch map[*step]kernels.GradOverScratch
}

// take returns the machine's next buffer of acts, of n floats.
func (m *Machine) take(n int) []float32 {
	buf := m.acts.get(m.nActs, n)
	m.nActs++
	return buf
}

// shareGrad records n as the gradient of weight name, whose buffer (its
// own, or its packed node's) comes from b.
func (m *Machine) shareGrad(n *G.Node, name string, b *GradBuffers) {
	if m.gradOf == nil {
		m.gradOf = map[*G.Node]string{}
	}
	m.gradOf[n], m.grads = name, b
}

// gradKey names the shared buffer of st, a node getting a buffer of its
// own: the weights whose gradients it or its Part views are; "" if none.
func (m *Machine) gradKey(st *step) string {
	if m.grads == nil {
		return ""
	}
	var names []string
	if name, ok := m.gradOf[st.node]; ok {
		names = append(names, name)
	}
	for _, p := range st.parts {
		if name, ok := m.gradOf[p.node]; ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// Floats reports the float32s the machine has allocated: in buffers of their
// own, and in the arenas shared by gradient intermediates.
func (m *Machine) Floats() (own, shared int) { return m.own, m.shared }

// Program runs the nodes needed for a set of outputs, in dependency order.
type Program struct {
	m      *Machine
	steps  []*step
	before func() // the model's input preparation (Model.prepare); nil: none
}

type stepKind int

const (
	kindInput    stepKind = iota // a parameter, input or constant: its own value
	kindPart                     // a window of its parent's buffer
	kindKernel                   // a kernels.Kernel writing into out
	kindAdd                      // a same-shape Gorgonia "+": out = a + b
	kindFallback                 // any other Gorgonia op: a new value per run
)

type step struct {
	node    *G.Node
	kind    stepKind
	in      []int     // slots of the inputs
	args    []G.Value // reused argument slice
	slot    int
	out     []float32 // the output buffer (kindKernel, kindAdd)
	grad    bool      // a gradient node (see the file comment)
	shared  *Program  // non-nil: out overlaps other nodes' buffers in this program's order
	aliasOf *step     // kindAdd writing in place over this input
	stays   bool      // shared, and read after its program runs: it must not move
	pooled  bool      // out is one of the machine's acts buffers
	parts   []*step   // Part views of this node
	run     func() error
}

// NewMachine returns a Machine for graph g.
func NewMachine(g *G.ExprGraph) *Machine {
	return &Machine{g: g, slots: map[*G.Node]int{}}
}

// Value returns the current value of a node planned by some program.
func (m *Machine) Value(n *G.Node) G.Value {
	if s, ok := m.slots[n]; ok {
		return m.vals[s]
	}
	return n.Value()
}

// Compile plans the nodes the outputs depend on. On an error the nodes it
// planned are still complete, so the Machine stays usable.
func (m *Machine) Compile(outputs ...*G.Node) (*Program, error) {
	p := &Program{m: m}
	order, fresh, firstErr := walk(m.g, outputs, func(n *G.Node, children []*G.Node) (*step, bool, error) {
		st, isNew, err := m.planNode(n, children)
		switch {
		case err != nil:
		case st.shared != nil && st.shared != p && st.stays:
			err = fmt.Errorf("graph: %s is an output of another program that shares its memory (compile this program first)", n.Name())
		case st.shared != nil && st.shared != p:
			m.unshare(st)
		}
		return st, isNew, err
	})
	pos, last := m.allocate(p, order, fresh, outputs)
	m.keepInputs(pos, last)
	m.keepForwardScratch(order, pos)
	var scratch []*step
	for _, st := range fresh {
		m.finish(st)
		if _, ok := st.node.Op().(kernels.Scratcher); ok && st.kind == kindKernel {
			scratch = append(scratch, st)
		}
	}
	m.setScratch(scratch, pos, last)
	m.placeOverScratch()
	if firstErr != nil {
		return nil, firstErr
	}
	for _, st := range order {
		if st.run != nil {
			p.steps = append(p.steps, st)
		}
	}
	return p, nil
}

// walk plans the nodes outputs depend on, each once, children first: it
// returns them in that order, the ones plan saw for the first time (fresh),
// and the first error plan returned. Both executors compile through it.
func walk[S any](g *G.ExprGraph, outputs []*G.Node, plan func(n *G.Node, children []*G.Node) (S, bool, error)) (order, fresh []S, firstErr error) {
	seen := map[*G.Node]bool{}
	var visit func(n *G.Node)
	visit = func(n *G.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		children := childrenOf(g, n)
		for _, c := range children {
			visit(c)
		}
		st, isNew, err := plan(n, children)
		firstErr = cmp.Or(firstErr, err)
		if isNew {
			fresh = append(fresh, st)
		}
		order = append(order, st)
	}
	for _, o := range outputs {
		visit(o)
	}
	return order, fresh, firstErr
}

// Run executes the program once.
func (p *Program) Run() error {
	if p.before != nil {
		p.before()
	}
	for _, st := range p.steps {
		if err := st.run(); err != nil {
			return fmt.Errorf("graph: node %s: %w", st.node.Name(), err)
		}
	}
	return nil
}

// childrenOf returns n's inputs in g, in argument order.
func childrenOf(g *G.ExprGraph, n *G.Node) []*G.Node {
	if n.Graph() == nil {
		return nil // a global constant
	}
	from := g.From(n.ID())
	var out []*G.Node
	for from.Next() {
		out = append(out, from.Node().(*G.Node))
	}
	return out
}
