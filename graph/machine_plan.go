package graph

// Planning a Machine's nodes: the kind of each, its buffer (its own, or a
// window of the program's arena of gradient intermediates; see machine.go)
// and its run function.

import (
	"fmt"
	"iter"
	"maps"
	"slices"
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

// setScratch gives the ops of steps (a Compile's new ones, at pos in its
// order, its buffers read last at last) the memory each keeps from its
// forward pass to its gradient op's: its input's buffer where it may take
// its place (overInput), a buffer each, or, in a forward-only machine,
// where no gradient op reads it, one for all, the machine's scratch.
func (m *Machine) setScratch(steps []*step, pos, last map[*step]int) {
	if !m.forwardOnly {
		for _, st := range steps {
			sc := st.node.Op().(kernels.Scratcher)
			if in := m.overInput(st, pos, last); in != nil {
				sc.SetScratch(in.out, false)
				if m.inPlace == nil {
					m.inPlace = map[*step]*step{}
				}
				m.inPlace[st] = in
				continue
			}
			sc.SetScratch(m.buffer(sc.ScratchFloats(false)), false)
		}
		return
	}
	n := 0
	for _, st := range steps {
		n = max(n, st.node.Op().(kernels.Scratcher).ScratchFloats(true))
	}
	if n > len(m.scratch) {
		m.scratch = m.buffer(n)
	}
	for _, st := range steps {
		st.node.Op().(kernels.Scratcher).SetScratch(m.scratch, true)
	}
}

// overInput returns the step whose buffer st's op may keep its scratch in:
// its first input's, where the op allows it, the input has a buffer of its
// own (no arena window, which another node takes once the input dies) as
// large, the op is the input's last reader in this program, and no program
// keeps the input (an output of one compiled before); nil otherwise.
func (m *Machine) overInput(st *step, pos, last map[*step]int) *step {
	sc, ok := st.node.Op().(kernels.InPlaceScratcher)
	if !ok || m.noShare || len(st.in) == 0 {
		return nil
	}
	in := m.owner(m.plan[st.in[0]])
	if (in.kind != kindKernel && in.kind != kindAdd) || in.shared != nil || m.kept[in] || last[in] != pos[st] || len(in.out) < sc.ScratchFloats(false) {
		return nil
	}
	return in
}

// overForwardScratch reports whether st, a fresh gradient node that no
// program keeps, writes over its forward op's scratch
// (kernels.GradOverScratch), and records it in overScratch: it has no Part
// views, which finish makes of a buffer placed before it.
func (m *Machine) overForwardScratch(st *step) bool {
	op, ok := st.node.Op().(kernels.GradOverScratch)
	if !ok || st.kind != kindKernel || m.forwardOnly || len(st.parts) > 0 {
		return false
	}
	if m.overScratch == nil {
		m.overScratch = map[*step]kernels.GradOverScratch{}
	}
	m.overScratch[st] = op
	return true
}

// keepForwardScratch gives each node of overScratch that a program (order,
// its steps at pos) runs without running its forward op before it a
// buffer of its own, in slot order: its op reads the probabilities the
// forward op left, which its own output would otherwise have replaced.
func (m *Machine) keepForwardScratch(order []*step, pos map[*step]int) {
	for _, st := range m.overScratchSteps() {
		op := m.overScratch[st]
		at, runs := pos[st]
		if !runs {
			continue
		}
		fwd := slices.IndexFunc(order, func(f *step) bool { return f.node.Op() == op.ForwardOp() })
		if fwd >= 0 && fwd < at {
			continue
		}
		m.ownGrad(st)
	}
}

// placeOverScratch points each node of overScratch at its forward op's
// scratch as it stands (setScratch and keepInputs may have moved it), in
// slot order; one whose forward op has none as large (no program runs the
// forward op) gets a buffer of its own instead.
func (m *Machine) placeOverScratch() {
	for _, st := range m.overScratchSteps() {
		n := st.node.Shape().TotalSize()
		buf := m.overScratch[st].ForwardScratch()
		switch {
		case len(buf) < n:
			m.ownGrad(st)
		case st.out == nil || &st.out[0] != &buf[0]:
			st.out = buf[:n]
			m.vals[st.slot] = tensor.New(tensor.WithShape(st.node.Shape().Clone()...), tensor.WithBacking(st.out))
			for _, p := range st.parts {
				m.vals[p.slot] = p.node.Op().(*kernels.Part).View(m.vals[st.slot])
			}
		}
	}
}

// ownGrad gives st, a node of overScratch, a buffer of its own instead.
func (m *Machine) ownGrad(st *step) {
	delete(m.overScratch, st)
	m.unshare(st)
}

// overScratchSteps returns the steps of overScratch in slot order, so
// that the buffers those given their own take from acts are the same
// from run to run.
func (m *Machine) overScratchSteps() []*step { return bySlot(maps.Keys(m.overScratch)) }

// bySlot returns the steps in slot order.
func bySlot(steps iter.Seq[*step]) []*step {
	return slices.SortedFunc(steps, func(a, b *step) int { return a.slot - b.slot })
}

// keepInputs gives the ops whose scratch is their input's buffer one of
// their own where a program (its steps at pos, its buffers read last at
// last) reads the input after the op, or keeps it, or reads it without
// running the op.
func (m *Machine) keepInputs(pos, last map[*step]int) {
	for _, st := range bySlot(maps.Keys(m.inPlace)) { // in slot order: each takes the next of acts
		in := m.inPlace[st]
		at, reads := pos[in]
		if !reads {
			continue
		}
		if opAt, runs := pos[st]; runs && last[in] == opAt && at < opAt {
			continue
		}
		sc := st.node.Op().(kernels.Scratcher)
		sc.SetScratch(m.buffer(sc.ScratchFloats(false)), false)
		delete(m.inPlace, st)
	}
}

// buffer returns n floats of the machine's that no one reads after a run:
// one of acts, or its own.
func (m *Machine) buffer(n int) []float32 {
	if m.acts != nil {
		return m.take(n)
	}
	m.own += n
	return make([]float32, n)
}

// arenaAlign is the alignment, in floats, of windows in an arena (64 bytes).
const arenaAlign = 16

// allocate places the gradient intermediates of a Compile in one arena by
// lifetime (see the file comment of machine.go); every other node gets its
// own buffer in finish. A node's lifetime runs from its position in order
// to the last read of it or of its Part views; outputs, and nodes a
// Gorgonia op reads (its result may alias its input), live past the end.
func (m *Machine) allocate(p *Program, order, fresh []*step, outputs []*G.Node) (pos, last map[*step]int) {
	end := len(order)
	pos, last = m.lifetimes(order, outputs)
	for _, st := range order {
		if last[st] < end {
			continue
		}
		if m.kept == nil {
			m.kept = map[*step]bool{}
		}
		m.kept[st] = true
		if m.overScratch[st] != nil {
			m.ownGrad(st)
		}
		if st.pooled {
			m.unpool(st)
		}
	}
	home := map[*step]*step{} // the arena node whose window holds a node's buffer
	for _, st := range fresh {
		if (st.kind == kindKernel || st.kind == kindAdd) && (st.grad || m.forwardOnly) && last[st] < end && !st.node.IsScalar() && !m.noShare && !m.overForwardScratch(st) {
			home[st] = st
		}
	}
	aliases := m.inPlaceAdds(fresh, home, pos, last, end)
	offs, size := packArena(order, home, pos, last, func(st *step) int { return st.node.Shape().TotalSize() })
	var arena []float32
	switch {
	case size == 0:
	case m.acts != nil:
		arena = m.take(size)
	default:
		arena = make([]float32, size)
		m.shared += size
	}
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
	return pos, last
}

// lifetimes returns the position of each step in order and the last
// position that reads each buffer owner; the owners of the outputs, and of
// the inputs of Gorgonia ops, live to the end, len(order).
func (m *Machine) lifetimes(order []*step, outputs []*G.Node) (pos, last map[*step]int) {
	end := len(order)
	pos = make(map[*step]int, end)
	last = map[*step]int{} // last read, by buffer owner
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
	return pos, last
}

// inPlaceAdds makes each fresh "+" with an input that dies there write in
// place over it: the "+" moves into the input's arena window (home), whose
// life extends to its own. It returns them in order.
func (m *Machine) inPlaceAdds(fresh []*step, home map[*step]*step, pos, last map[*step]int, end int) []*step {
	var aliases []*step
	for _, st := range fresh {
		if st.kind != kindAdd || m.acts != nil && last[st] == end { // an output stays out of the shared acts
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
	return aliases
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
