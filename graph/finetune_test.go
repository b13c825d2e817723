package graph

// Reference test of the finetuning graph in the style of llm.c's test_gpt2:
// for a tiny model the task losses (classification, similarity as
// regression and as classification, multiple choice) and every gradient
// are checked against an independent composition. The head (gather, sum of
// the two orders, Linear, softmax or squared error) is recomputed in float64
// from the plain model's hidden states; the body's gradients come from a
// plain model whose loss is sum(Hidden * dL2/dHidden) + lambda*L1, built
// without any of the new ops.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

type headCase struct {
	name   string
	head   HeadConfig
	E      int
	labels []int32   // Classify, Choose (-1 = padding example)
	scores []float32 // Regress (NaN = padding example)
	opts   []int     // Choose: options of each example, fewer than Rows where the mask drops the rest; nil = Rows each
}

func TestTaskLossMatchesReference(t *testing.T) {
	nan := float32(math.NaN())
	cases := []headCase{
		{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1}, 3, []int32{2, 0, -1}, nil, nil},
		{"similarity_regression", HeadConfig{Objective: Regress, Rows: 2}, 3, nil, []float32{4.5, nan, 0.5}, nil},
		{"similarity_classification", HeadConfig{Objective: Classify, Classes: 2, Rows: 2}, 2, []int32{1, 0}, nil, nil},
		{"multiple_choice", HeadConfig{Objective: Choose, Rows: 3}, 2, []int32{2, 1}, nil, nil},
		{"multiple_choice_fewer_options", HeadConfig{Objective: Choose, Rows: 4}, 4, []int32{1, 2, 0, -1}, nil, []int{2, 4, 3, 4}},
	}
	for _, c := range cases {
		for _, lambda := range []float32{0, 0.5, 1} {
			c := c
			c.head.Lambda = lambda
			t.Run(fmt.Sprintf("%s/lambda=%g", c.name, lambda), func(t *testing.T) { checkTaskCase(t, c) })
		}
	}
}

const refT = 9

func tinyTaskParams(t *testing.T, outputs int) (*Params, int) {
	t.Helper()
	cfg := Config{Arch: "gpt1", VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5}
	p, err := NewParams(cfg, kernels.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.AddTokens(3, kernels.NewRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddHead(outputs, kernels.NewRNG(7)); err != nil {
		t.Fatal(err)
	}
	return p, first
}

// fillTask writes sequences <s> tokens.. [$ tokens..] <e> of varied length,
// right-padded, their next-token targets and the <e> positions.
func fillTask(task *Task, first int, c headCase) {
	R, T := task.B, task.T
	idx := Int32Data(task.Idx)
	extract := Int32Data(task.Extract)
	for r := 0; r < R; r++ {
		n := 4 + (r*3)%(T-4) // tokens before padding, <e> included
		for i := 0; i < T; i++ {
			switch {
			case i == 0:
				idx[r*T] = int32(first)
			case i == n-1:
				idx[r*T+i] = int32(first + 2)
			case i == 2 && c.head.Rows == 2:
				idx[r*T+i] = int32(first + 1)
			case i < n:
				idx[r*T+i] = int32((r*11 + i*7) % 29)
			default:
				idx[r*T+i] = 0
			}
		}
		extract[r] = int32(r*T + n - 1)
		if task.LMTargets != nil {
			tg := Int32Data(task.LMTargets)
			for i := 0; i < T; i++ {
				tg[r*T+i] = -1
				if i+1 < n {
					tg[r*T+i] = idx[r*T+i+1]
				}
			}
		}
	}
	if c.head.Objective == Regress {
		copy(Float32Data(task.Labels), c.scores)
		return
	}
	copy(Int32Data(task.Labels), c.labels)
	for e, n := range c.opts { // slots past an example's options: nothing to read, masked scores
		for j := n; j < c.head.Rows; j++ {
			r := e*c.head.Rows + j
			extract[r] = -1
			Float32Data(task.OptionMask)[r] = AbsentOption
			if task.LMTargets != nil {
				for i := range T {
					Int32Data(task.LMTargets)[r*T+i] = -1
				}
			}
		}
	}
	for e, l := range c.labels { // a padding example has no rows to read
		if l < 0 && c.head.Objective != Choose {
			for j := 0; j < c.head.Rows; j++ {
				extract[e*c.head.Rows+j] = -1
			}
		}
	}
}

func checkTaskCase(t *testing.T, c headCase) {
	p, first := tinyTaskParams(t, c.head.Outputs())
	task, err := NewTask(p, c.head, c.E, refT, kernels.NewRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	extra := []*G.Node{task.TaskLoss, task.Hidden}
	if task.LMLoss != nil {
		extra = append(extra, task.LMLoss)
	}
	tr, err := task.Differentiate(task.Loss, extra...)
	if err != nil {
		t.Fatal(err)
	}
	fillTask(task, first, c)
	loss, err := tr.Step()
	if err != nil {
		t.Fatal(err)
	}
	ref := referenceHead(c, task, tr.Value(task.Hidden))
	l2 := float64(tr.Value(task.TaskLoss)[0])
	checkClose(t, "L2", []float32{float32(l2)}, []float64{ref.loss}, 1e-5)
	if c.head.Lambda == 0 {
		if task.LMLoss != nil || loss != float32(l2) {
			t.Fatalf("lambda 0: loss %v, L2 %v, LM loss node %v; want the loss to be L2 alone", loss, l2, task.LMLoss)
		}
	} else {
		l1 := float64(tr.Value(task.LMLoss)[0])
		checkClose(t, "L3", []float32{loss}, []float64{l2 + float64(c.head.Lambda)*l1}, 1e-5)
	}
	body := referenceBody(t, p, task, ref.dHidden, c.head.Lambda)
	for i, w := range p.List {
		want := body[w.Name]
		switch w.Name {
		case HeadWeight:
			want = ref.dW
		case HeadBias:
			want = ref.db
		}
		checkClose(t, "d"+w.Name, tr.Grad(i), want, 2e-4)
	}
}

func checkClose(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	maxDiff, maxRef := 0.0, 0.0
	for i := range got {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-want[i]))
		maxRef = math.Max(maxRef, math.Abs(want[i]))
	}
	if maxDiff > tol*math.Max(1, maxRef) {
		t.Errorf("%s: maxdiff %.3g (largest reference value %.3g)", name, maxDiff, maxRef)
	} else if testing.Verbose() {
		t.Logf("%-28s maxdiff %.2e (largest reference value %.2e)", name, maxDiff, maxRef)
	}
}

func TestAddTokensAndHead(t *testing.T) {
	cfg := Config{Arch: "gpt2", VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 1, LNEps: 1e-5}
	p, err := NewParams(cfg, kernels.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	wte, wpe := p.Get("wte.weight"), p.Get("wpe.weight")
	old := append([]float32(nil), wte.Data...)
	first, err := p.AddTokens(3, kernels.NewRNG(6))
	if err != nil || first != 29 || p.Config.VocabSize != 32 || wte.Shape[0] != 32 || wpe.Shape[0] != 12 {
		t.Fatalf("AddTokens: first %d, vocab %d, wte %v, wpe %v, %v", first, p.Config.VocabSize, wte.Shape, wpe.Shape, err)
	}
	var sq float64
	for i, v := range wte.Data {
		if i < len(old) && v != old[i] {
			t.Fatalf("pretrained embedding %d changed", i)
		}
		if i >= len(old) {
			sq += float64(v) * float64(v)
		}
	}
	if std := math.Sqrt(sq / float64(3*24)); std < 0.01 || std > 0.03 {
		t.Errorf("new rows have std %.4f, want about 0.02", std)
	}
	if err := p.AddHead(2, kernels.NewRNG(7)); err != nil || p.HeadOutputs() != 2 || p.AddHead(2, nil) == nil {
		t.Fatalf("AddHead: outputs %d, %v", p.HeadOutputs(), err)
	}
	if _, err := NewTask(p, HeadConfig{Objective: Regress, Rows: 2}, 2, 8, kernels.NewRNG(8)); err == nil {
		t.Error("a 2-output head built a regression task")
	}
}

// Models of one Params built with SharedGrads keep the weights' gradients
// (and the packed backward outputs that hold them) in one set of buffers
// when the longest is built first, as a finetune builds its graph for each
// padded length; each step's gradients are bit for bit those of a model
// with buffers of its own, whichever model stepped before.
func TestSharedGradsAcrossLengths(t *testing.T) {
	c := headCase{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1, Lambda: 0.5}, 3, []int32{2, 0, 1}, nil, nil}
	p, first := tinyTaskParams(t, c.head.Outputs())
	shared := NewGradBuffers()
	build := func(T int, opts ...Option) *Trainer {
		task, err := NewTask(p, c.head, c.E, T, kernels.NewRNG(8), opts...)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := task.Differentiate(task.Loss)
		if err != nil {
			t.Fatal(err)
		}
		fillTask(task, first, c)
		return tr
	}
	poolSize := func() (n int) {
		for _, b := range shared.bufs {
			n += len(b)
		}
		return n
	}
	long := build(9, SharedGrads(shared))
	size := poolSize()
	short := build(6, SharedGrads(shared))
	if poolSize() != size {
		t.Errorf("the shared buffers grew from %d to %d floats for the shorter model", size, poolSize())
	}
	longOwn, shortOwn := build(9), build(6)
	for k, pair := range [][2]*Trainer{{short, shortOwn}, {long, longOwn}, {short, shortOwn}} {
		for _, tr := range pair {
			if _, err := tr.Step(); err != nil {
				t.Fatal(err)
			}
		}
		for i, w := range p.List {
			if !slices.Equal(pair[0].Grad(i), pair[1].Grad(i)) {
				t.Fatalf("step %d: the gradient of %s in shared buffers differs from the model's own", k, w.Name)
			}
		}
	}
	// Machine.own counts no shared buffer: the short model's own floats go
	// down by what it takes from them.
	n := 0
	for _, w := range p.List {
		n += len(w.Data)
	}
	ownShared, _ := short.Model.m.Floats()
	ownAlone, _ := shortOwn.Model.m.Floats()
	if ownAlone-ownShared < n {
		t.Errorf("the short model holds %d floats of its own with shared gradients, %d alone: want at least the %d of the weights' gradients fewer", ownShared, ownAlone, n)
	}
}

// TestTaskLMLossOnItsOwn: a forward-only program of L1, run directly (not
// through a Trainer), computes the same L1 as a training step: every
// program compiled through the Model packs the LM rows before it runs,
// also after LMTargets change.
func TestTaskLMLossOnItsOwn(t *testing.T) {
	c := headCase{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1, Lambda: 0.5}, 3, []int32{2, 0, -1}, nil, nil}
	p, first := tinyTaskParams(t, c.head.Outputs())
	task, err := NewTask(p, c.head, c.E, refT, kernels.NewRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	fillTask(task, first, c)
	tr, err := task.Differentiate(task.Loss, task.LMLoss)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := task.Forward(task.LMLoss)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if _, err := tr.Eval(); err != nil {
			t.Fatal(err)
		}
		want := tr.Value(task.LMLoss)[0]
		Int32Data(task.LMTargets)[0] = int32(5 + 2*round) // a change the next run must see
		if err := fwd.Run(); err != nil {
			t.Fatal(err)
		}
		got := tr.Value(task.LMLoss)[0]
		if _, err := tr.Eval(); err != nil {
			t.Fatal(err)
		}
		if again := tr.Value(task.LMLoss)[0]; got != again || got == want || want == 0 {
			t.Errorf("round %d: L1 %v by the forward program, %v by Eval after the same change, %v before it", round, got, again, want)
		}
	}
}

// TestSharedActivationsAcrossLengths: task models of one Params that share
// their activations and gradients (a finetune's graph for each padded
// length), run in any order, train and predict exactly as models with
// buffers of their own; an output stays intact when another model runs
// (also one a program named after the training program had put it in the
// shared buffers); a shorter model built after a longer one takes no new
// memory, and the two together take little more than the longer alone
// (its weights' gradients included: the pair shares one set).
func TestSharedActivationsAcrossLengths(t *testing.T) {
	c := headCase{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1, Lambda: 0.5}, 3, []int32{2, 0, 1}, nil, nil}
	p, first := tinyTaskParams(t, c.head.Outputs())
	p.Config.Dropout = 0.1 // the attention's scratch holds its mask's probabilities
	build := func(T int, trainerFirst bool, opts ...Option) *taskModel {
		return buildTaskModel(t, p, c, first, T, trainerFirst, opts...)
	}
	acts, grads := NewActivationBuffers(), NewGradBuffers()
	shared := func(T int, trainerFirst bool) *taskModel {
		return build(T, trainerFirst, SharedActivations(acts), SharedGrads(grads))
	}
	long := shared(9, false)
	size := acts.Floats()
	short := shared(6, false)
	if acts.Floats() != size {
		t.Errorf("the shared activations grew from %d to %d floats for the shorter model", size, acts.Floats())
	}
	floats := func(ms ...*taskModel) (n int) {
		for _, m := range ms {
			own, arena := m.task.Model.m.Floats()
			n += own + arena
		}
		return n
	}
	pair := floats(long, short) + acts.Floats()
	for _, b := range grads.bufs {
		pair += len(b)
	}
	other := shared(7, true) // Out was shared in the training program's plan, then named by the prediction's
	own := []*taskModel{build(9, false), build(6, false), build(7, true)}
	// Beyond the longer alone, the pair holds the shorter's outputs: 780
	// floats, where not sharing the attention's scratch adds 1,233 more and
	// the gradient arena 3,504.
	if alone := floats(own[0]); float64(pair) > 1.02*float64(alone) {
		t.Errorf("models of 9 and 6 tokens sharing their activations take %d floats, the one of 9 alone %d", pair, alone)
	}
	value := func(m *taskModel, n *G.Node) []float32 { return slices.Clone(kernels.Floats(m.task.Model.m.Value(n))) }
	for k, i := range []int{1, 0, 2, 0, 1, 2, 2, 1} {
		pair := [2]*taskModel{[]*taskModel{long, short, other}[i], own[i]}
		var outs [2][][]float32
		for j, m := range pair {
			if k%2 == 0 {
				if _, err := m.tr.Step(); err != nil {
					t.Fatal(err)
				}
				for w := range p.List {
					outs[j] = append(outs[j], slices.Clone(m.tr.Grad(w)))
				}
				outs[j] = append(outs[j], value(m, m.task.Loss), value(m, m.task.TaskLoss), value(m, m.task.LMLoss))
			} else {
				if err := m.task.Run(m.pred); err != nil {
					t.Fatal(err)
				}
				outs[j] = append(outs[j], value(m, m.task.Out))
			}
		}
		for o := range outs[0] {
			if !slices.Equal(outs[0][o], outs[1][o]) {
				t.Fatalf("run %d (model of %d tokens): output %d with shared buffers %v, with its own %v", k, pair[0].task.T, o, outs[0][o], outs[1][o])
			}
		}
	}
	for _, m := range []*taskModel{other, long} { // Out, read after another model's run
		if err := m.task.Run(m.pred); err != nil {
			t.Fatal(err)
		}
		want := value(m, m.task.Out)
		if _, err := short.tr.Step(); err != nil {
			t.Fatal(err)
		}
		if got := value(m, m.task.Out); !slices.Equal(got, want) {
			t.Errorf("the model of %d tokens: its output was %v, %v after another model ran", m.task.T, want, got)
		}
	}
}

// TestSharedActivationsKeepGradients: models that share their activations
// but not their gradients keep each gradient, the tied embedding's sum of
// two included, in a buffer of its own, intact when another model runs.
func TestSharedActivationsKeepGradients(t *testing.T) {
	c := headCase{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1, Lambda: 0.5}, 3, []int32{2, 0, 1}, nil, nil}
	p, first := tinyTaskParams(t, c.head.Outputs())
	acts := NewActivationBuffers()
	var trs []*Trainer
	for _, T := range []int{9, 6} {
		task, err := NewTask(p, c.head, c.E, T, kernels.NewRNG(1), SharedActivations(acts))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := task.Differentiate(task.Loss)
		if err != nil {
			t.Fatal(err)
		}
		fillTask(task, first, c)
		trs = append(trs, tr)
	}
	if _, err := trs[0].Step(); err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	for i := range p.List {
		want = append(want, slices.Clone(trs[0].Grad(i)))
	}
	if _, err := trs[1].Step(); err != nil {
		t.Fatal(err)
	}
	for i, w := range p.List {
		if !slices.Equal(trs[0].Grad(i), want[i]) {
			t.Errorf("the gradient of %s changed when another model ran", w.Name)
		}
	}
}

// TestSharedActivationsRandomOrders: for every head, with and without the
// LM loss and dropout, task models of five lengths sharing activations and
// gradients are built in a random order (a shorter one first makes the
// buffers grow; some compile training before prediction) and run in a
// random order, weights changing between steps: every step's gradients and
// losses and every prediction equal, bit for bit, those of twins with
// buffers of their own, and an output read after another model ran is
// unchanged.
func TestSharedActivationsRandomOrders(t *testing.T) {
	cases := []headCase{
		{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1}, 3, []int32{2, 0, -1}, nil, nil},
		{"similarity_regression", HeadConfig{Objective: Regress, Rows: 2}, 3, nil, []float32{4.5, 1, 0.5}, nil},
		{"similarity_classification", HeadConfig{Objective: Classify, Classes: 2, Rows: 2}, 2, []int32{1, 0}, nil, nil},
		{"multiple_choice", HeadConfig{Objective: Choose, Rows: 3}, 2, []int32{2, 1}, nil, nil},
		{"multiple_choice_fewer_options", HeadConfig{Objective: Choose, Rows: 4}, 4, []int32{1, 2, 0, -1}, nil, []int{2, 4, 3, 4}},
	}
	for _, c := range cases {
		for _, lambda := range []float32{0, 0.5} {
			for _, drop := range []float32{0, 0.1} {
				for seed := range uint64(2) {
					c := c
					c.head.Lambda, c.head.Dropout = lambda, drop
					t.Run(fmt.Sprintf("%s/lambda=%g/dropout=%g/seed=%d", c.name, lambda, drop, seed), func(t *testing.T) {
						checkSharedRandomOrder(t, c, drop, seed)
					})
				}
			}
		}
	}
}

func checkSharedRandomOrder(t *testing.T, c headCase, drop float32, seed uint64) {
	p, first := tinyTaskParams(t, c.head.Outputs())
	p.Config.Dropout = drop
	rng := rand.New(rand.NewPCG(seed, 1))
	build := func(T int, trainerFirst bool, opts ...Option) *taskModel {
		return buildTaskModel(t, p, c, first, T, trainerFirst, opts...)
	}
	lens := []int{12, 6, 9, 7, 8}
	rng.Shuffle(len(lens), func(i, j int) { lens[i], lens[j] = lens[j], lens[i] })
	acts, grads := NewActivationBuffers(), NewGradBuffers()
	var shared, own []*taskModel
	for _, T := range lens {
		trainerFirst := rng.IntN(3) == 0
		shared = append(shared, build(T, trainerFirst, SharedActivations(acts), SharedGrads(grads)))
		own = append(own, build(T, trainerFirst))
	}
	// run trains (or predicts with) the model i of a set and returns its outputs.
	run := func(set []*taskModel, i int, train bool) [][]float32 {
		m := set[i]
		value := func(n *G.Node) []float32 { return slices.Clone(kernels.Floats(m.task.Model.m.Value(n))) }
		if !train {
			if err := m.task.Run(m.pred); err != nil {
				t.Fatal(err)
			}
			return [][]float32{value(m.task.Out)}
		}
		if _, err := m.tr.Step(); err != nil {
			t.Fatal(err)
		}
		var outs [][]float32
		for w := range p.List {
			outs = append(outs, slices.Clone(m.tr.Grad(w)))
		}
		return append(outs, value(m.task.Loss), value(m.task.TaskLoss))
	}
	same := func(a, b []float32) bool {
		return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
	}
	for k := range 30 {
		i, train := rng.IntN(len(lens)), rng.IntN(2) == 0
		got, want := run(shared, i, train), run(own, i, train)
		for o := range got {
			if !same(got[o], want[o]) {
				t.Fatalf("run %d (%d tokens, training %v): output %d with shared buffers %v, with its own %v", k, lens[i], train, o, got[o], want[o])
			}
		}
		kept := got[len(got)-1] // Out, or TaskLoss
		if j := rng.IntN(len(lens)); j != i {
			other := rng.IntN(2) == 0
			run(shared, j, other)
			run(own, j, other)
			again := kernels.Floats(shared[i].task.Model.m.Value(shared[i].task.Out))
			if train {
				again = shared[i].tr.Value(shared[i].task.TaskLoss)
			}
			if !same(again, kept) {
				t.Fatalf("run %d: the output of the model of %d tokens changed when the one of %d ran", k, lens[i], lens[j])
			}
		}
		if train && k%3 == 0 { // a step of the weights, the same for both sets
			for w := range p.List {
				if g := own[i].tr.Grad(w); g != nil {
					for x, v := range g {
						p.List[w].Data[x] -= 0.01 * max(-1, min(1, v))
					}
				}
			}
		}
	}
}

// Task models built ForwardOnly, sharing their activations as a CPU
// predictor's do, predict what models built for training predict, bit for
// bit, for every head, run in turns.
func TestForwardOnlyTasks(t *testing.T) {
	cases := []headCase{
		{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1, Lambda: 0.5}, 3, []int32{2, 0, -1}, nil, nil},
		{"similarity_regression", HeadConfig{Objective: Regress, Rows: 2}, 3, nil, []float32{4.5, 1, 0.5}, nil},
		{"multiple_choice_fewer_options", HeadConfig{Objective: Choose, Rows: 4, Lambda: 0.5}, 4, []int32{1, 2, 0, -1}, nil, []int{2, 4, 3, 4}},
	}
	for _, c := range cases {
		p, first := tinyTaskParams(t, c.head.Outputs())
		p.Config.Dropout = 0.1
		acts := NewActivationBuffers()
		build := func(T int, opts ...Option) (*Task, *Program) {
			task, err := NewTask(p, c.head, c.E, T, kernels.NewRNG(1), opts...)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := task.Forward(task.Out)
			if err != nil {
				t.Fatal(err)
			}
			fillTask(task, first, c)
			return task, prog
		}
		type pair struct {
			fwd, full         *Task
			fwdProg, fullProg *Program
		}
		var pairs []pair
		for _, T := range []int{12, 6, 9} {
			var pr pair
			pr.fwd, pr.fwdProg = build(T, ForwardOnly(), SharedActivations(acts))
			pr.full, pr.fullProg = build(T)
			pairs = append(pairs, pr)
		}
		for k, i := range []int{1, 0, 2, 2, 1, 0} {
			pr := pairs[i]
			var outs [2][]float32
			for j, tp := range []struct {
				task *Task
				prog *Program
			}{{pr.fwd, pr.fwdProg}, {pr.full, pr.fullProg}} {
				if err := tp.task.Run(tp.prog); err != nil {
					t.Fatal(err)
				}
				outs[j] = slices.Clone(kernels.Floats(tp.task.Machine().Value(tp.task.Out)))
			}
			if !slices.Equal(outs[0], outs[1]) {
				t.Fatalf("%s, run %d (%d tokens): forward-only %v, built for training %v", c.name, k, pr.fwd.T, outs[0], outs[1])
			}
		}
	}
}

// taskModel is a task model with its training and prediction programs.
type taskModel struct {
	task *Task
	tr   *Trainer
	pred *Program
}

// buildTaskModel builds the task model of c over p for sequences of T
// tokens, filled by fillTask, and compiles its programs: the prediction of
// its outputs first, or its training step (with L2 and, if any, L1).
func buildTaskModel(t *testing.T, p *Params, c headCase, first, T int, trainerFirst bool, opts ...Option) *taskModel {
	t.Helper()
	task, err := NewTask(p, c.head, c.E, T, kernels.NewRNG(uint64(T)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	m := &taskModel{task: task}
	extra := []*G.Node{task.TaskLoss}
	if task.LMLoss != nil {
		extra = append(extra, task.LMLoss)
	}
	compile := []func() error{
		func() (err error) { m.pred, err = task.Forward(task.Out); return err },
		func() (err error) { m.tr, err = task.Differentiate(task.Loss, extra...); return err },
	}
	if trainerFirst {
		compile[0], compile[1] = compile[1], compile[0]
	}
	for _, f := range compile {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	fillTask(task, first, c)
	return m
}
