package kernels

// Shared plumbing for the fused ops: types, hashing, value access and the
// packed-gradient views that let one backward op return several gradients.

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float32 is the one float type the fused ops compute in.
var Float32 = tensor.Float32

// opID gives every op instance a distinct hash, so Gorgonia never merges two
// nodes whose ops keep per-instance state (attention probabilities, LayerNorm
// statistics, dropout masks).
var opID atomic.Uint64

// base carries what every fused op shares: a name, a unique id, the input
// types (taken from the children when the op is applied) and the output shape.
type base struct {
	name  string
	id    uint64
	in    []hm.Type
	shape tensor.Shape
}

func newBase(name string, shape tensor.Shape, children ...*G.Node) base {
	in := make([]hm.Type, len(children))
	for i, c := range children {
		in[i] = c.Type()
	}
	return base{name: name, id: opID.Add(1), in: in, shape: shape.Clone()}
}

func (b *base) Arity() int { return len(b.in) }

func (b *base) Type() hm.Type {
	ts := make([]hm.Type, 0, len(b.in)+1)
	ts = append(ts, b.in...)
	if b.shape.IsScalar() {
		ts = append(ts, Float32)
	} else {
		ts = append(ts, G.TensorType{Dims: b.shape.Dims(), Of: Float32})
	}
	return hm.NewFnType(ts...)
}

func (b *base) InferShape(...G.DimSizer) (tensor.Shape, error) { return b.shape.Clone(), nil }
func (b *base) ReturnsPtr() bool                               { return false }
func (b *base) CallsExtern() bool                              { return false }
func (b *base) OverwritesInput() int                           { return -1 }
func (b *base) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "%s#%d", b.name, b.id) }
func (b *base) String() string                                 { return b.name }

func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}

// Shape is the output shape of the op.
func (b *base) Shape() tensor.Shape { return b.shape }

// noDiff is embedded by ops that are never differentiated (gradient ops).
type noDiff struct{}

func (noDiff) DiffWRT(n int) []bool { return make([]bool, n) }

func (noDiff) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("kernels: second derivatives are not supported")
}

// Kernel is what the graph executor calls: compute the op's output into out,
// a buffer of the output's size allocated once and reused every step.
type Kernel interface {
	G.Op
	Forward(out []float32, in []G.Value) error
}

// Scratcher is a Kernel that keeps memory from its forward pass to its
// gradient op's, within one run: nothing reads it between runs, so an
// executor that runs several graphs one at a time may give the ops of each
// the same memory (graph.SharedActivations), and one that runs no gradient
// ops may give all its ops one buffer (graph.ForwardOnly). A Scratcher
// given none allocates its own at its first forward pass on the CPU.
type Scratcher interface {
	Kernel
	// ScratchFloats is the floats it keeps; forwardOnly: the floats a
	// forward pass needs where no gradient op follows (as many, or fewer).
	ScratchFloats(forwardOnly bool) int
	// SetScratch makes it keep them in buf, ScratchFloats(forwardOnly)
	// long or more; with forwardOnly its gradient op fails.
	SetScratch(buf []float32, forwardOnly bool)
}

// InPlaceScratcher is a Scratcher whose scratch may be its first input's
// buffer, where nothing reads that input after it: its forward pass reads
// each part of the input before it writes the scratch over it.
type InPlaceScratcher interface {
	Scratcher
	ScratchOverInput()
}

// GradOverScratch is a gradient op whose output may take the place of its
// forward op's scratch, which it alone reads: it reads each element of the
// scratch before it writes the same element of its output, and its output
// is as large.
type GradOverScratch interface {
	Kernel
	// ForwardScratch returns the forward op's scratch as it stands: the
	// buffer SetScratch gave it, or nil.
	ForwardScratch() []float32
	// ForwardOp is the forward op, which must run before it, in the same
	// program, for its output to take the scratch's place.
	ForwardOp() Scratcher
}

// doKernel implements Gorgonia's Do and UsePreallocDo for a Kernel.
func doKernel(k Kernel, shape tensor.Shape, in []G.Value) (G.Value, error) {
	out := NewDense(shape)
	if err := k.Forward(Floats(out), in); err != nil {
		return nil, err
	}
	return out, nil
}

func preallocKernel(k Kernel, prealloc G.Value, in []G.Value) (G.Value, error) {
	if err := k.Forward(Floats(prealloc), in); err != nil {
		return nil, err
	}
	return prealloc, nil
}

// NewDense allocates a zeroed float32 tensor of the given shape (a scalar
// holds one element).
func NewDense(shape tensor.Shape) *tensor.Dense {
	n := shape.TotalSize()
	if shape.IsScalar() {
		return tensor.New(tensor.FromScalar(float32(0)))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n)))
}

// Floats returns the float32 storage of a value (one element for a scalar).
func Floats(v G.Value) []float32 {
	switch v := v.(type) {
	case *tensor.Dense:
		return v.Float32s() // Data() would box the slice in an interface: an allocation per call
	case *G.F32:
		return []float32{float32(*v)}
	}
	panic(fmt.Sprintf("kernels: want a float32 value, have %T", v))
}

// Int32s returns the int32 storage of a value.
func Int32s(v G.Value) []int32 {
	if d, ok := v.(*tensor.Dense); ok {
		if s, ok := d.Data().([]int32); ok {
			return s
		}
	}
	panic(fmt.Sprintf("kernels: want an int32 tensor, have %T", v))
}

// scalarOf reads a scalar gradient value.
func scalarOf(v G.Value) float32 { return Floats(v)[0] }

// Part views one slice of a packed buffer: backward ops that produce several
// gradients write them into one flat output and Parts cut it up without copying.
type Part struct {
	base
	off int
}

// View implements the executor's zero-copy path: the output is a window of
// the input's storage.
func (p *Part) View(in G.Value) G.Value {
	data := Floats(in)[p.off : p.off+p.shape.TotalSize()]
	if p.shape.IsScalar() {
		return tensor.New(tensor.FromScalar(data[0]))
	}
	return tensor.New(tensor.WithShape(p.shape.Clone()...), tensor.WithBacking(data))
}

func (p *Part) Do(in ...G.Value) (G.Value, error) {
	v := p.View(in[0]).(*tensor.Dense)
	return v.Clone().(*tensor.Dense), nil
}

func (p *Part) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	copy(Floats(prealloc), Floats(in[0])[p.off:p.off+p.shape.TotalSize()])
	return prealloc, nil
}

func (p *Part) DiffWRT(n int) []bool { return make([]bool, n) }
func (p *Part) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("kernels: second derivatives are not supported")
}

// unpack applies a packed backward op and returns one node per gradient,
// shaped like the corresponding input; nil where want[i] is false.
func unpack(op G.Op, children []*G.Node, shapes []tensor.Shape, want []bool) (G.Nodes, error) {
	packed, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(shapes))
	off := 0
	for i, s := range shapes {
		if want[i] {
			p := &Part{base: newBase(fmt.Sprintf("part[%d]", i), s, packed), off: off}
			if out[i], err = G.ApplyOp(p, packed); err != nil {
				return nil, err
			}
		}
		off += s.TotalSize()
	}
	return out, nil
}

func packedSize(shapes ...tensor.Shape) tensor.Shape {
	n := 0
	for _, s := range shapes {
		n += s.TotalSize()
	}
	return tensor.Shape{n}
}
