package graph

// The independent side of TestTaskLossMatchesReference: the task head in
// float64, and the body's gradients from plain models.

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

type headRef struct {
	loss    float64
	dHidden []float64 // dL2/dHidden, (R*T, C)
	dW, db  []float64
}

// referenceHead recomputes L2 and its gradients from the hidden states.
func referenceHead(c headCase, task *Task, hidden []float32) headRef {
	C, k := task.Params.Config.NEmbd, c.head.Outputs()
	W, b := task.Params.Get(HeadWeight).Data, task.Params.Get(HeadBias).Data
	extract := Int32Data(task.Extract)
	group := c.head.Rows // rows summed into one head input
	if c.head.Objective == Choose {
		group = 1
	}
	n := len(extract) / group
	x := make([][]float64, n) // head inputs
	for i := range x {
		x[i] = make([]float64, C)
		for _, r := range extract[i*group : (i+1)*group] {
			for j := 0; r >= 0 && j < C; j++ {
				x[i][j] += float64(hidden[int(r)*C+j])
			}
		}
	}
	out := make([][]float64, n) // (n, k)
	for i := range out {
		out[i] = make([]float64, k)
		for o := range k {
			out[i][o] = float64(b[o])
			for j := range C {
				out[i][o] += x[i][j] * float64(W[j*k+o])
			}
		}
	}
	loss, dout := referenceLoss(c, out)
	ref := headRef{loss: loss, dHidden: make([]float64, len(hidden)), dW: make([]float64, C*k), db: make([]float64, k)}
	for i := range out {
		for o := range k {
			ref.db[o] += dout[i][o]
			for j := range C {
				ref.dW[j*k+o] += x[i][j] * dout[i][o]
			}
		}
		for _, r := range extract[i*group : (i+1)*group] {
			for j := 0; r >= 0 && j < C; j++ {
				for o := range k {
					ref.dHidden[int(r)*C+j] += dout[i][o] * float64(W[j*k+o])
				}
			}
		}
	}
	return ref
}

// referenceLoss is the loss of head outputs (n, k) and its gradient.
func referenceLoss(c headCase, out [][]float64) (float64, [][]float64) {
	dout := make([][]float64, len(out))
	for i := range dout {
		dout[i] = make([]float64, len(out[i]))
	}
	if c.head.Objective == Regress {
		var sum float64
		count := 0
		for i, s := range c.scores {
			if !math.IsNaN(float64(s)) {
				d := out[i][0] - float64(s)
				sum += d * d
				dout[i][0] = 2 * d
				count++
			}
		}
		scaleRows(dout, 1/float64(count))
		return sum / float64(count), dout
	}
	N := c.head.Rows // Choose: the option scores of example e are rows e*N..e*N+N-1
	var sum float64
	count := 0
	for e, l := range c.labels {
		if l < 0 {
			continue
		}
		logits, rows := out[e], []int{e}
		if c.head.Objective == Choose {
			logits, rows = nil, nil
			n := N
			if c.opts != nil {
				n = c.opts[e]
			}
			for o := 0; o < n; o++ {
				logits, rows = append(logits, out[e*N+o][0]), append(rows, e*N+o)
			}
		}
		z := 0.0
		for _, v := range logits {
			z += math.Exp(v)
		}
		sum += math.Log(z) - logits[l]
		count++
		for o, v := range logits {
			d := math.Exp(v) / z
			if o == int(l) {
				d--
			}
			if c.head.Objective == Choose {
				dout[rows[o]][0] = d
			} else {
				dout[e][o] = d
			}
		}
	}
	scaleRows(dout, 1/float64(count))
	return sum / float64(count), dout
}

func scaleRows(m [][]float64, s float64) {
	for _, row := range m {
		for j := range row {
			row[j] *= s
		}
	}
}

// referenceBody returns the gradient of every body weight of
// sum(Hidden * dHidden) + lambda*L1, from plain models without a head.
func referenceBody(t *testing.T, p *Params, task *Task, dHidden []float64, lambda float32) map[string][]float64 {
	t.Helper()
	q := &Params{Config: p.Config, byName: map[string]*Param{}}
	for _, w := range p.List {
		if !IsHead(w.Name) {
			q.List = append(q.List, w)
			q.byName[w.Name] = w
		}
	}
	grads := map[string][]float64{}
	add := func(m *Model, loss *G.Node, scale float64) {
		tr, err := m.Differentiate(loss)
		if err != nil {
			t.Fatal(err)
		}
		copy(Int32Data(m.Idx), Int32Data(task.Idx))
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
		for i, w := range q.List {
			if grads[w.Name] == nil {
				grads[w.Name] = make([]float64, len(w.Data))
			}
			for j, v := range tr.Grad(i) {
				grads[w.Name][j] += scale * float64(v)
			}
		}
	}
	m := plainModel(t, q, task)
	dh := m.NewFloat32Input("dh", m.B*m.T, q.Config.NEmbd)
	for i, v := range dHidden {
		Float32Data(dh)[i] = float32(v)
	}
	add(m, G.Must(kernels.WeightedSum(m.Hidden, dh)), 1)
	if lambda > 0 {
		m = plainModel(t, q, task)
		l1, tg, err := m.LMLoss()
		if err != nil {
			t.Fatal(err)
		}
		copy(Int32Data(tg), Int32Data(task.LMTargets))
		add(m, l1, float64(lambda))
	}
	return grads
}

func plainModel(t *testing.T, q *Params, task *Task) *Model {
	m, err := New(q, task.B, task.T, kernels.NewRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
