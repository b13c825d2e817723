//go:build cuda

package graph

// DeviceMachine is the device twin of Machine: it compiles the same
// programs, in the same order, over the same steps (inputs, Part views,
// kernels, Gorgonia's "+" of two gradients), with every node's value in
// device memory allocated once, and runs them by queuing the ops'
// ForwardCUDA on the device's stream.
//
// Inputs are of two kinds. Weights and constants (every float32 input not
// marked with Feed) are uploaded when a program first reaches them and stay
// on the device: the device copy is then the current one (an optimizer
// updates it in place, Download reads it back, Upload replaces it). Int32
// inputs (token ids, targets, labels, row indexes) and the float32 inputs
// marked with Feed are uploaded from their host values before every run,
// one copy each. Nothing else crosses to the host during a run: values are
// read back only by Download, Value and LossCount.
//
// Gradient intermediates share memory as on the Machine (see machine.go):
// a gradient node that is not an output of the program gets a window of
// the program's device arena by lifetime, and a "+" whose input dies there
// adds in place over it. A shared node's value is only valid during the
// run; outputs keep theirs. Ops that are not kernels.CUDAKernel, and
// Gorgonia ops other than that "+", have no device path: Compile fails on
// them rather than copying to the host and back.

import (
	"cmp"
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// DeviceMachine owns the device values of the nodes of one graph.
type DeviceMachine struct {
	d     *kernels.Device
	g     *G.ExprGraph
	ops   *kernels.CUDAState
	nodes map[*G.Node]*dstep
	feed  map[*G.Node]bool
	bufs  []kernels.Buffer // every allocation, for Close

	noShare     bool // give every node its own buffer (tests compare the two)
	own, shared int  // floats in buffers of their own, and in arenas
}

// DeviceProgram runs the nodes needed for a set of outputs on the device.
type DeviceProgram struct {
	m      *DeviceMachine
	feed   []*dstep // inputs uploaded before every run
	checks []*dstep // steps whose op checks its int32 inputs on the host
	steps  []*dstep
	before func() // the model's input preparation (Model.prepare); nil: none
}

// dstep is one node on the device (see step for the fields they share).
type dstep struct {
	node    *G.Node
	kind    stepKind
	err     error // why the node cannot run on the device
	in      []*dstep
	args    []kernels.Buffer // reused argument slice
	n       int              // elements of the value (1 for a scalar)
	buf     kernels.Buffer
	host    G.Value // an input's host value
	fed     bool    // an input uploaded before every run
	grad    bool
	shared  *DeviceProgram
	aliasOf *dstep
	stays   bool
	parts   []*dstep
	check   []G.Value // host values of the inputs an InputChecker op reads
	run     func() error
}

// NewDeviceMachine returns a DeviceMachine for graph g on device d.
func NewDeviceMachine(d *Device, g *G.ExprGraph) *DeviceMachine {
	return &DeviceMachine{d: d, g: g, ops: kernels.NewCUDAState(d), nodes: map[*G.Node]*dstep{}, feed: map[*G.Node]bool{}}
}

// Device is the device the machine runs on.
func (m *DeviceMachine) Device() *Device { return m.d }

// Ops is the device state the machine's ops keep.
func (m *DeviceMachine) Ops() *kernels.CUDAState { return m.ops }

// Floats reports the float32s the machine has allocated on the device: in
// buffers of their own (with the ops' saved state), and in shared arenas.
func (m *DeviceMachine) Floats() (own, shared int) { return m.own + m.ops.Floats(), m.shared }

// Feed marks float32 input nodes as inputs that change between runs (a
// batch's regression targets), uploaded before every run like the int32
// inputs. It must come before the first Compile that reaches them.
func (m *DeviceMachine) Feed(nodes ...*G.Node) error {
	for _, n := range nodes {
		if _, ok := m.nodes[n]; ok {
			return fmt.Errorf("graph: %s is already planned as a weight (feed it before compiling)", n.Name())
		}
		m.feed[n] = true
	}
	return nil
}

// Compile plans the nodes the outputs depend on and allocates their device
// memory. On an error of planning the nodes it planned are still complete,
// so the machine stays usable for other programs; on a failed allocation
// (the device out of memory, say) the nodes it could not finish keep that
// error, and a later program that needs one of them fails to compile with
// it, instead of running on a buffer that was never allocated.
func (m *DeviceMachine) Compile(outputs ...*G.Node) (*DeviceProgram, error) {
	p := &DeviceProgram{m: m}
	order, fresh, firstErr := walk(m.g, outputs, func(n *G.Node, children []*G.Node) (*dstep, bool, error) {
		st, isNew := m.planNode(n, children)
		var err error
		switch {
		case st.err != nil:
			err = st.err
		case st.shared != nil && st.shared != p && st.stays:
			err = fmt.Errorf("graph: %s is an output of another program that shares its memory (compile this program first)", n.Name())
		case st.shared != nil && st.shared != p:
			err = m.unshare(st)
		}
		return st, isNew, err
	})
	stop := m.allocate(p, order, fresh, outputs)
	for _, st := range fresh {
		if stop == nil {
			stop = m.finish(st)
		}
		if stop != nil && st.err == nil {
			// A node left unfinished (no buffer, or no run function: a
			// view of a buffer the failure left unallocated) is not taken
			// up by a later program of this machine either.
			st.err = fmt.Errorf("graph: node %s was not compiled: %w", st.node.Name(), stop)
		}
	}
	if firstErr = cmp.Or(firstErr, stop); firstErr != nil {
		return nil, firstErr
	}
	for _, st := range order {
		switch {
		case st.fed:
			p.feed = append(p.feed, st)
		case st.run != nil:
			p.steps = append(p.steps, st)
		}
		if st.check != nil {
			p.checks = append(p.checks, st)
		}
	}
	return p, nil
}

// Run checks and uploads the program's fed inputs and queues its steps; it
// returns without waiting for the device (Download waits).
func (p *DeviceProgram) Run() error {
	if p.before != nil {
		p.before()
	}
	m := p.m
	for _, st := range p.checks {
		if err := st.node.Op().(kernels.InputChecker).CheckInputs(st.check); err != nil {
			return fmt.Errorf("graph: node %s: %w", st.node.Name(), err)
		}
	}
	for _, st := range p.feed {
		if err := m.upload(st); err != nil {
			return fmt.Errorf("graph: input %s: %w", st.node.Name(), err)
		}
	}
	prof := deviceProfile.Load()
	for _, st := range p.steps {
		var stop func() (float64, error)
		if prof != nil {
			var err error
			if stop, err = m.d.Timer(); err != nil {
				return err
			}
		}
		if err := st.run(); err != nil {
			if stop != nil {
				stop() // frees the timer's events; the step's error is the one to report
			}
			return fmt.Errorf("graph: node %s: %w", st.node.Name(), err)
		}
		if stop != nil {
			ms, err := stop()
			if err != nil {
				return err
			}
			prof.add(st.node.Op().String(), ms)
		}
	}
	return nil
}

// step returns the planned step of n.
func (m *DeviceMachine) step(n *G.Node) (*dstep, error) {
	st := m.nodes[n]
	if st == nil || st.buf.IsNil() {
		return nil, fmt.Errorf("graph: node %s is not in a compiled device program", n.Name())
	}
	return st, nil
}

// planned reports whether a compiled program reaches n.
func (m *DeviceMachine) planned(n *G.Node) bool {
	st := m.nodes[n]
	return st != nil && !st.buf.IsNil()
}

// Buffer returns the device memory holding n's value (a weight's, to
// update it in place; a gradient's, to read it on the device).
func (m *DeviceMachine) Buffer(n *G.Node) (Buffer, error) {
	st, err := m.step(n)
	if err != nil {
		return kernels.Buffer{}, err
	}
	return st.buf, nil
}

// Download waits for the device and copies n's value into dst, which must
// have its size. A gradient intermediate that shares memory holds its
// value only during the run: read outputs.
func (m *DeviceMachine) Download(dst []float32, n *G.Node) error {
	st, err := m.step(n)
	if err != nil {
		return err
	}
	if n.Dtype() != tensor.Float32 || len(dst) != st.n {
		return fmt.Errorf("graph: downloading %s (%v, %d values) into %d float32s", n.Name(), n.Dtype(), st.n, len(dst))
	}
	if err := m.d.Download(dst, st.buf); err != nil {
		return fmt.Errorf("graph: downloading %s: %w", n.Name(), err)
	}
	return nil
}

// Value downloads n's value into a new slice.
func (m *DeviceMachine) Value(n *G.Node) ([]float32, error) {
	st, err := m.step(n)
	if err != nil {
		return nil, err
	}
	out := make([]float32, st.n)
	return out, m.Download(out, n)
}

// Upload copies the host value of a weight or constant to the device,
// replacing the device copy (after a checkpoint was loaded on the host).
func (m *DeviceMachine) Upload(n *G.Node) error {
	st, err := m.step(n)
	if err != nil {
		return err
	}
	if st.kind != kindInput {
		return fmt.Errorf("graph: %s is computed, not an input", n.Name())
	}
	return m.upload(st)
}

// LossCount reports how many rows a cross-entropy or mean-squared-error
// node averaged over in its last run (the device twin of LossRows).
func (m *DeviceMachine) LossCount(loss *G.Node) (int, error) { return m.ops.LossCount(loss.Op()) }

// Sync waits for the queued work and returns the first device error.
func (m *DeviceMachine) Sync() error { return m.d.Sync() }

// Close waits for the device and frees the machine's device memory; its
// programs must not run again.
func (m *DeviceMachine) Close() error {
	errs := []error{m.d.Sync()}
	for _, b := range m.bufs {
		errs = append(errs, m.d.Free(b))
	}
	errs = append(errs, m.ops.Free())
	m.bufs, m.nodes, m.own, m.shared = nil, map[*G.Node]*dstep{}, 0, 0
	return errors.Join(errs...)
}
