package graph

// The scratch of a Machine's ops, kept from the forward pass to the
// gradient op's: a buffer each, one for all in a forward-only machine, or
// the input's buffer it may take the place of, and the gradient nodes that
// write over their forward op's scratch.

import (
	"iter"
	"maps"
	"slices"

	"gorgonia.org/tensor"

	"gptctl/kernels"
)

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
