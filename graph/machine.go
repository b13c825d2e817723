package graph

// Machine executes the nodes of a Gorgonia graph that kernels ops build. It
// is the CPU executor: each node's output buffer is allocated when a program
// is compiled and reused on every run, so a training step allocates (close to)
// nothing. Programs compiled on one Machine share the buffers of the nodes
// they have in common.

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// Machine owns the values of the nodes of one graph.
type Machine struct {
	g     *G.ExprGraph
	slots map[*G.Node]int
	vals  []G.Value
	plan  []*step // every planned node, in slot order
}

// Program runs the nodes needed for a set of outputs, in dependency order.
type Program struct {
	m     *Machine
	steps []*step
}

type step struct {
	node *G.Node
	in   []int      // slots of the inputs
	args []G.Value  // reused argument slice
	run  func() error
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

// Compile plans the nodes the outputs depend on.
func (m *Machine) Compile(outputs ...*G.Node) (*Program, error) {
	p := &Program{m: m}
	seen := map[*G.Node]bool{}
	var visit func(n *G.Node) error
	visit = func(n *G.Node) error {
		if seen[n] {
			return nil
		}
		seen[n] = true
		children := m.children(n)
		for _, c := range children {
			if err := visit(c); err != nil {
				return err
			}
		}
		st, err := m.planNode(n, children)
		if err != nil {
			return err
		}
		if st.run != nil {
			p.steps = append(p.steps, st)
		}
		return nil
	}
	for _, o := range outputs {
		if err := visit(o); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Run executes the program once.
func (p *Program) Run() error {
	for _, st := range p.steps {
		if err := st.run(); err != nil {
			return fmt.Errorf("graph: node %s: %w", st.node.Name(), err)
		}
	}
	return nil
}

func (m *Machine) children(n *G.Node) []*G.Node {
	if n.Graph() == nil {
		return nil // a global constant
	}
	from := m.g.From(n.ID())
	var out []*G.Node
	for from.Next() {
		out = append(out, from.Node().(*G.Node))
	}
	return out
}

func (m *Machine) planNode(n *G.Node, children []*G.Node) (*step, error) {
	if s, ok := m.slots[n]; ok {
		st := m.plan[s]
		return st, nil
	}
	st := &step{node: n, in: make([]int, len(children)), args: make([]G.Value, len(children))}
	for i, c := range children {
		st.in[i] = m.slots[c]
	}
	slot := len(m.vals)
	m.slots[n] = slot
	m.plan = append(m.plan, st)
	op := n.Op()
	switch {
	case op == nil || len(children) == 0: // parameter, input or constant
		v := n.Value()
		if v == nil {
			return nil, fmt.Errorf("graph: input %s has no value", n.Name())
		}
		m.vals = append(m.vals, v)
		return st, nil
	}
	m.gather(st)
	switch k := op.(type) {
	case *kernels.Part:
		m.vals = append(m.vals, k.View(st.args[0]))
		return st, nil
	case kernels.Kernel:
		out := kernels.NewDense(n.Shape())
		m.vals = append(m.vals, out)
		buf := kernels.Floats(out)
		st.run = func() error {
			m.gather(st)
			return k.Forward(buf, st.args)
		}
		return st, nil
	}
	if isSameShapeAdd(op, children) {
		// Gorgonia sums the gradients of a node used twice with its own Add;
		// do that in place instead of allocating a new tensor each step.
		out := kernels.NewDense(n.Shape())
		m.vals = append(m.vals, out)
		buf := kernels.Floats(out)
		st.run = func() error {
			kernels.AddInto(buf, kernels.Floats(m.vals[st.in[0]]), kernels.Floats(m.vals[st.in[1]]))
			return nil
		}
		return st, nil
	}
	m.vals = append(m.vals, nil)
	st.run = func() error { // any other Gorgonia op: correct, not fast
		m.gather(st)
		v, err := op.Do(st.args...)
		if err != nil {
			return err
		}
		m.vals[slot] = v
		return nil
	}
	return st, nil
}

func (m *Machine) gather(st *step) {
	for i, s := range st.in {
		st.args[i] = m.vals[s]
	}
}

func isSameShapeAdd(op G.Op, children []*G.Node) bool {
	if !strings.HasPrefix(op.String(), "+ ") || len(children) != 2 {
		return false
	}
	a, b := children[0], children[1]
	return a.Dtype() == tensor.Float32 && b.Dtype() == tensor.Float32 &&
		a.Shape().TotalSize() == b.Shape().TotalSize() && !a.IsScalar() && !b.IsScalar()
}
