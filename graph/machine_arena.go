package graph

// The arena of a Machine's gradient intermediates (see machine.go): each
// node's lifetime in a program, the "+" nodes that write in place over an
// input, and the first-fit packing a DeviceMachine's arena shares.

import (
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

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
