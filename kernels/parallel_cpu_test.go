// Tests that the CPU kernels' parallel splits cover tensors of the sizes
// real models have, also where int has 32 bits (make test runs these under
// GOARCH=386).

package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
		// Step 1 from zero with g=1: p = about -lr, as one weight alone
		// steps; an element stepped twice or not at all differs.
		one := []float32{0}
		AdamW(one, []float32{1}, []float32{0}, []float32{0}, 0.5, 0.9, 0.999, 0, 0.1, 1)
		if math.Abs(float64(one[0])+0.5) > 1e-6 {
			t.Fatalf("AdamW on one weight: %g, want -0.5", one[0])
		}
		AdamW(p, g, m, v, 0.5, 0.9, 0.999, 0, 0.1, 1)
		for i, x := range p {
			if x != one[0] {
				t.Fatalf("AdamW on %d weights: p[%d] = %g, want %g (every weight stepped once)", n, i, x, one[0])
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

// AddInto and ScaleInto round every element as the plain loop does, split
// over the pool or not, in place (y is a or b) or not.
func TestAddIntoScaleIntoMatchLoops(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, n := range []int{0, 1, 13, 1 << 16, 3<<16 + 5} {
			a, b := testRand(rng, n, 1), testRand(rng, n, 1)
			want := make([]float32, n)
			for i := range want {
				want[i] = a[i] + b[i]
			}
			y := make([]float32, n)
			AddInto(y, a, b)
			ya, yb := slices.Clone(a), slices.Clone(b)
			AddInto(ya, ya, b)
			AddInto(yb, a, yb)
			for name, got := range map[string][]float32{"y": y, "y=a": ya, "y=b": yb} {
				if !slices.Equal(got, want) {
					t.Fatalf("AddInto %s, n %d: differs from a[i]+b[i]", name, n)
				}
			}
			const s = float32(1) / 3
			acc := slices.Clone(b)
			ScaleInto(acc, a, s, true)
			set := make([]float32, n)
			ScaleInto(set, a, s, false)
			for i := range n {
				if acc[i] != b[i]+float32(s*a[i]) || set[i] != s*a[i] {
					t.Fatalf("ScaleInto, n %d, element %d: %g, %g; want %g, %g", n, i, acc[i], set[i], b[i]+float32(s*a[i]), s*a[i])
				}
			}
		}
	})
}

// parallelFor runs its items on as many goroutines as GOMAXPROCS allows,
// past the helpers it tracks on the stack too: 40 items that each wait
// until 40 run at once finish only if they all do.
func TestParallelForUsesAllThreads(t *testing.T) {
	const n = 40
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	var running, peak atomic.Int32
	all := make(chan struct{})
	var once sync.Once
	parallelFor(n, func(int) {
		r := running.Add(1)
		for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
		}
		if r == n {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		}
		running.Add(-1)
	})
	if got := peak.Load(); got != n {
		t.Errorf("GOMAXPROCS %d: at most %d items ran at once", n, got)
	}
}
