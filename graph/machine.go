package graph

// Machine executes the nodes of a Gorgonia graph that kernels ops build. It
// is the CPU executor: each node's output buffer is allocated when a program
// is compiled and reused on every run, so a training step allocates (close to)
// nothing. Programs compiled on one Machine share the buffers of the nodes
// they have in common.
//
// Gradient intermediates share memory. Within one Compile, a gradient node
// (the output of a gradient op, a Part of one, or a Gorgonia "+" summing
// gradients) that is not an output of the program gets a place in the
// program's arena that it shares with gradient nodes whose lifetimes (first
// write to last read, in this program's order) do not overlap, and a "+"
// whose input dies there writes in place over it (the tied embedding's two
// gradients are summed into the LM head's). Forward nodes, outputs and the
// packed gradients that hold them keep their own buffers, and a shared node
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
	"gorgonia.org/tensor"

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
}

// Floats reports the float32s the machine has allocated: in buffers of their
// own, and in the arenas shared by gradient intermediates.
func (m *Machine) Floats() (own, shared int) { return m.own, m.shared }

// Program runs the nodes needed for a set of outputs, in dependency order.
type Program struct {
	m     *Machine
	steps []*step
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
	m.allocate(p, order, fresh, outputs)
	for _, st := range fresh {
		m.finish(st)
	}
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
		m.setOut(st)
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
	if st.out == nil {
		v := kernels.NewDense(st.node.Shape())
		m.vals[st.slot], st.out = v, kernels.Floats(v)
		m.own += len(st.out)
		return
	}
	m.vals[st.slot] = tensor.New(tensor.WithShape(st.node.Shape().Clone()...), tensor.WithBacking(st.out))
}

// arenaAlign is the alignment, in floats, of windows in an arena (64 bytes).
const arenaAlign = 16

// allocate places the gradient intermediates of a Compile in one arena by
// lifetime (see the file comment); every other node gets its own buffer in
// finish. A node's lifetime runs from its position in order to the last
// read of it or of its Part views; outputs, and nodes a Gorgonia op reads
// (its result may alias its input), live past the end.
func (m *Machine) allocate(p *Program, order, fresh []*step, outputs []*G.Node) {
	end := len(order)
	pos := make(map[*step]int, end)
	last := map[*step]int{} // last read, by buffer owner
	for i, st := range order {
		pos[st] = i
		for _, s := range st.in {
			r := m.owner(m.plan[s])
			last[r] = max(last[r], i)
			if st.kind == kindFallback {
				last[r] = end
			}
		}
	}
	for _, o := range outputs {
		last[m.owner(m.plan[m.slots[o]])] = end
	}
	home := map[*step]*step{} // the arena node whose window holds a node's buffer
	for _, st := range fresh {
		if (st.kind == kindKernel || st.kind == kindAdd) && st.grad && last[st] < end && !st.node.IsScalar() && !m.noShare {
			home[st] = st
		}
	}
	var aliases []*step
	for _, st := range fresh { // a "+" writes over an input that dies there
		if st.kind != kindAdd {
			continue
		}
		for _, s := range st.in {
			c := m.plan[s]
			if h := home[m.owner(c)]; h != nil && last[m.owner(c)] == pos[st] {
				delete(home, st)
				home[st], st.aliasOf = h, c
				last[h] = max(last[h], last[st])
				st.stays = last[st] == end
				aliases = append(aliases, st)
				break
			}
		}
	}
	offs, size := packArena(order, home, pos, last, func(st *step) int { return st.node.Shape().TotalSize() })
	arena := make([]float32, size)
	m.shared += size
	for st, off := range offs {
		st.out, st.shared = arena[off:off+st.node.Shape().TotalSize()], p
	}
	for _, st := range aliases { // in order: a chain's earlier link is placed first
		c := st.aliasOf
		if c.kind == kindPart {
			parent := m.owner(c)
			view := c.node.Op().(*kernels.Part).View(tensor.New(tensor.WithShape(len(parent.out)), tensor.WithBacking(parent.out)))
			st.out = floats(view)
		} else {
			st.out = c.out
		}
		st.shared = p
	}
}

// owner is the node whose buffer st's value lives in: st, or the packed
// node of a Part.
func (m *Machine) owner(st *step) *step {
	for st.kind == kindPart {
		st = m.plan[st.in[0]]
	}
	return st
}

// packArena gives each arena node (home[st] == st) an offset, first fit
// among the nodes alive at its birth, and returns the arena size. It plans
// the host arena of a Machine and the device arena of a DeviceMachine.
func packArena[S comparable](order []S, home map[S]S, pos, last map[S]int, floats func(S) int) (map[S]int, int) {
	type placed struct{ off, end, death int }
	var live []placed
	offs := map[S]int{}
	size := 0
	for _, st := range order {
		if home[st] != st {
			continue
		}
		birth, n := pos[st], (floats(st)+arenaAlign-1)/arenaAlign*arenaAlign
		kept := live[:0]
		for _, pl := range live {
			if pl.death >= birth {
				kept = append(kept, pl)
			}
		}
		live = kept
		slices.SortFunc(live, func(a, b placed) int { return a.off - b.off })
		off := 0
		for _, pl := range live {
			if off+n <= pl.off {
				break
			}
			off = max(off, pl.end)
		}
		live = append(live, placed{off, off + n, max(last[st], birth)})
		offs[st], size = off, max(size, off+n)
	}
	return offs, size
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
