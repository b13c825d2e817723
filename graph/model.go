package graph

// The GPT model as one Gorgonia graph for a fixed batch shape (B, T):
// token ids in, final hidden states and logits out, every block built from
// the fused ops of package kernels.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// Model is a graph of the GPT over Params for batches of shape (B, T).
type Model struct {
	Params *Params
	Graph  *G.ExprGraph
	B, T   int

	Idx    *G.Node // (B, T) int32 token ids, filled by the caller
	Hidden *G.Node // (B*T, C) final hidden states
	Logits *G.Node // (B*T, V), the LM head tied to the token embedding; (B*T, Vp) with PadVocab
	Vocab  int     // V: the classes, the first V columns of Logits

	nodes  map[string]*G.Node // parameter nodes by name
	lmHead *G.Node            // what Logits multiplies by: wte, or wte padded (PadVocab)
	mode   *kernels.Mode      // dropout on or off: Trainer.Step turns it on, Eval and Run off
	rng    *RNG
	at     string // the layer New is building, for its error
	m      *Machine
	grads  *GradBuffers // SharedGrads; nil: the machine's own
	before func()       // sets derived inputs from the caller's before each run; nil: none
}

// prepare sets the inputs derived from the caller's, before a run.
func (m *Model) prepare() {
	if m.before != nil {
		m.before()
	}
}

// Option changes how New builds a model.
type Option func(*options)

type options struct {
	vocabMultiple int
	grads         *GradBuffers
	acts          *ActivationBuffers
	forwardOnly   bool
}

// SharedGrads makes the CPU models built with the same b keep the
// gradients of the weights, and the packed backward outputs that hold
// them, in b's buffers rather than buffers of their own: for models of one
// Params that train one at a time (a finetune's graph for each padded
// length), each step overwriting them. What a step leaves there is valid
// until another of the models steps. A model built after a larger one
// fits in its buffers; build the largest first to share them all.
func SharedGrads(b *GradBuffers) Option { return func(o *options) { o.grads = b } }

// GradBuffers holds the buffers models built with SharedGrads(b) share.
type GradBuffers struct{ bufs map[string][]float32 }

// NewGradBuffers returns an empty set.
func NewGradBuffers() *GradBuffers { return &GradBuffers{bufs: map[string][]float32{}} }

// get returns n floats of the buffer named key, a new one when it has
// fewer (the models that hold the smaller one keep it).
func (b *GradBuffers) get(key string, n int) []float32 {
	if buf := b.bufs[key]; len(buf) >= n {
		return buf[:n:n]
	}
	buf := make([]float32, n)
	b.bufs[key] = buf
	return buf
}

// SharedActivations makes the CPU models built with the same b take the
// memory nothing reads between runs from b's buffers: activations, the
// scratch of ops (attention and softmax probabilities) and the arenas of
// gradient intermediates. Models of one Params that run one at a time (a
// finetune's graph for each padded length) then need the memory of the
// largest rather than the sum. A run's outputs keep buffers of their own,
// as do the gradients unless SharedGrads shares them; anything else a run
// leaves is valid until another of the models runs. A model built after a
// larger one fits in its buffers; build the largest first to share them
// all.
func SharedActivations(b *ActivationBuffers) Option { return func(o *options) { o.acts = b } }

// ForwardOnly makes a CPU model for inference alone (evaluation,
// prediction): its activations share memory by lifetime, as a training
// program's gradient intermediates do, so that a forward pass holds a few
// layers' activations rather than every layer's, and its ops share one
// scratch buffer. It cannot be differentiated.
func ForwardOnly() Option { return func(o *options) { o.forwardOnly = true } }

// ActivationBuffers holds the buffers models built with
// SharedActivations(b) share: each model takes them in the order it plans
// its nodes, so that models of one structure share each buffer with the
// nodes of the same place in the others.
type ActivationBuffers struct{ bufs [][]float32 }

// NewActivationBuffers returns an empty set.
func NewActivationBuffers() *ActivationBuffers { return &ActivationBuffers{} }

// get returns n floats of the i-th buffer, a new one when it has fewer
// (the models that hold the smaller one keep it).
func (b *ActivationBuffers) get(i, n int) []float32 {
	for len(b.bufs) <= i {
		b.bufs = append(b.bufs, nil)
	}
	if buf := b.bufs[i]; len(buf) >= n {
		return buf[:n:n]
	}
	b.bufs[i] = make([]float32, n)
	return b.bufs[i]
}

// Floats reports the floats in b's buffers.
func (b *ActivationBuffers) Floats() int {
	n := 0
	for _, buf := range b.bufs {
		n += len(buf)
	}
	return n
}

// PadVocab makes the LM head multiply by the token embedding padded with
// zero rows to a multiple of k, so that the logits' rows (B*T, Vp) start
// at aligned addresses, as tensor-core products want (GPT-2's 50,257
// becomes 50,304 for k = 64). The padding columns are not classes: LMLoss
// leaves them out of the softmax and gives them no gradient, and the
// weights keep V rows. For the device, where it pays; k <= 1 is no padding.
func PadVocab(k int) Option { return func(o *options) { o.vocabMultiple = k } }

// New builds the forward graph, with dropout off until a Trainer steps
// it; rng draws the dropout masks.
func New(p *Params, B, T int, rng *RNG, opts ...Option) (m *Model, err error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	cfg := p.Config
	if T > cfg.NCtx {
		return nil, fmt.Errorf("graph: sequence length %d exceeds the context %d", T, cfg.NCtx)
	}
	g := G.NewGraph()
	m = &Model{Params: p, Graph: g, B: B, T: T, mode: &kernels.Mode{}, nodes: map[string]*G.Node{}, rng: rng, grads: o.grads,
		at: "the embeddings"}
	defer func() { // G.Must panics on a shape bug; report it with the layer
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("graph: building the model, at %s: %v", m.at, r)
		}
	}()
	for _, w := range p.List {
		t := tensor.New(tensor.WithShape(w.Shape...), tensor.WithBacking(w.Data))
		m.nodes[w.Name] = G.NewTensor(g, tensor.Float32, len(w.Shape), G.WithShape(w.Shape...), G.WithName(w.Name), G.WithValue(t))
	}
	m.Idx = G.NewMatrix(g, tensor.Int32, G.WithShape(B, T), G.WithName("idx"),
		G.WithValue(tensor.New(tensor.WithShape(B, T), tensor.WithBacking(make([]int32, B*T)))))
	m.Hidden = m.forward()
	wte, _ := EmbeddingNames(cfg.Arch)
	head := m.nodes[wte]
	m.Vocab = head.Shape()[0]
	if k := o.vocabMultiple; k > 1 && m.Vocab%k != 0 {
		head = G.Must(kernels.PadRows(head, (m.Vocab+k-1)/k*k))
	}
	m.lmHead = head
	m.Logits = G.Must(kernels.LinearT(m.Hidden, head, nil)) // (B*T, V or Vp), tied to wte
	m.m = NewMachine(g)
	m.m.acts, m.m.forwardOnly = o.acts, o.forwardOnly
	return m, nil
}

// forward returns the final hidden states (B*T, C) for m.Idx.
func (m *Model) forward() *G.Node {
	cfg := m.Params.Config
	wte, wpe := EmbeddingNames(cfg.Arch)
	x := G.Must(kernels.Embedding(m.nodes[wte], m.nodes[wpe], m.Idx)) // (B*T, C)
	x = m.dropout(x)
	for i := 0; i < cfg.NLayer; i++ {
		m.at = fmt.Sprintf("h.%d", i)
		x = m.block(m.at+".", x)
	}
	if cfg.Arch == "gpt2" {
		m.at = "ln_f"
		x = m.layerNorm("ln_f.", x)
	}
	m.at = "the LM head"
	return x
}

// block is post-LN for GPT-1 (normalise after the residual add) and pre-LN
// for GPT-2 (normalise the branch input).
func (m *Model) block(h string, x *G.Node) *G.Node {
	if m.Params.Config.Arch == "gpt1" {
		x = m.layerNorm(h+"ln_1.", add(x, m.attn(h, x)))
		return m.layerNorm(h+"ln_2.", add(x, m.mlp(h, x)))
	}
	x = add(x, m.attn(h, m.layerNorm(h+"ln_1.", x)))
	return add(x, m.mlp(h, m.layerNorm(h+"ln_2.", x)))
}

func (m *Model) attn(h string, x *G.Node) *G.Node {
	cfg := m.Params.Config
	qkv := m.linear(h+"attn.c_attn.", x)                                                 // (B*T, 3C)
	y := G.Must(kernels.Attention(qkv, m.B, m.T, cfg.NHead, cfg.Dropout, m.mode, m.rng)) // (B*T, C)
	return m.dropout(m.linear(h+"attn.c_proj.", y))
}

func (m *Model) mlp(h string, x *G.Node) *G.Node {
	gelu := kernels.GELU
	if m.Params.Config.GELU == "erf" {
		gelu = kernels.GELUErf
	}
	u := G.Must(gelu(m.linear(h+"mlp.c_fc.", x)))  // (B*T, 4C)
	return m.dropout(m.linear(h+"mlp.c_proj.", u)) // (B*T, C)
}

func (m *Model) linear(prefix string, x *G.Node) *G.Node {
	return G.Must(kernels.Linear(x, m.nodes[prefix+"weight"], m.nodes[prefix+"bias"]))
}

func (m *Model) layerNorm(prefix string, x *G.Node) *G.Node {
	return G.Must(kernels.LayerNorm(x, m.nodes[prefix+"weight"], m.nodes[prefix+"bias"], m.Params.Config.LNEps))
}

func (m *Model) dropout(x *G.Node) *G.Node {
	if m.Params.Config.Dropout == 0 {
		return x
	}
	return G.Must(kernels.Dropout(x, m.Params.Config.Dropout, m.mode, m.rng))
}

func add(a, b *G.Node) *G.Node { return G.Must(kernels.Add(a, b)) }

// Node returns the graph node of the weight called name.
func (m *Model) Node(name string) *G.Node { return m.nodes[name] }

// Machine is the executor of this model's graph.
func (m *Model) Machine() *Machine { return m.m }

// NewInt32Input adds an int32 input node of the given shape (targets, labels,
// positions) whose storage the caller fills before each run.
func (m *Model) NewInt32Input(name string, shape ...int) *G.Node {
	n := tensor.Shape(shape).TotalSize()
	return G.NewTensor(m.Graph, tensor.Int32, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]int32, n)))))
}

// NewFloat32Input adds a float32 input node the caller fills before each run.
func (m *Model) NewFloat32Input(name string, shape ...int) *G.Node {
	return G.NewTensor(m.Graph, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(kernels.NewDense(tensor.Shape(shape))))
}

// Int32Data returns the storage of an int32 input node.
func Int32Data(n *G.Node) []int32 { return kernels.Int32s(n.Value()) }

// Float32Data returns the storage of a float32 input node.
func Float32Data(n *G.Node) []float32 { return kernels.Floats(n.Value()) }
