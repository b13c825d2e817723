package graph

import (
	"fmt"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

// BenchmarkTrainStep measures forward + backward of a whole model (no
// optimizer) and reports tokens per second.
func BenchmarkTrainStep(b *testing.B) {
	for _, s := range []struct {
		name             string
		L, C, H, T, B, V int
		dropout          float32
	}{
		{"L4-C128-T64-B12-V65", 4, 128, 4, 64, 12, 65, 0},
		{"L6-C384-T128-B8-V256", 6, 384, 6, 128, 8, 256, 0},
		{"L6-C384-T128-B8-V256-dropout0.1", 6, 384, 6, 128, 8, 256, 0.1},
	} {
		b.Run(s.name, func(b *testing.B) {
			cfg := Config{Arch: "gpt1", VocabSize: s.V, NCtx: s.T, NEmbd: s.C, NHead: s.H, NLayer: s.L, LNEps: 1e-5, Dropout: s.dropout}
			p, err := NewParams(cfg, kernels.NewRNG(1))
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(p, s.B, s.T, kernels.NewRNG(2))
			if err != nil {
				b.Fatal(err)
			}
			loss, tg, err := m.LMLoss()
			if err != nil {
				b.Fatal(err)
			}
			tr, err := m.Differentiate(loss)
			if err != nil {
				b.Fatal(err)
			}
			in, tgt := Int32Data(m.Idx), Int32Data(tg)
			for i := range in {
				in[i], tgt[i] = int32(i%s.V), int32((i+1)%s.V)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.B*s.T*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// The machine's shared arena must not change any result: the loss and every
// gradient match a machine that gives each node its own buffer, over several
// steps, and the arena is smaller than the buffers it replaces.
func TestMachineSharing(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		var results [2][][]float32
		var floats [2][2]int
		for i, noShare := range []bool{false, true} {
			cfg := Config{Arch: arch, VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5}
			p, err := NewParams(cfg, kernels.NewRNG(5))
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(p, 2, 10, kernels.NewRNG(6))
			if err != nil {
				t.Fatal(err)
			}
			m.m.noShare = noShare
			loss, tg, err := m.LMLoss()
			if err != nil {
				t.Fatal(err)
			}
			tr, err := m.Differentiate(loss, m.Logits)
			if err != nil {
				t.Fatal(err)
			}
			in, tgt := Int32Data(m.Idx), Int32Data(tg)
			for step := range 3 {
				for j := range in {
					in[j], tgt[j] = int32((j*7+step)%29), int32((j*5+1+step)%29)
				}
				l, err := tr.Step()
				if err != nil {
					t.Fatal(err)
				}
				results[i] = append(results[i], []float32{l}, slices.Clone(tr.Value(m.Logits)))
				for k := range p.List {
					results[i] = append(results[i], slices.Clone(tr.Grad(k)))
				}
				if _, err := tr.Eval(); err != nil { // the eval program runs in between
					t.Fatal(err)
				}
			}
			floats[i][0], floats[i][1] = m.m.Floats()
			if !noShare {
				checkUnshare(t, m, tr, results[i][len(results[i])-len(p.List):])
			}
		}
		for j := range results[0] {
			for k := range results[0][j] {
				if results[0][j][k] != results[1][j][k] {
					t.Fatalf("%s: result %d element %d: shared %v, own buffers %v", arch, j, k, results[0][j][k], results[1][j][k])
				}
			}
		}
		t.Logf("%s: buffers %d floats own + %d shared, against %d without sharing", arch, floats[0][0], floats[0][1], floats[1][0])
		if floats[0][1] == 0 || floats[0][0]+floats[0][1] >= floats[1][0] {
			t.Errorf("%s: sharing saved nothing: %v against %v", arch, floats[0], floats[1])
		}
	}
}

// checkUnshare compiles a second program over the shared gradient
// intermediates: they move to buffers of their own, and both programs still
// give the last step's gradients. A program over a shared output fails.
func checkUnshare(t *testing.T, m *Model, tr *Trainer, last [][]float32) {
	t.Helper()
	var inner []*G.Node
	var out *G.Node
	for _, st := range m.m.plan {
		if st.shared != nil && st.stays {
			out = st.node
		} else if st.shared != nil {
			inner = append(inner, st.node)
		}
	}
	if out == nil || len(inner) == 0 {
		t.Fatalf("no shared nodes to check (outputs %v, intermediates %d)", out, len(inner))
	}
	if _, err := m.m.Compile(out); err == nil {
		t.Errorf("a program over the shared output %s compiled", out.Name())
	}
	q, err := m.m.Compile(inner...)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func() error{q.Run, func() error { _, err := tr.Step(); return err }} {
		if err := run(); err != nil {
			t.Fatal(err)
		}
		for k := range last {
			if !slices.Equal(tr.Grad(k), last[k]) {
				t.Fatalf("after a second program, the gradient of %s changed", m.Params.List[k].Name)
			}
		}
	}
}

// BenchmarkSampling measures the cost of one sampled token with a full
// window behind it: the decoder's single-token step against the cache (what
// gptctl generate does) beside a forward of the whole window through the
// graph (what it would cost without the cache), and eight sequences'
// tokens a step through a decoder of eight slots. Metric: tokens per second.
func BenchmarkSampling(b *testing.B) {
	cfg := Config{Arch: "gpt2", VocabSize: 8192, NCtx: 512, NEmbd: 384, NHead: 6, NLayer: 6, LNEps: 1e-5}
	p, err := NewParams(cfg, kernels.NewRNG(1))
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, cfg.NCtx)
	for i := range ids {
		ids[i] = i * 7 % cfg.VocabSize
	}
	b.Run("decoder", func(b *testing.B) {
		d, err := NewDecoder(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Append(0, ids[:cfg.NCtx-1]); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			d.slots[0].n = cfg.NCtx - 1 // the last position, again and again
			if _, err := d.Append(0, ids[cfg.NCtx-1:]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run("decoder-8-slots", func(b *testing.B) { // eight sequences a step, as generate --batch-size 8 runs them
		const n = 8
		d, err := NewDecoderSlots(p, n)
		if err != nil {
			b.Fatal(err)
		}
		slots, prompts, next := make([]int, n), make([][]int, n), make([][]int, n)
		for i := range n {
			slots[i], prompts[i], next[i] = i, ids[:cfg.NCtx-1], ids[cfg.NCtx-1:]
		}
		if _, err := d.Feed(slots, prompts); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			for i := range n {
				d.slots[i].n = cfg.NCtx - 1
			}
			if _, err := d.Feed(slots, next); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run("graph-window", func(b *testing.B) {
		m, err := New(p, 1, cfg.NCtx, kernels.NewRNG(0))
		if err != nil {
			b.Fatal(err)
		}
		prog, err := m.Forward(m.Logits)
		if err != nil {
			b.Fatal(err)
		}
		for i, id := range ids {
			Int32Data(m.Idx)[i] = int32(id)
		}
		for b.Loop() {
			if err := m.Run(prog); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	})
}

// BenchmarkTaskStep measures forward + backward of a finetuning step at the
// tasks' model shape (4 layers, C=128, a 2,048-token BPE with the three
// task tokens, head dropout 0.1): a classification batch of 32 sequences of
// 24 tokens (SST-2's size), a similarity batch of 16 pairs in both orders,
// and a multiple-choice batch of 8 examples of 2 options 64 tokens long
// (Story Cloze's), each with lambda 0 and 0.5; and the classification batch
// with GPT-2's vocabulary of 50,257, where the LM head is most of the work.
// Rows hold 3/4 of T tokens before their padding, as a length-bucketed
// batch does. It reports sequence tokens (padding included) per second.
func BenchmarkTaskStep(b *testing.B) {
	for _, s := range []struct {
		name  string
		head  HeadConfig
		E, T  int
		vocab int
	}{
		{"classify-E32-T24", HeadConfig{Objective: Classify, Classes: 2, Rows: 1}, 32, 24, 2048},
		{"similarity-E16-T48", HeadConfig{Objective: Regress, Rows: 2}, 16, 48, 2048},
		{"choose-E8x2-T64", HeadConfig{Objective: Choose, Rows: 2}, 8, 64, 2048},
		{"classify-E32-T24-V50257", HeadConfig{Objective: Classify, Classes: 2, Rows: 1}, 32, 24, 50257},
	} {
		for _, lambda := range []float32{0, 0.5} {
			b.Run(fmt.Sprintf("%s-lambda%g", s.name, lambda), func(b *testing.B) {
				cfg := Config{Arch: "gpt1", VocabSize: s.vocab, NCtx: 128, NEmbd: 128, NHead: 4, NLayer: 4, LNEps: 1e-5, Dropout: 0.1}
				p, err := NewParams(cfg, kernels.NewRNG(1))
				if err != nil {
					b.Fatal(err)
				}
				first, err := p.AddTokens(3, kernels.NewRNG(2))
				if err != nil {
					b.Fatal(err)
				}
				head := s.head
				head.Lambda, head.Dropout = lambda, 0.1
				if err := p.AddHead(head.Outputs(), kernels.NewRNG(3)); err != nil {
					b.Fatal(err)
				}
				task, err := NewTask(p, head, s.E, s.T, kernels.NewRNG(4))
				if err != nil {
					b.Fatal(err)
				}
				tr, err := task.Differentiate(task.Loss)
				if err != nil {
					b.Fatal(err)
				}
				rows, n := s.E*head.Rows, s.T*3/4
				idx, ext := Int32Data(task.Idx), Int32Data(task.Extract)
				for r := range rows {
					for i := range n {
						idx[r*s.T+i] = int32((r*131 + i*17) % first)
					}
					idx[r*s.T], idx[r*s.T+n-1] = int32(first), int32(first+2)
					ext[r] = int32(r*s.T + n - 1)
				}
				if task.LMTargets != nil {
					tg := Int32Data(task.LMTargets)
					for r := range rows {
						for i := range s.T {
							tg[r*s.T+i] = -1
							if i+1 < n {
								tg[r*s.T+i] = idx[r*s.T+i+1]
							}
						}
					}
				}
				if head.Objective == Regress {
					for e := range s.E {
						Float32Data(task.Labels)[e] = float32(e % 5)
					}
				} else {
					for e := range s.E {
						Int32Data(task.Labels)[e] = int32(e % 2)
					}
				}
				for b.Loop() {
					if _, err := tr.Step(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows*s.T*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

// A loss's softmax probabilities take its logits' place where nothing
// reads the logits after it: training gives the same loss and gradients,
// bit for bit, as a machine that gives each its own buffer, over steps
// with evaluations between, in B*T*V fewer floats. A program compiled
// later that keeps the logits (an output) gives the probabilities a buffer
// of their own again, and both programs stay right.
func TestSoftmaxOverLogits(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		const B, T, V = 2, 10, 29
		type machine struct {
			m      *Model
			tr     *Trainer
			in, tg []int32
		}
		build := func(noShare bool) machine {
			p, err := NewParams(Config{Arch: arch, VocabSize: V, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5}, kernels.NewRNG(5))
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(p, B, T, kernels.NewRNG(6))
			if err != nil {
				t.Fatal(err)
			}
			m.m.noShare = noShare
			loss, tg, err := m.LMLoss()
			if err != nil {
				t.Fatal(err)
			}
			tr, err := m.Differentiate(loss)
			if err != nil {
				t.Fatal(err)
			}
			return machine{m, tr, Int32Data(m.Idx), Int32Data(tg)}
		}
		over, own := build(false), build(true)
		if len(over.m.m.inPlace) != 1 {
			t.Fatalf("%s: %d ops keep their scratch over their input, want the loss's", arch, len(over.m.m.inPlace))
		}
		ownFloats := func(mc machine) int { n, _ := mc.m.m.Floats(); return n }
		noShareOwn, _ := own.m.m.Floats()
		if got := ownFloats(over); got > noShareOwn-B*T*V {
			t.Errorf("%s: %d floats of the machine's own, %d with the probabilities apart: want %d fewer", arch, got, noShareOwn, B*T*V)
		}
		run := func(step int, logits *Program) [][]float32 {
			var outs [2][][]float32
			for i, mc := range []machine{over, own} {
				for j := range mc.in {
					mc.in[j], mc.tg[j] = int32((j*7+step)%V), int32((j*5+1+step)%V)
				}
				l, err := mc.tr.Step()
				if err != nil {
					t.Fatal(err)
				}
				outs[i] = append(outs[i], []float32{l})
				for k := range mc.m.Params.List {
					outs[i] = append(outs[i], slices.Clone(mc.tr.Grad(k)))
				}
				if _, err := mc.tr.Eval(); err != nil {
					t.Fatal(err)
				}
				if logits != nil && i == 0 {
					if err := mc.m.Run(logits); err != nil {
						t.Fatal(err)
					}
					outs[i] = append(outs[i], slices.Clone(mc.tr.Value(mc.m.Logits)))
				}
			}
			if logits != nil { // the own machine's logits, after its step
				if _, err := own.tr.Step(); err != nil {
					t.Fatal(err)
				}
				outs[1] = append(outs[1], slices.Clone(own.tr.Value(own.m.Logits)))
			}
			for k := range outs[0] {
				if !slices.Equal(outs[0][k], outs[1][k]) {
					t.Fatalf("%s, step %d: result %d %v, with the probabilities apart %v", arch, step, k, outs[0][k], outs[1][k])
				}
			}
			return outs[0]
		}
		for step := range 3 {
			run(step, nil)
		}
		logits, err := over.m.Forward(over.m.Logits)
		if err != nil {
			t.Fatal(err)
		}
		if len(over.m.m.inPlace) != 0 {
			t.Errorf("%s: with the logits an output, %d ops keep their scratch over them", arch, len(over.m.m.inPlace))
		}
		for step := 3; step < 5; step++ {
			run(step, logits)
		}
	}
}

// An output of a program compiled before the loss's keeps its values when
// the loss runs: the probabilities do not take the place of logits that
// another program keeps (a finetune compiles its predictions first).
func TestSoftmaxSparesKeptLogits(t *testing.T) {
	p, err := NewParams(Config{Arch: "gpt1", VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5}, kernels.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, 2, 10, kernels.NewRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	loss, tg, err := m.LMLoss()
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Forward(m.Logits)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := m.Differentiate(loss)
	if err != nil {
		t.Fatal(err)
	}
	fillTokens(Int32Data(m.Idx), Int32Data(tg))
	if err := m.Run(logits); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(tr.Value(m.Logits))
	if _, err := tr.Step(); err != nil { // the same weights and inputs: the same logits
		t.Fatal(err)
	}
	if got := tr.Value(m.Logits); !slices.Equal(got, want) || len(m.m.inPlace) != 0 {
		t.Errorf("the logits program's output after a training step: %v, want %v (%d ops over their inputs)", got[:4], want[:4], len(m.m.inPlace))
	}
}

// The logits' gradient takes the place of the loss's probabilities, which
// are over the logits: training gives the same loss and gradients, bit for
// bit, as a machine that gives each its own buffer. When a later program keeps the logits the
// gradient follows the probabilities to their own buffer, and when one
// keeps the gradient (an output) it gets a buffer of its own, which a
// forward pass leaves intact.
func TestLogitsGradOverProbabilities(t *testing.T) {
	over, trOver, in, tg := lossTrainer(t, "gpt1", false)
	fillTokens(in, tg)
	_, trOwn, in, tg := lossTrainer(t, "gpt1", true)
	fillTokens(in, tg)
	mc := over.m
	if len(mc.overScratch) != 1 {
		t.Fatalf("%d gradients over their forward op's scratch, want the logits'", len(mc.overScratch))
	}
	var grad *step
	for st := range mc.overScratch {
		grad = st
	}
	logits := mc.plan[mc.slots[over.Logits]]
	if &grad.out[0] != &logits.out[0] {
		t.Fatal("the logits' gradient is not in the logits' buffer")
	}
	same := func(what string) {
		t.Helper()
		a, err := trOver.Step()
		if err != nil {
			t.Fatal(err)
		}
		b, err := trOwn.Step()
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("%s: loss %v, with buffers apart %v", what, a, b)
		}
		for k := range over.Params.List {
			if !slices.Equal(trOver.Grad(k), trOwn.Grad(k)) {
				t.Fatalf("%s: gradient %d differs from the one with buffers apart", what, k)
			}
		}
	}
	same("over the logits")
	if _, err := over.Forward(over.Logits); err != nil {
		t.Fatal(err)
	}
	if len(mc.overScratch) != 1 || &grad.out[0] == &logits.out[0] {
		t.Fatal("with the logits kept, the gradient is still in their buffer")
	}
	same("with the logits kept")
	if _, err := mc.Compile(grad.node); err != nil {
		t.Fatal(err)
	}
	if len(mc.overScratch) != 0 {
		t.Fatal("a kept gradient is still over the probabilities")
	}
	same("with the gradient kept")
	want := slices.Clone(trOver.Value(grad.node))
	if _, err := trOver.Eval(); err != nil { // a forward pass: logits and probabilities
		t.Fatal(err)
	}
	if got := trOver.Value(grad.node); !slices.Equal(got, want) {
		t.Errorf("a forward pass changed the kept gradient: %v, want %v", got[:4], want[:4])
	}
}

// A program that runs the loss's gradient op without the loss (weight
// gradients compiled alone) reads the probabilities a step left: the
// gradient does not take their place, and each run of it gives what a
// machine with buffers apart gives.
func TestLogitsGradWithoutLoss(t *testing.T) {
	var got [2][][]float32
	for i, noShare := range []bool{false, true} {
		m, tr, in, tg := lossTrainer(t, "gpt2", noShare)
		fillTokens(in, tg)
		var alone []*G.Node // the gradients no "+" sums (those are the step's outputs, in its arena)
		for _, g := range tr.Grads {
			if g != nil && m.m.plan[m.m.slots[g]].kind != kindAdd {
				alone = append(alone, g)
			}
		}
		grads, err := m.compile(alone...)
		if err != nil {
			t.Fatal(err)
		}
		if !noShare && len(m.m.overScratch) != 0 {
			t.Errorf("a program without the loss leaves %d gradients over its probabilities", len(m.m.overScratch))
		}
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := m.Run(grads); err != nil {
				t.Fatal(err)
			}
			for _, g := range alone {
				got[i] = append(got[i], slices.Clone(tr.Value(g)))
			}
		}
	}
	for k := range got[0] {
		if !slices.Equal(got[0][k], got[1][k]) {
			t.Fatalf("gradient %d of the program without the loss: %v, with buffers apart %v", k, got[0][k][:3], got[1][k][:3])
		}
	}
}

// lossTrainer builds a 2-layer model of arch over batches of 2 x 10 tokens
// of a 29-token vocabulary (the same weights each call), its LM loss and
// its trainer, and returns them with the inputs and targets to fill in;
// noShare gives every node a buffer of its own.
func lossTrainer(t *testing.T, arch string, noShare bool) (m *Model, tr *Trainer, in, tg []int32) {
	t.Helper()
	p, err := NewParams(Config{Arch: arch, VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5}, kernels.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	if m, err = New(p, 2, 10, kernels.NewRNG(6)); err != nil {
		t.Fatal(err)
	}
	m.m.noShare = noShare
	loss, targets, err := m.LMLoss()
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = m.Differentiate(loss); err != nil {
		t.Fatal(err)
	}
	return m, tr, Int32Data(m.Idx), Int32Data(targets)
}

// fillTokens writes a fixed pattern of ids below 29 into inputs and targets.
func fillTokens(in, tg []int32) {
	for j := range in {
		in[j], tg[j] = int32((j*7)%29), int32((j*5+1)%29)
	}
}
