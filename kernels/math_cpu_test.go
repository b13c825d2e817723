// Tests for the fast exp32 and tanh32 against float64 math on a dense grid,
// with their special values, and for the worker pool.

package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
)

func TestExp32(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88.7; x += 0.0013 {
		want := math.Exp(float64(x))
		worst = max(worst, math.Abs(float64(exp32(x))-want)/want)
	}
	t.Logf("exp32 max relative error %.3g", worst)
	if worst > 2e-7 {
		t.Errorf("exp32: max relative error %.3g > 2e-7", worst)
	}
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {-100, 0}, {float32(math.Inf(-1)), 0}, {89, float32(math.Inf(1))}, {float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := exp32(c.x); got != c.want {
			t.Errorf("exp32(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := exp32(88.72); math.IsInf(float64(got), 0) || got < 3.3e38 {
		t.Errorf("exp32(88.72) = %v, want about 3.4e38", got)
	}
	if got := exp32(float32(math.NaN())); !math.IsNaN(float64(got)) {
		t.Errorf("exp32(NaN) = %v", got)
	}
}

func TestTanh32(t *testing.T) {
	worst := 0.0
	for x := float32(-12); x < 12; x += 0.0007 {
		worst = max(worst, math.Abs(float64(tanh32(x))-math.Tanh(float64(x))))
	}
	t.Logf("tanh32 max absolute error %.3g", worst)
	if worst > 1.5e-7 {
		t.Errorf("tanh32: max absolute error %.3g > 1.5e-7", worst)
	}
	for _, x := range []float32{0, 1e-30, 0.3, 2, 50} {
		if tanh32(-x) != -tanh32(x) {
			t.Errorf("tanh32(-%v) = %v, tanh32(%v) = %v", x, tanh32(-x), x, tanh32(x))
		}
	}
	for x, want := range map[float32]float32{float32(math.Inf(1)): 1, float32(math.Inf(-1)): -1, 100: 1, -100: -1} {
		if got := tanh32(x); got != want {
			t.Errorf("tanh32(%v) = %v, want %v", x, got, want)
		}
	}
	if got := tanh32(float32(math.NaN())); !math.IsNaN(float64(got)) {
		t.Errorf("tanh32(NaN) = %v", got)
	}
}

func TestParallelFor(t *testing.T) {
	for _, procs := range []int{1, 2, 5} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for _, n := range []int{0, 1, 3, 100} {
				hits := make([]atomic.Int32, n)
				var total atomic.Int64
				parallelFor(n, func(i int) {
					hits[i].Add(1)
					parallelFor(3, func(int) { total.Add(1) }) // nested calls must not deadlock
				})
				for i := range hits {
					if hits[i].Load() != 1 {
						t.Fatalf("procs %d n %d: item %d ran %d times", procs, n, i, hits[i].Load())
					}
				}
				if total.Load() != int64(3*n) {
					t.Fatalf("procs %d n %d: nested items ran %d times, want %d", procs, n, total.Load(), 3*n)
				}
			}
		}()
	}
}

func BenchmarkMath(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%2000)/100 - 10
	}
	var sink float32
	b.Run("exp32", func(b *testing.B) {
		for b.Loop() {
			for _, v := range x {
				sink += exp32(v)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
	})
	b.Run("tanh32", func(b *testing.B) {
		for b.Loop() {
			for _, v := range x {
				sink += tanh32(v)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
	})
	_ = sink
}

// testBothPaths runs f with the AVX2 kernels (where the CPU has them) and with
// the plain Go loops.
func testBothPaths(t *testing.T, f func(t *testing.T)) {
	t.Run("go", func(t *testing.T) {
		defer func(h bool) { hasAVX2 = h }(hasAVX2)
		hasAVX2 = false
		f(t)
	})
	if hasAVX2 {
		t.Run("avx2", f)
	}
}

// TestVectorLoops checks the loops that have AVX2 versions, on lengths with
// and without a tail, against float64 arithmetic.
func TestVectorLoops(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{0, 1, 7, 8, 9, 31, 1000} {
			a, b := testRand(rng, n, 3), testRand(rng, n, 1)
			var dot, m float64 = 0, math.Inf(-1)
			for i := range a {
				dot += float64(a[i]) * float64(b[i])
				m = max(m, float64(a[i]))
			}
			if d := math.Abs(float64(dot32(a, b)) - dot); d > 1e-5*math.Sqrt(float64(n)) {
				t.Errorf("n %d: dot32 off by %.3g", n, d)
			}
			if got := max32(a); float64(got) != m {
				t.Errorf("n %d: max32 = %v, want %v", n, got, m)
			}
			y := slices.Clone(b)
			axpy32(-0.5, a, y)
			want := make([]float64, n)
			for i := range want {
				want[i] = float64(b[i]) - 0.5*float64(a[i])
			}
			testCheck(t, "axpy32", y, want, 1e-6)
			scal32(3, y)
			for i := range want {
				want[i] *= 3
			}
			testCheck(t, "scal32", y, want, 3e-6)
			e := slices.Clone(a)
			sum := expSubSum(e, 2)
			var zsum float64
			for i := range want {
				want[i] = math.Exp(float64(a[i]) - 2)
				zsum += want[i]
			}
			testCheck(t, "expSubSum", e, want, 3e-7*math.Exp(max(m-2, 0)))
			if math.Abs(float64(sum)-zsum) > 1e-6*zsum+1e-30 {
				t.Errorf("n %d: expSubSum returned %v, want %v", n, sum, zsum)
			}
		}
	})
}

// TestGELULarge runs GELU over enough elements to split into blocks, with
// lengths that leave a tail for the Go loop, on both paths.
func TestGELULarge(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		n := 3*geluBlock + 13
		x, dy := testRand(rng, n, 3), testRand(rng, n, 1)
		x[0], x[1], x[2] = 0, 20, -20
		y := testNaN(n)
		GELUForward(y, x)
		testCheck(t, "y", y, geluRef(test64(x)), 2e-6)
		dx := testNaN(n)
		GELUBackward(dx, dy, x)
		want := make([]float64, n)
		for i, v := range test64(x) { // d/dx of the tanh form, in float64
			u := math.Sqrt(2/math.Pi) * (v + 0.044715*v*v*v)
			th := math.Tanh(u)
			want[i] = float64(dy[i]) * (0.5*(1+th) + 0.5*v*(1-th*th)*math.Sqrt(2/math.Pi)*(1+3*0.044715*v*v))
		}
		testCheck(t, "dx", dx, want, 2e-6)
	})
}

func TestSumSquaresAndScale(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, n := range []int{0, 5, 3000, 3<<16 + 7} {
			x := testRand(rng, n, 2)
			want := 0.0
			for _, v := range x {
				want += float64(v) * float64(v)
			}
			if got := SumSquares(x); math.Abs(got-want) > 1e-6*want {
				t.Errorf("n %d: SumSquares = %v, want %v", n, got, want)
			}
			w := test64(x)
			for i := range w {
				w[i] *= -0.25
			}
			Scale(x, -0.25)
			testCheck(t, "Scale", x, w, 0)
		}
	})
}

// Squares that overflow float32 but whose sum float64 holds (a gradient
// spike that clipping should absorb) give a finite sum, as on the GPU,
// which sums in double; an infinite input still gives +Inf.
func TestSumSquaresLargeValues(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		x := make([]float32, 3000)
		for i := range x {
			x[i] = 1e18 * float32(1+i%3)
		}
		want := 0.0
		for _, v := range x {
			want += float64(v) * float64(v)
		}
		if got := SumSquares(x); math.IsInf(got, 0) || math.Abs(got-want) > 1e-6*want {
			t.Errorf("SumSquares = %v, want %v", got, want)
		}
		x[7] = float32(math.Inf(-1))
		if got := SumSquares(x); !math.IsInf(got, 1) {
			t.Errorf("with an infinite value: %v, want +Inf", got)
		}
	})
}

// gelu'(x) is 1 for huge positive x and 0 for huge negative x, on both
// paths (x² overflowed and 0·Inf made NaN past |x| = 1.8e19); NaN stays NaN.
func TestGELUBackwardHuge(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		x := []float32{2e19, -2e19, 1e30, -1e30, 3e38, -3e38, 150, -150, float32(math.NaN()), 1, -1, 0, 2, 3, 4, 5}
		dy := make([]float32, len(x))
		for i := range dy {
			dy[i] = 1
		}
		dx := make([]float32, len(x))
		GELUBackward(dx, dy, x)
		for i, v := range x[:8] {
			want := float32(0)
			if v > 0 {
				want = 1
			}
			if dx[i] != want {
				t.Errorf("gelu'(%g) = %g, want %g", v, dx[i], want)
			}
		}
		if !math.IsNaN(float64(dx[8])) {
			t.Errorf("gelu'(NaN) = %g", dx[8])
		}
	})
}

// A softmax entry far below the row's maximum (a multiple-choice slot
// masked with -1e9) is exactly 0 on both paths, probability and gradient.
func TestCrossEntropyAbsentOptionIsZero(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		const v = 16
		logits := make([]float32, v)
		logits[0], logits[1] = 0.3, -0.2
		for j := 2; j < v; j++ {
			logits[j] = -1e9
		}
		logits[9] = -100 // below e^-87.3 relative to the maximum too
		probs := make([]float32, v)
		CrossEntropyForward(probs, logits, []int32{1}, 1, v, v)
		d := make([]float32, v)
		CrossEntropyBackward(d, probs, []int32{1}, 1, v, v, 1)
		for j := 2; j < v; j++ {
			if probs[j] != 0 || d[j] != 0 {
				t.Fatalf("slot %d: probability %g, gradient %g; want exactly 0", j, probs[j], d[j])
			}
		}
	})
}
