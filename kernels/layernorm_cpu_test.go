// Tests for the CPU LayerNorm: the forward against a float64 reference, the
// backward against central differences of that reference.

package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// layerNormRef is the float64 reference forward: y = (x-mean)/sqrt(var+eps)*w + b.
func layerNormRef(x, w, b []float64, n, c int, eps float64) (y, mean, rstd []float64) {
	y, mean, rstd = make([]float64, n*c), make([]float64, n), make([]float64, n)
	for i := range n {
		xi := x[i*c : (i+1)*c]
		m, v := 0.0, 0.0
		for _, xv := range xi {
			m += xv
		}
		m /= float64(c)
		for _, xv := range xi {
			v += (xv - m) * (xv - m)
		}
		s := 1 / math.Sqrt(v/float64(c)+eps)
		for j, xv := range xi {
			y[i*c+j] = (xv-m)*s*w[j] + b[j]
		}
		mean[i], rstd[i] = m, s
	}
	return y, mean, rstd
}

func TestLayerNorm(t *testing.T) { testBothPaths(t, testLayerNorm) }

func testLayerNorm(t *testing.T) {
	for _, sz := range []struct{ n, c int }{{5, 7}, {3, 33}, {2, 64}} {
		n, c, eps := sz.n, sz.c, float32(1e-5)
		rng := rand.New(rand.NewPCG(3, uint64(c)))
		x := testRand(rng, n*c, 2)
		for j := range c { // an offset row mean, to exercise the two-pass variance
			x[j] += 10
		}
		w, b, r := testRand(rng, c, 1), testRand(rng, c, 1), testRand(rng, n*c, 1)
		y, mean, rstd := testNaN(n*c), testNaN(n), testNaN(n)
		LayerNormForward(y, mean, rstd, x, w, b, n, c, eps)
		x64, w64, b64, r64 := test64(x), test64(w), test64(b), test64(r)
		y64, mean64, rstd64 := layerNormRef(x64, w64, b64, n, c, float64(eps))
		testCheck(t, "y", y, y64, 1e-5)
		testCheck(t, "mean", mean, mean64, 1e-5)
		testCheck(t, "rstd", rstd, rstd64, 1e-5)

		dx, dw, db := testNaN(n*c), testNaN(c), testNaN(c)
		LayerNormBackward(dx, dw, db, r, x, w, mean, rstd, n, c)
		loss := func() float64 {
			y, _, _ := layerNormRef(x64, w64, b64, n, c, float64(eps))
			return testDot64(y, r64)
		}
		testCheck(t, "dx vs finite diff", dx, testNumGrad(x64, loss), 1e-5)
		testCheck(t, "dw vs finite diff", dw, testNumGrad(w64, loss), 1e-5)
		testCheck(t, "db vs finite diff", db, testNumGrad(b64, loss), 1e-5)
	}
}

// TestLayerNormBlocks runs enough rows to split into blocks and checks the
// backward against the float64 formulas, on one worker and several: the
// result must be the same bits.
func TestLayerNormBlocks(t *testing.T) { testBothPaths(t, testLayerNormBlocks) }

func testLayerNormBlocks(t *testing.T) {
	n, c := 301, 250
	rng := rand.New(rand.NewPCG(17, 18))
	x, w, b, dy := testRand(rng, n*c, 2), testRand(rng, c, 1), testRand(rng, c, 1), testRand(rng, n*c, 1)
	x64, w64, dy64 := test64(x), test64(w), test64(dy)
	y64, mean64, rstd64 := layerNormRef(x64, w64, test64(b), n, c, 1e-5)
	dx64, dw64, db64 := make([]float64, n*c), make([]float64, c), make([]float64, c)
	for i := range n {
		var g, gx float64
		for j := range c {
			xhat := (x64[i*c+j] - mean64[i]) * rstd64[i]
			g += dy64[i*c+j] * w64[j]
			gx += dy64[i*c+j] * w64[j] * xhat
			dw64[j] += dy64[i*c+j] * xhat
			db64[j] += dy64[i*c+j]
		}
		for j := range c {
			xhat := (x64[i*c+j] - mean64[i]) * rstd64[i]
			dx64[i*c+j] = rstd64[i] * (dy64[i*c+j]*w64[j] - g/float64(c) - xhat*gx/float64(c))
		}
	}
	var first []float32
	for _, procs := range []int{1, 3} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			y, mean, rstd := testNaN(n*c), testNaN(n), testNaN(n)
			LayerNormForward(y, mean, rstd, x, w, b, n, c, 1e-5)
			testCheck(t, "y", y, y64, 1e-5)
			dx, dw, db := testNaN(n*c), testNaN(c), testNaN(c)
			LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd, n, c)
			testCheck(t, "dx", dx, dx64, 1e-4)
			testCheck(t, "dw", dw, dw64, 1e-3)
			testCheck(t, "db", db, db64, 1e-4)
			all := append(append(dx, dw...), db...)
			if first == nil {
				first = all
			} else if !slices.Equal(first, all) {
				t.Errorf("GOMAXPROCS %d changed the gradients", procs)
			}
		}()
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	n, c := 8*512, 768 // B*T rows of GPT-1's C
	r := rand.New(rand.NewPCG(1, 2))
	x, w, bias, dy := testRand(r, n*c, 1), testRand(r, c, 1), testRand(r, c, 1), testRand(r, n*c, 1)
	y, mean, rstd := make([]float32, n*c), make([]float32, n), make([]float32, n)
	dx, dw, db := make([]float32, n*c), make([]float32, c), make([]float32, c)
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(int64(2 * n * c * 4)) // read x, write y
		for b.Loop() {
			LayerNormForward(y, mean, rstd, x, w, bias, n, c, 1e-5)
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(int64(3 * n * c * 4)) // read x and dy, write dx
		for b.Loop() {
			LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd, n, c)
		}
	})
}

// A row of equal values far from 0 (or with a spread far below its mean)
// normalises to b, with the backward of xhat = 0: the mean used to be the
// rounded float32 sum over c, off by 1e-3 at 1000.1, which the variance
// then took for the row's spread.
func TestLayerNormConstantRow(t *testing.T) { testBothPaths(t, testLayerNormConstantRow) }

func testLayerNormConstantRow(t *testing.T) {
	const c = 768
	eps := float32(1e-5)
	x, w, b, dy := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	for j := range x {
		x[j], w[j], b[j], dy[j] = 1000.1, 1, 0.5, float32(j%7)-3
	}
	y, mean, rstd := make([]float32, c), make([]float32, 1), make([]float32, 1)
	LayerNormForward(y, mean, rstd, x, w, b, 1, c, eps)
	want, _, _ := layerNormRef(test64(x), test64(w), test64(b), 1, c, float64(eps))
	if d := testMaxDiff(y, want); d > 1e-6 || mean[0] != x[0] {
		t.Errorf("forward: max |y - ref| = %g, mean %v", d, mean[0])
	}
	dx, dw, db := make([]float32, c), make([]float32, c), make([]float32, c)
	LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd, 1, c)
	s := 1 / math.Sqrt(float64(eps)) // xhat = 0: dx = s (dy - mean(dy))
	g := 0.0
	for _, v := range dy {
		g += float64(v)
	}
	ref := make([]float64, c)
	for j := range ref {
		ref[j] = s * (float64(dy[j]) - g/c)
	}
	if d := testMaxDiff(dx, ref); d > 1e-4*s {
		t.Errorf("backward: max |dx - ref| = %g on a scale of %g", d, s)
	}
}
