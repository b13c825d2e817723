// Tests for the CPU softmax cross-entropy: probabilities and loss against a
// float64 log-sum-exp reference with ignored rows and large logits, dlogits
// against central differences of that reference; and over padded rows,
// whose padding is neither read nor given a gradient.

package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// crossEntropyRef returns softmax(logits) and the summed loss over rows with a
// target >= 0, in float64.
func crossEntropyRef(logits []float64, targets []int32, n, v int) (probs []float64, sum float64, count int) {
	probs = make([]float64, n*v)
	for i := range n {
		x := logits[i*v : (i+1)*v]
		m := math.Inf(-1)
		for _, xv := range x {
			m = max(m, xv)
		}
		z := 0.0
		for _, xv := range x {
			z += math.Exp(xv - m)
		}
		for j, xv := range x {
			probs[i*v+j] = math.Exp(xv-m) / z
		}
		if targets[i] >= 0 {
			sum += m + math.Log(z) - x[targets[i]]
			count++
		}
	}
	return probs, sum, count
}

func TestCrossEntropy(t *testing.T) {
	cases := []struct {
		name     string
		n, v     int
		maxprocs int
	}{
		{"n6_v7", 6, 7, 1},
		{"n64_v2053_parallel", 64, 2053, 4}, // enough work to split over goroutines
		{"n37_v3001_uneven_blocks", 37, 3001, 2},
	}
	t.Run("padded_rows", testCrossEntropyPadded)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.maxprocs))
			n, v := tc.n, tc.v
			rng := rand.New(rand.NewPCG(9, uint64(v)))
			logits := testRand(rng, n*v, 3)
			for j := range v { // row 1 would overflow a naive exp
				logits[v+j] += 500
			}
			targets := make([]int32, n)
			for i := range targets {
				targets[i] = int32(rng.IntN(v))
			}
			targets[2], targets[n-1] = -1, -100 // ignored rows
			probs := testNaN(n * v)
			sum, count := CrossEntropyForward(probs, logits, targets, n, v, v)
			logits64 := test64(logits)
			probs64, sum64, count64 := crossEntropyRef(logits64, targets, n, v)
			testCheck(t, "probs", probs, probs64, 1e-6)
			t.Logf("%-24s diff %.3g (loss %.6f over %d rows)", "loss", math.Abs(sum-sum64), sum, count)
			if count != count64 || math.Abs(sum-sum64) > 1e-5*float64(count) {
				t.Errorf("loss %v over %d rows, want %v over %d", sum, count, sum64, count64)
			}
			if v > 100 {
				return // finite differences over every logit would be slow
			}
			scale := 1 / float32(count)
			dlogits := testNaN(n * v)
			CrossEntropyBackward(dlogits, probs, targets, n, v, v, scale)
			loss := func() float64 {
				_, s, _ := crossEntropyRef(logits64, targets, n, v)
				return float64(scale) * s
			}
			testCheck(t, "dlogits vs finite diff", dlogits, testNumGrad(logits64, loss), 1e-6)
		})
	}
}

// testCrossEntropyPadded runs rows of w = v+5 columns whose padding holds
// 1e30 (which would swamp the softmax if read): the same probabilities,
// loss and dlogits as unpadded rows, the padding of probs left alone and
// that of dlogits zero.
func testCrossEntropyPadded(t *testing.T) {
	n, v, w := 9, 11, 16
	rng := rand.New(rand.NewPCG(4, 5))
	logits, targets := testRand(rng, n*v, 3), make([]int32, n)
	for i := range targets {
		targets[i] = int32(rng.IntN(v))
	}
	targets[3] = -1
	padded := padRows(logits, n, v, w, 1e30)
	probs, dlogits := make([]float32, n*v), make([]float32, n*v)
	sum, count := CrossEntropyForward(probs, logits, targets, n, v, v)
	CrossEntropyBackward(dlogits, probs, targets, n, v, v, 0.5)
	pprobs, pdlogits := testNaN(n*w), testNaN(n*w)
	psum, pcount := CrossEntropyForward(pprobs, padded, targets, n, v, w)
	CrossEntropyBackward(pdlogits, pprobs, targets, n, v, w, 0.5)
	if psum != sum || pcount != count {
		t.Errorf("padded rows: loss %v over %d rows, unpadded %v over %d", psum, pcount, sum, count)
	}
	for i := range n {
		for j := range w {
			p, d := pprobs[i*w+j], pdlogits[i*w+j]
			switch {
			case j < v && (p != probs[i*v+j] || d != dlogits[i*v+j]):
				t.Fatalf("row %d column %d: probs %v dlogits %v, unpadded %v %v", i, j, p, d, probs[i*v+j], dlogits[i*v+j])
			case j >= v && (!math.IsNaN(float64(p)) || d != 0):
				t.Fatalf("row %d padding column %d: probs %v (want untouched), dlogits %v (want 0)", i, j, p, d)
			}
		}
	}
}

// padRows returns the n rows of v columns of x as rows of w columns, the
// padding columns set to fill.
func padRows(x []float32, n, v, w int, fill float32) []float32 {
	out := make([]float32, n*w)
	for i := range n {
		copy(out[i*w:], x[i*v:(i+1)*v])
		for j := v; j < w; j++ {
			out[i*w+j] = fill
		}
	}
	return out
}

// GPT-1's vocabulary over 512 rows (one sequence); metric: rows per second.
func BenchmarkCrossEntropy(b *testing.B) {
	n, v := 512, 40478
	r := rand.New(rand.NewPCG(1, 2))
	logits := testRand(r, n*v, 1)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(r.IntN(v))
	}
	probs, dlogits := make([]float32, n*v), make([]float32, n*v)
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(int64(2 * n * v * 4))
		for b.Loop() {
			CrossEntropyForward(probs, logits, targets, n, v, v)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(int64(2 * n * v * 4))
		for b.Loop() {
			CrossEntropyBackward(dlogits, probs, targets, n, v, v, 1/float32(n))
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// CrossEntropyLoss, which keeps a row a block, gives CrossEntropyForward's
// loss and count to the bit, over padded rows and ignored ones, for row
// counts below, at and far above the blocks'.
func TestCrossEntropyLossKeepsNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, c := range []struct{ n, v, w int }{{1, 7, 7}, {5, 300, 320}, {ceBlocks, 33, 40}, {1000, 50, 64}, {3000, 1200, 1200}} {
		logits := make([]float32, c.n*c.w)
		for i := range logits {
			logits[i] = float32(r.NormFloat64() * 4)
		}
		targets := make([]int32, c.n)
		for i := range targets {
			targets[i] = int32(r.IntN(c.v+1)) - 1 // some -1: ignored
		}
		wantSum, wantCount := CrossEntropyForward(make([]float32, c.n*c.w), logits, targets, c.n, c.v, c.w)
		rows := make([]float32, ceBlocks*c.v+1)
		rows[len(rows)-1] = 42 // a sentinel past the rows: not written
		sum, count := CrossEntropyLoss(rows[:ceBlocks*c.v], logits, targets, c.n, c.v, c.w)
		if sum != wantSum || count != wantCount || rows[len(rows)-1] != 42 {
			t.Errorf("n=%d v=%d w=%d: loss %v over %d rows, want %v over %d", c.n, c.v, c.w, sum, count, wantSum, wantCount)
		}
	}
}

// CrossEntropyForward with the probabilities written over the logits
// gives the loss, count and probabilities it gives into a buffer apart.
func TestCrossEntropyOverLogits(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	for _, c := range []struct{ n, v, w int }{{1, 7, 7}, {5, 300, 320}, {1000, 50, 64}} {
		logits := make([]float32, c.n*c.w)
		for i := range logits {
			logits[i] = float32(r.NormFloat64() * 4)
		}
		targets := make([]int32, c.n)
		for i := range targets {
			targets[i] = int32(r.IntN(c.v+1)) - 1
		}
		probs := make([]float32, c.n*c.w)
		wantSum, wantCount := CrossEntropyForward(probs, logits, targets, c.n, c.v, c.w)
		sum, count := CrossEntropyForward(logits, logits, targets, c.n, c.v, c.w)
		if sum != wantSum || count != wantCount {
			t.Errorf("n=%d v=%d w=%d: over the logits, loss %v over %d rows, want %v over %d", c.n, c.v, c.w, sum, count, wantSum, wantCount)
		}
		for i := range c.n {
			for j := range c.v {
				if k := i*c.w + j; logits[k] != probs[k] {
					t.Fatalf("n=%d v=%d w=%d: probability (%d, %d) %v over the logits, %v apart", c.n, c.v, c.w, i, j, logits[k], probs[k])
				}
			}
		}
	}
}
