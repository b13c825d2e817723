package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkLinear times the Linear op and its gradient op at the GPT-1 MLP
// input size (B*T = 4*128 rows, 768 -> 3072): the products plus what the op
// adds around them (the bias broadcast and the bias gradient's row sums).
func BenchmarkLinear(b *testing.B) {
	const n, in, out = 4 * 128, 768, 3072
	r := rand.New(rand.NewPCG(1, 2))
	x, w, bias, dy := testRand(r, n*in, 1), testRand(r, in*out, 0.02), testRand(r, out, 0.1), testRand(r, n*out, 1)
	op := &linearOp{n: n, in: in, out: out, bias: true}
	grad := &linearGradOp{fwd: op}
	vals := func(fs ...[]float32) []G.Value {
		v := make([]G.Value, len(fs))
		for i, f := range fs {
			v[i] = tensor.New(tensor.WithBacking(f))
		}
		return v
	}
	y, packed := make([]float32, n*out), make([]float32, n*in+in*out+out)
	flops := int64(2 * n * in * out)
	b.Run("forward", func(b *testing.B) {
		in := vals(x, w, bias)
		for b.Loop() {
			if err := op.Forward(y, in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("backward", func(b *testing.B) {
		in := vals(x, w, dy)
		for b.Loop() {
			if err := grad.Forward(packed, in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(2*flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// sumRows adds each column of dy over its rows, at any shape, to the float64
// sum; and as a two-level sum (blocks of 256 rows) its rounding does not
// grow with the rows: 200,000 rows of 1/3 sum to within 6e-6 of the
// total, where a single running float32 sum is off by 1.4e-3.
func TestSumRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][2]int{{1, 1}, {3, 5}, {257, 300}, {20000, 3}, {1000, 513}, {0, 4}} {
		n, c := sh[0], sh[1]
		dy := make([]float32, n*c)
		for i := range dy {
			dy[i] = 1 + float32(r.Float64())/8
		}
		db := make([]float32, c)
		sumRows(db, dy, n, c)
		for j := range c {
			var want float64
			for i := range n {
				want += float64(dy[i*c+j])
			}
			if d := math.Abs(float64(db[j])-want) / max(want, 1); d > 1e-5 {
				t.Fatalf("%dx%d: column %d sums to %v, want %v (relative error %.2g)", n, c, j, db[j], want, d)
			}
		}
	}
	const n = 200000
	dy, db := make([]float32, n), make([]float32, 1)
	for i := range dy {
		dy[i] = 1.0 / 3
	}
	sumRows(db, dy, n, 1)
	if want := float64(n) * float64(float32(1.0/3)); math.Abs(float64(db[0])-want)/want > 1e-4 {
		t.Errorf("200,000 rows of 1/3 sum to %v, want %v", db[0], want)
	}
}

// TestRowLimit: LinearTRows and CrossEntropyRows compute the first N rows
// as the ops without a limit compute them, leave the outputs' other rows as
// they are, give dx no gradient there, and with N = 0 (a batch of padding)
// a zero loss and zero gradients.
func TestRowLimit(t *testing.T) {
	const n, in, out = 6, 5, 9
	r := rand.New(rand.NewPCG(3, 4))
	x, w, dy := testRand(r, n*in, 1), testRand(r, out*in, 0.5), testRand(r, n*out, 1)
	vals := func(fs ...[]float32) []G.Value {
		v := make([]G.Value, len(fs))
		for i, f := range fs {
			v[i] = tensor.New(tensor.WithBacking(f))
		}
		return v
	}
	for _, lim := range []int{0, 2, 6, 9} {
		k := min(lim, n)
		full := &linearOp{n: n, in: in, out: out, transW: true}
		op := &linearOp{n: n, in: in, out: out, transW: true, lim: &RowLimit{N: lim}}
		want, got := make([]float32, n*out), make([]float32, n*out)
		for i := range got {
			got[i] = 7 // what the rows past the limit held
		}
		dyk := append(append([]float32(nil), dy[:k*out]...), make([]float32, (n-k)*out)...)
		if err := full.Forward(want, vals(x, w)); err != nil {
			t.Fatal(err)
		}
		if err := op.Forward(got, vals(x, w)); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if i < k*out && got[i] != want[i] || i >= k*out && got[i] != 7 {
				t.Fatalf("limit %d: y[%d] = %v, want %v (7 past the limit)", lim, i, got[i], want[i])
			}
		}
		// The gradient over N rows is the full one with dy zero past them.
		wantG, gotG := make([]float32, n*in+out*in), make([]float32, n*in+out*in)
		for i := range gotG {
			gotG[i] = 7
		}
		if err := (&linearGradOp{fwd: full}).Forward(wantG, vals(x, w, dyk)); err != nil {
			t.Fatal(err)
		}
		if err := (&linearGradOp{fwd: op}).Forward(gotG, vals(x, w, dy)); err != nil {
			t.Fatal(err)
		}
		for i := range gotG {
			if math.Abs(float64(gotG[i]-wantG[i])) > 1e-5 {
				t.Fatalf("limit %d: gradient[%d] = %v, want %v", lim, i, gotG[i], wantG[i])
			}
		}
		// Cross-entropy: the mean over the first N rows; the rows past them
		// are neither read (NaN logits there) nor written.
		tg := []int32{3, -1, 8, 0, 5, 1}
		logits := append([]float32(nil), want...)
		for i := k * out; i < n*out; i++ {
			logits[i] = float32(math.NaN())
		}
		ce := &crossEntropyOp{n: n, v: out, w: out, probs: make([]float32, n*out), lim: &RowLimit{N: lim}}
		loss := []float32{0}
		if err := ce.Forward(loss, []G.Value{tensor.New(tensor.WithBacking(logits)), tensor.New(tensor.WithBacking(tg))}); err != nil {
			t.Fatal(err)
		}
		probs := make([]float32, n*out)
		sum, count := CrossEntropyForward(probs, logits, tg[:k], k, out, out)
		if wantLoss := float32(sum / max(float64(count), 1)); loss[0] != wantLoss || ce.Count() != count {
			t.Fatalf("limit %d: loss %v over %d rows, want %v over %d", lim, loss[0], ce.Count(), wantLoss, count)
		}
		dl := make([]float32, n*out)
		for i := range dl {
			dl[i] = 7
		}
		if err := (&crossEntropyGradOp{fwd: ce}).Forward(dl, []G.Value{tensor.New(tensor.WithBacking(tg)), tensor.New(tensor.WithBacking([]float32{1}))}); err != nil {
			t.Fatal(err)
		}
		wantD := make([]float32, k*out)
		CrossEntropyBackward(wantD, probs, tg[:k], k, out, out, 1/float32(max(count, 1)))
		for i := range dl {
			if i < k*out && dl[i] != wantD[i] || i >= k*out && dl[i] != 7 {
				t.Fatalf("limit %d: dlogits[%d] = %v, want %v (7 past the limit)", lim, i, dl[i], wantD[i])
			}
		}
	}
}
