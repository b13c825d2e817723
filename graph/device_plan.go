//go:build cuda

package graph

// Planning a DeviceMachine's nodes: the kind of each, its device buffer (its
// own, or a window of the program's gradient arena, as on the Machine) and
// its run function, which queues the op on the device.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// planNode gives a new node its step; buffers come later (allocate, finish).
func (m *DeviceMachine) planNode(n *G.Node, children []*G.Node) (*dstep, bool) {
	if st, ok := m.nodes[n]; ok {
		return st, false
	}
	st := &dstep{node: n, n: max(1, n.Shape().TotalSize()), in: make([]*dstep, len(children)),
		args: make([]kernels.Buffer, len(children))}
	for i, c := range children {
		st.in[i] = m.nodes[c]
	}
	m.nodes[n] = st
	op := n.Op()
	_, isKernel := op.(kernels.CUDAKernel)
	st.kind, st.grad = classify(op, children, isKernel, func(i int) bool { return st.in[i].grad })
	switch st.kind {
	case kindPart:
		st.in[0].parts = append(st.in[0].parts, st)
	case kindFallback:
		st.err = fmt.Errorf("graph: node %s: op %s (%T) has no device kernel", n.Name(), op, op)
	}
	for _, c := range st.in {
		if c.err != nil && st.err == nil {
			st.err = fmt.Errorf("graph: node %s depends on %s, which cannot run on the device", n.Name(), c.node.Name())
		}
	}
	if st.kind == kindInput {
		st.host = n.Value()
		switch {
		case st.host == nil:
			st.err = fmt.Errorf("graph: input %s has no value", n.Name())
		case n.Dtype() == tensor.Int32:
			st.fed = true
		case n.Dtype() == tensor.Float32:
			st.fed = m.feed[n]
		default:
			st.err = fmt.Errorf("graph: input %s is %v; the device takes float32 and int32", n.Name(), n.Dtype())
		}
	}
	return st, true
}

// finish allocates the buffer of a planned node that allocate did not
// place, uploads a weight, and makes the run function.
func (m *DeviceMachine) finish(st *dstep) error {
	if st.err != nil {
		return nil
	}
	switch st.kind {
	case kindInput:
		if err := m.own1(st); err != nil {
			return err
		}
		if !st.fed {
			return m.upload(st)
		}
	case kindPart:
		st.buf = st.node.Op().(*kernels.Part).ViewCUDA(st.in[0].buf)
	case kindKernel:
		if err := m.own1(st); err != nil {
			return err
		}
		k := st.node.Op().(kernels.CUDAKernel)
		st.run = func() error {
			for i, c := range st.in {
				st.args[i] = c.buf
			}
			return k.ForwardCUDA(m.ops, st.buf, st.args)
		}
		if _, ok := k.(kernels.InputChecker); ok {
			st.check = make([]G.Value, len(st.in))
			for i, c := range st.in {
				if c.kind == kindInput {
					st.check[i] = c.host
				}
			}
		}
	case kindAdd:
		if err := m.own1(st); err != nil {
			return err
		}
		// In place when allocate aliased st to an input: add_f32 reads
		// a[i] and b[i] before it writes y[i].
		st.run = func() error { return m.d.Add(st.buf, st.in[0].buf, st.in[1].buf, st.n) }
	}
	return nil
}

// own1 gives st a buffer of its own unless allocate placed it.
func (m *DeviceMachine) own1(st *dstep) error {
	if !st.buf.IsNil() {
		return nil
	}
	b, err := m.alloc(st.n)
	if err != nil {
		return fmt.Errorf("graph: node %s: %w", st.node.Name(), err)
	}
	st.buf = b
	m.own += st.n
	return nil
}

func (m *DeviceMachine) alloc(n int) (kernels.Buffer, error) {
	b, err := m.d.Alloc(n)
	if err != nil {
		return kernels.Buffer{}, fmt.Errorf("device memory for %d floats: %w", n, err)
	}
	m.bufs = append(m.bufs, b)
	return b, nil
}

// upload copies an input's host value to its device buffer.
func (m *DeviceMachine) upload(st *dstep) error {
	if st.node.Dtype() == tensor.Int32 {
		return m.d.UploadInt32(st.buf, kernels.Int32s(st.host))
	}
	return m.d.Upload(st.buf, kernels.Floats(st.host))
}

// allocate places the gradient intermediates of a Compile in one device
// arena by lifetime, as Machine.allocate does on the host.
func (m *DeviceMachine) allocate(p *DeviceProgram, order, fresh []*dstep, outputs []*G.Node) error {
	end := len(order)
	pos, last := m.lifetimes(order, outputs)
	home := map[*dstep]*dstep{} // the arena node whose window holds a node's buffer
	for _, st := range fresh {
		if (st.kind == kindKernel || st.kind == kindAdd) && st.err == nil && st.grad && last[st] < end &&
			!st.node.IsScalar() && !m.noShare {
			home[st] = st
		}
	}
	aliases := inPlaceAdds(fresh, home, pos, last, end)
	offs, size := packArena(order, home, pos, last, func(st *dstep) int { return st.n })
	if size == 0 {
		return nil
	}
	arena, err := m.alloc(size)
	if err != nil {
		return fmt.Errorf("graph: the gradient arena: %w", err)
	}
	m.shared += size
	for st, off := range offs {
		st.buf, st.shared = arena.Slice(off, st.n), p
	}
	for _, st := range aliases { // in order: a chain's earlier link is placed first
		c := st.aliasOf
		if c.kind == kindPart {
			st.buf = c.node.Op().(*kernels.Part).ViewCUDA(owner(c).buf)
		} else {
			st.buf = c.buf
		}
		st.shared = p
	}
	return nil
}

// lifetimes returns the position of each step in order and the last
// position that reads each buffer owner; the outputs' owners live to the
// end, len(order).
func (m *DeviceMachine) lifetimes(order []*dstep, outputs []*G.Node) (pos, last map[*dstep]int) {
	end := len(order)
	pos = make(map[*dstep]int, end)
	last = map[*dstep]int{} // last read, by buffer owner
	for i, st := range order {
		pos[st] = i
		for _, c := range st.in {
			r := owner(c)
			last[r] = max(last[r], i)
		}
	}
	for _, o := range outputs {
		if st := m.nodes[o]; st != nil {
			last[owner(st)] = end
		}
	}
	return pos, last
}

// inPlaceAdds makes each fresh "+" with an input that dies there write in
// place over it: the "+" moves into the input's arena window (home), whose
// life extends to its own. It returns them in order.
func inPlaceAdds(fresh []*dstep, home map[*dstep]*dstep, pos, last map[*dstep]int, end int) []*dstep {
	var aliases []*dstep
	for _, st := range fresh {
		if st.kind != kindAdd || st.err != nil {
			continue
		}
		for _, c := range st.in {
			if h := home[owner(c)]; h != nil && last[owner(c)] == pos[st] {
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
func owner(st *dstep) *dstep {
	for st.kind == kindPart {
		st = st.in[0]
	}
	return st
}

// unshare gives a node that shares memory in another program's plan a
// buffer of its own, and re-points its Part views at it.
func (m *DeviceMachine) unshare(st *dstep) error {
	st.shared, st.buf = nil, kernels.Buffer{}
	if err := m.own1(st); err != nil {
		return err
	}
	for _, p := range st.parts {
		p.buf = p.node.Op().(*kernels.Part).ViewCUDA(st.buf)
	}
	return nil
}
