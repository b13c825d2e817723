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
