// Tests that the CPU kernels' parallel splits cover tensors of the sizes
// real models have, also where int has 32 bits (make test runs these under
// GOARCH=386).

package kernels

import (
	"math"
	"testing"
)

// TestParallelSplitsCoverLargeTensors steps AdamW over a GPT-2-vocabulary
// embedding of width 256 (12.9M weights) and GELU over 9M activations:
// every element must be updated, and none twice. On a 32-bit build the
// chunk bounds c*n/chunks overflowed for these sizes and the kernels
// panicked on a negative slice bound.
func TestParallelSplitsCoverLargeTensors(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 200 MB of tensors")
	}
	testBothPaths(t, func(t *testing.T) {
		n := 50257 * 256
		p, g := make([]float32, n), make([]float32, n)
		m, v := make([]float32, n), make([]float32, n)
		for i := range g {
			g[i] = 1
		}
		// Step 1 from zero with g=1: m=0.1, v=0.001, mhat=vhat^0.5=1, so
		// p = -lr/(1+eps); an element stepped twice or not at all differs.
		AdamW(p, g, m, v, 0.5, 0.9, 0.999, 0, 0.1, 1)
		for i, x := range p {
			if x != -0.5 {
				t.Fatalf("AdamW on %d weights: p[%d] = %g, want -0.5 (every weight stepped once)", n, i, x)
			}
		}

		x := make([]float32, 9_000_000)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		y := make([]float32, len(x))
		for i := range y {
			y[i] = float32(math.NaN())
		}
		GELUForward(y, x)
		for i := range y {
			want := geluRef([]float64{float64(x[i])})[0]
			if !(math.Abs(float64(y[i])-want) <= 1e-6) {
				t.Fatalf("GELU over %d values: y[%d] = %g, want %g", len(x), i, y[i], want)
			}
		}
	})
}
