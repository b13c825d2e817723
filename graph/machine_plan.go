package graph

// Planning a Machine's nodes: the kind of each, its buffer (its own, or a
// window of the program's arena of gradient intermediates; see machine.go)
// and its run function.

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// planNode gives a new node a slot and a step; buffers come later (allocate).
func (m *Machine) planNode(n *G.Node, children []*G.Node) (*step, bool, error) {
	if s, ok := m.slots[n]; ok {
		return m.plan[s], false, nil
	}
	st := &step{node: n, slot: len(m.vals), in: make([]int, len(children)), args: make([]G.Value, len(children))}
	for i, c := range children {
		st.in[i] = m.slots[c]
	}
	m.slots[n] = st.slot
	m.plan = append(m.plan, st)
	m.vals = append(m.vals, nil)
	_, isKernel := n.Op().(kernels.Kernel)
	st.kind, st.grad = classify(n.Op(), children, isKernel, func(i int) bool { return m.plan[st.in[i]].grad })
	if st.kind == kindPart {
		parent := m.plan[st.in[0]]
		parent.parts = append(parent.parts, st)
	}
	if st.kind == kindInput {
		if m.vals[st.slot] = n.Value(); m.vals[st.slot] == nil {
			return st, true, fmt.Errorf("graph: input %s has no value", n.Name())
		}
	}
	return st, true, nil
}

// classify returns the kind of a node being planned, with op over children,
// and whether it belongs to the gradient computation (a Part as its parent
// does; a "+" of two gradients, Gorgonia's sum of the gradients of a node
// used twice, which the executors add in place). isKernel says whether op
// has the executor's implementation; inGrad(i) is child i's grad flag.
// Shared by the CPU Machine and the DeviceMachine.
func classify(op G.Op, children []*G.Node, isKernel bool, inGrad func(i int) bool) (kind stepKind, grad bool) {
	switch op.(type) {
	case nil:
		kind = kindInput
	case *kernels.Part:
		kind, grad = kindPart, inGrad(0)
	default:
		switch {
		case isKernel:
			kind = kindKernel
			if d, ok := op.(G.SDOp); ok { // a gradient op differentiates nothing
				grad = !anyTrue(d.DiffWRT(len(children)))
			}
		case isSameShapeAdd(op, children):
			kind, grad = kindAdd, inGrad(0) || inGrad(1)
		default:
			kind = kindFallback
		}
	}
	if len(children) == 0 {
		kind = kindInput
	}
	return kind, grad
}

// finish creates the value and the run function of a planned node whose
// buffer allocate has placed (or that needs none).
func (m *Machine) finish(st *step) {
	switch st.kind {
	case kindPart:
		m.gather(st)
		m.vals[st.slot] = st.node.Op().(*kernels.Part).View(st.args[0])
	case kindKernel:
		k := st.node.Op().(kernels.Kernel)
		if m.overScratch[st] == nil { // placeOverScratch places the others
			m.setOut(st)
		}
		st.run = func() error {
			m.gather(st)
			return k.Forward(st.out, st.args)
		}
	case kindAdd:
		m.setOut(st)
		st.run = func() error {
			kernels.AddInto(st.out, floats(m.vals[st.in[0]]), floats(m.vals[st.in[1]]))
			return nil
		}
	case kindFallback:
		op := st.node.Op()
		st.run = func() error { // any other Gorgonia op: correct, not fast
			m.gather(st)
			v, err := op.Do(st.args...)
			if err != nil {
				return err
			}
			m.vals[st.slot] = v
			return nil
		}
	}
}

// setOut gives a kernel or add node its value: its own buffer, or the
// window allocate chose.
func (m *Machine) setOut(st *step) {
	if key := m.gradKey(st); key != "" && st.out == nil {
		st.out = m.grads.get(key, st.node.Shape().TotalSize())
	}
	if st.out == nil && !m.kept[st] && m.acts != nil { // no program reads it after its run
		st.out, st.pooled = m.take(st.node.Shape().TotalSize()), true
	}
	if st.out == nil {
		v := kernels.NewDense(st.node.Shape())
		m.vals[st.slot], st.out = v, kernels.Floats(v)
		m.own += len(st.out)
		return
	}
	m.vals[st.slot] = tensor.New(tensor.WithShape(st.node.Shape().Clone()...), tensor.WithBacking(st.out))
}

// unshare gives a node that shares memory in another program's plan a
// buffer of its own, and re-points its Part views at it.
func (m *Machine) unshare(st *step) {
	st.shared, st.out = nil, nil
	m.setOut(st)
	for _, p := range st.parts {
		m.vals[p.slot] = p.node.Op().(*kernels.Part).View(m.vals[st.slot])
	}
}

// unpool gives a node whose buffer is one of acts, and that a program
// reads after its run (kept), a buffer of its own.
func (m *Machine) unpool(st *step) {
	st.pooled = false
	m.unshare(st)
}

func (m *Machine) gather(st *step) {
	for i, s := range st.in {
		st.args[i] = m.vals[s]
	}
}

// floats is kernels.Floats without the allocation of tensor's Data().
func floats(v G.Value) []float32 {
	if d, ok := v.(*tensor.Dense); ok {
		return d.Float32s()
	}
	return kernels.Floats(v)
}

func anyTrue(b []bool) bool {
	for _, v := range b {
		if v {
			return true
		}
	}
	return false
}

func isSameShapeAdd(op G.Op, children []*G.Node) bool {
	if !strings.HasPrefix(op.String(), "+ ") || len(children) != 2 {
		return false
	}
	a, b := children[0], children[1]
	return a.Dtype() == tensor.Float32 && b.Dtype() == tensor.Float32 &&
		a.Shape().TotalSize() == b.Shape().TotalSize() && !a.IsScalar() && !b.IsScalar()
}
