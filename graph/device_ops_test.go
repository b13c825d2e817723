//go:build cuda

// More of the device executor: its arena against buffers of their own,
// dropout masks made on the device, the finetuning heads, and the weighted
// sum of the gradient checks, each against the CPU where they can match.

package graph

import (
	"fmt"
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

// TestDeviceSharing runs a GPT-1 step (whose residual gradients are summed
// in place) with the device arena and with a buffer per node: the results
// agree and the arena is smaller than the buffers it replaces.
func TestDeviceSharing(t *testing.T) {
	d := openDevice(t)
	var losses [2]float32
	var grads [2][][]float32
	var floats [2][2]int
	for k, noShare := range []bool{false, true} {
		m, loss, tg := lmModel(t, devConfig("gpt1", 0))
		dm := NewDeviceMachine(d, m.Graph)
		dm.noShare = noShare
		dt, err := m.differentiateOn(dm, loss)
		if err != nil {
			t.Fatal(err)
		}
		fillBatch(m, tg, 0)
		if err := dt.Step(); err != nil {
			t.Fatal(err)
		}
		if losses[k], err = dt.LossValue(); err != nil {
			t.Fatal(err)
		}
		for i := range m.Params.List {
			g, err := dt.Grad(i)
			if err != nil {
				t.Fatal(err)
			}
			grads[k] = append(grads[k], g)
		}
		floats[k][0], floats[k][1] = dm.Floats()
		if err := dt.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dd := diffs{}
	dd.near(t, "loss", "loss", []float32{losses[0]}, []float32{losses[1]}, 0, 0)
	for i := range grads[0] {
		// The embedding's scatter-add (atomicAdd) sums in whatever order
		// the threads run, on the emulator as on a GPU: a float32 sum of a
		// batch's rows reordered moves by some tens of ulps (1e-6 was hit).
		dd.near(t, "grads", fmt.Sprintf("grad %d", i), grads[0][i], grads[1][i], 1e-5, 0)
	}
	dd.log(t)
	own, shared := floats[0][0], floats[0][1]
	if shared == 0 || own+shared >= floats[1][0] {
		t.Errorf("shared: %d own + %d in the arena; not shared: %d", own, shared, floats[1][0])
	}
	t.Logf("device floats: %d own + %d arena, against %d without sharing", own, shared, floats[1][0])
}

// TestDeviceDropoutMasks trains with masks made on the device: each
// dropout keeps about 1-p of its inputs, scaled by 1/(1-p); the masks
// change from step to step, are the same again from the same RNG state
// (a resumed run), and evaluation drops nothing.
func TestDeviceDropoutMasks(t *testing.T) {
	d := openDevice(t)
	const p = 0.1
	m, loss, tg := lmModel(t, devConfig("gpt2", p))
	dt, err := m.DifferentiateOn(d, loss)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	var drops []*G.Node
	for _, n := range m.Graph.AllNodes() {
		if n.Op() != nil && n.Op().String() == "dropout" {
			drops = append(drops, n)
		}
	}
	if len(drops) != 1+2*m.Params.Config.NLayer {
		t.Fatalf("%d dropout nodes, want %d", len(drops), 1+2*m.Params.Config.NLayer)
	}
	fillBatch(m, tg, 0)
	state, err := m.rng.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// run steps and returns the loss and the first dropout's output.
	run := func(step func() error) (float32, []float32) {
		t.Helper()
		if err := step(); err != nil {
			t.Fatal(err)
		}
		l, err := dt.LossValue()
		if err != nil {
			t.Fatal(err)
		}
		y, err := dt.Value(drops[0])
		if err != nil {
			t.Fatal(err)
		}
		return l, y
	}
	loss1, y1 := run(dt.Step)
	keep := 1 / (1 - float32(p))
	kept, total := 0, 0
	for _, n := range drops {
		x, err := dt.Value(childrenOf(m.Graph, n)[0])
		if err != nil {
			t.Fatal(err)
		}
		y, err := dt.Value(n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			switch {
			case x[i] == 0:
				continue
			case y[i] == x[i]*keep:
				kept++
			case y[i] != 0:
				t.Fatalf("%s: %g became %g, neither 0 nor scaled by %g", n.Name(), x[i], y[i], keep)
			}
			total++
		}
	}
	if f := float64(kept) / float64(total); math.Abs(f-(1-p)) > 0.03 {
		t.Errorf("the device masks keep %.4f of %d values, want %.2f", f, total, 1-p)
	}
	if _, y2 := run(dt.Step); slices.Equal(y1, y2) {
		t.Error("the second step drew the same mask as the first")
	}
	if err := m.rng.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if loss3, y3 := run(dt.Step); loss3 != loss1 || !slices.Equal(y1, y3) {
		t.Errorf("from the same RNG state: loss %v and %v, same mask %v", loss1, loss3, slices.Equal(y1, y3))
	}
	_, y4 := run(dt.Eval)
	x4, err := dt.Value(childrenOf(m.Graph, drops[0])[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x4, y4) {
		t.Error("evaluation applied a dropout mask")
	}
	t.Logf("device masks kept %d of %d values (%.4f); training loss %.5f", kept, total, float64(kept)/float64(total), loss1)
}

// TestDeviceTaskHeads runs the finetuning heads (row gather, dropout on the
// head input, Linear, cross-entropy or mean squared error, the reshape of
// multiple choice and its option mask, L2 + lambda*L1) on both executors.
func TestDeviceTaskHeads(t *testing.T) {
	d := openDevice(t)
	nan := float32(math.NaN())
	cases := []headCase{
		{"classification", HeadConfig{Objective: Classify, Classes: 3, Rows: 1, Lambda: 0.5, Dropout: 0.1}, 3, []int32{2, 0, -1}, nil, nil},
		{"similarity_regression", HeadConfig{Objective: Regress, Rows: 2}, 3, nil, []float32{4.5, nan, 0.5}, nil},
		{"multiple_choice", HeadConfig{Objective: Choose, Rows: 3, Lambda: 0.5}, 2, []int32{2, 1}, nil, nil},
		// Slots past an example's options: the option mask, an input fed to the device.
		{"multiple_choice_fewer_options", HeadConfig{Objective: Choose, Rows: 4, Lambda: 0.5}, 3, []int32{1, 2, 0}, nil, []int{2, 4, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tasks [2]*Task
			for k := range tasks {
				p, first := tinyTaskParams(t, c.head.Outputs())
				task, err := NewTask(p, c.head, c.E, refT, kernels.NewRNG(8))
				if err != nil {
					t.Fatal(err)
				}
				fillTask(task, first, c)
				tasks[k] = task
			}
			extra := func(task *Task) []*G.Node {
				if task.LMLoss != nil {
					return []*G.Node{task.TaskLoss, task.LMLoss}
				}
				return []*G.Node{task.TaskLoss}
			}
			cpu, dev := tasks[0], tasks[1]
			ct, err := cpu.Differentiate(cpu.Loss, extra(cpu)...)
			if err != nil {
				t.Fatal(err)
			}
			dt, err := dev.DifferentiateOn(d, dev.Loss, extra(dev)...)
			if err != nil {
				t.Fatal(err)
			}
			defer dt.Close()
			check := func() {
				want, err := ct.Step()
				if err != nil {
					t.Fatal(err)
				}
				if err := dt.Step(); err != nil {
					t.Fatal(err)
				}
				dd := diffs{}
				for k, n := range extra(dev) {
					got, err := dt.Value(n)
					if err != nil {
						t.Fatal(err)
					}
					dd.near(t, "losses", n.Name(), got, ct.Value(extra(cpu)[k]), 1e-5, 0)
				}
				got, err := dt.LossValue()
				if err != nil {
					t.Fatal(err)
				}
				dd.near(t, "losses", "loss", []float32{got}, []float32{want}, 1e-5, 0)
				wantRows := LossRows(cpu.TaskLoss)
				if c.head.Objective == Regress {
					wantRows = 2 // the scores that are not NaN (LossRows counts cross-entropy only)
				}
				if rows, err := dt.Machine.LossCount(dev.TaskLoss); err != nil || rows != wantRows {
					t.Errorf("the task loss averaged %d rows on the device (%v), want %d", rows, err, wantRows)
				}
				for i, w := range cpu.Params.List {
					g, err := dt.Grad(i)
					if err != nil {
						t.Fatal(err)
					}
					// The options of multiple choice share the head's bias: its
					// gradient is 0 but for rounding, of order 1e-8 on both.
					dd.near(t, "grads", "grad "+w.Name, g, ct.Grad(i), 1e-4, 1e-7)
				}
				dd.log(t)
			}
			check()
			if dev.LMLoss != nil { // a forward program of L1 alone, run directly, packs the rows too
				dm, prog, err := dev.ForwardOn(d, dev.LMLoss)
				if err != nil {
					t.Fatal(err)
				}
				defer dm.Close()
				if err := prog.Run(); err != nil {
					t.Fatal(err)
				}
				got, err := dm.Value(dev.LMLoss)
				if err != nil {
					t.Fatal(err)
				}
				dd := diffs{}
				dd.near(t, "losses", "L1 by ForwardOn", got, ct.Value(cpu.LMLoss), 1e-5, 0)
			}
			if cpu.LMTargets != nil { // no row with a next token: L1 is 0 over 0 rows
				for _, task := range tasks {
					for i := range Int32Data(task.LMTargets) {
						Int32Data(task.LMTargets)[i] = -1
					}
				}
				check()
				if l1 := ct.Value(cpu.LMLoss)[0]; l1 != 0 {
					t.Errorf("L1 with no targets = %v, want 0", l1)
				}
			}
		})
	}
}

// TestDeviceWeightedSum differentiates the read-out the gradient checks
// use, sum(Hidden * w) for a fed w, on both executors.
func TestDeviceWeightedSum(t *testing.T) {
	d := openDevice(t)
	var models [2]*Model
	var losses [2]*G.Node
	for k := range models {
		cfg := devConfig("gpt2", 0)
		p, err := NewParams(cfg, kernels.NewRNG(5))
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(p, devB, devT, kernels.NewRNG(6))
		if err != nil {
			t.Fatal(err)
		}
		w := m.NewFloat32Input("readout", devB*devT, cfg.NEmbd)
		for i, r := range testWeights(len(Float32Data(w))) {
			Float32Data(w)[i] = r
		}
		losses[k] = G.Must(kernels.WeightedSum(m.Hidden, w))
		for i := range Int32Data(m.Idx) {
			Int32Data(m.Idx)[i] = int32((i*7 + 3) % cfg.VocabSize)
		}
		models[k] = m
	}
	ct, err := models[0].Differentiate(losses[0])
	if err != nil {
		t.Fatal(err)
	}
	dt, err := models[1].DifferentiateOn(d, losses[1])
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	want, err := ct.Step()
	if err != nil {
		t.Fatal(err)
	}
	if err := dt.Step(); err != nil {
		t.Fatal(err)
	}
	got, err := dt.LossValue()
	if err != nil {
		t.Fatal(err)
	}
	dd := diffs{}
	dd.near(t, "loss", "sum(Hidden*w)", []float32{got}, []float32{want}, 1e-5, 0)
	for i, w := range models[0].Params.List {
		g, err := dt.Grad(i)
		if err != nil {
			t.Fatal(err)
		}
		dd.near(t, "grads", "grad "+w.Name, g, ct.Grad(i), 1e-4, 0)
	}
	dd.log(t)
}

// testWeights returns n fixed values in [-1, 1).
func testWeights(n int) []float32 {
	rng := kernels.NewRNG(9)
	out := make([]float32, n)
	for i := range out {
		out[i] = 2*rng.Float32() - 1
	}
	return out
}
