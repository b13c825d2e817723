// Tests for the CPU GELU: the forward against float64 math, the backward
// against central differences of the float64 forward.

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func geluRef(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	}
	return y
}

// checkGELU runs fwd and bwd on random inputs plus zero, the tails and
// tanh's small-argument branch: y against ref in float64, dx against central
// differences of ref. It returns x and y.
func checkGELU(t *testing.T, seed uint64, fwd func(y, x []float32), bwd func(dx, dy, x []float32), ref func([]float64) []float64) (x, y []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	x = append(testRand(rng, 61, 2), 0, -6, 6, -12, 12, 0.3, -0.3)
	r := testRand(rng, len(x), 1)
	y = testNaN(len(x))
	fwd(y, x)
	x64, r64 := test64(x), test64(r)
	testCheck(t, "y", y, ref(x64), 1e-6)
	dx := testNaN(len(x))
	bwd(dx, r, x)
	testCheck(t, "dx vs finite diff", dx, testNumGrad(x64, func() float64 { return testDot64(ref(x64), r64) }), 1e-5)
	return x, y
}

func TestGELU(t *testing.T) { checkGELU(t, 4, GELUForward, GELUBackward, geluRef) }

func TestGELUErf(t *testing.T) {
	x, y := checkGELU(t, 6, GELUErfForward, GELUErfBackward, func(x []float64) []float64 {
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = v * 0.5 * math.Erfc(-v/math.Sqrt2) // x*Phi(x), written another way
		}
		return y
	})
	// It is not the tanh form: the two differ by up to about 5e-4 (near |x| = 2.2).
	tanh := make([]float32, len(x))
	GELUForward(tanh, x)
	most := 0.0
	for i := range x {
		most = math.Max(most, math.Abs(float64(y[i]-tanh[i])))
	}
	if most < 1e-4 || most > 1e-3 {
		t.Errorf("exact and tanh GELU differ by at most %.3g, want about 5e-4", most)
	}
}

func BenchmarkGELU(b *testing.B) {
	n := 8 * 512 * 4 * 768 // the MLP hidden layer, B*T×4C
	r := rand.New(rand.NewPCG(1, 2))
	x, dy := testRand(r, n, 1), testRand(r, n, 1)
	y := make([]float32, n)
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(int64(2 * n * 4))
		for b.Loop() {
			GELUForward(y, x)
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(int64(3 * n * 4))
		for b.Loop() {
			GELUBackward(y, dy, x)
		}
	})
}
