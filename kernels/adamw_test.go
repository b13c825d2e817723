// Tests for AdamW against a two-step example worked by hand.

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Worked example, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01.
// Element 0, p=1:
//
//	step 1, g=0.5:   p = 1 - 0.1*0.01*1 = 0.999; m = 0.05; v = 0.001*0.25 = 0.00025
//	                 mhat = 0.05/0.1 = 0.5; vhat = 0.00025/0.001 = 0.25
//	                 p = 0.999 - 0.1*0.5/(0.5+1e-8) = 0.899000002
//	step 2, g=-0.25: p = 0.899000002*0.999 = 0.898101002; m = 0.045-0.025 = 0.02
//	                 v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
//	                 mhat = 0.02/0.19 = 0.1052631579; vhat = 0.00031225/0.001999 = 0.1562031016
//	                 p = 0.898101002 - 0.1*0.1052631579/(0.3952254440+1e-8) = 0.8714672987
//
// Element 1, p=-2, g = 0 then 1 (a zero gradient only decays p); element 2,
// p=0.5, g = 3 twice (|update| = lr while the gradient is constant).
func TestAdamW(t *testing.T) {
	p := []float32{1, -2, 0.5}
	m, v := make([]float32, 3), make([]float32, 3)
	grads := [][]float32{{0.5, 0, 3}, {-0.25, 1, 3}}
	want := [][3][]float64{
		{{0.899000002, -1.998, 0.3995000003333333}, {0.05, 0, 0.3}, {0.00025, 0, 0.009}},
		{{0.8714672987058463, -2.070415681304593, 0.299100500666334}, {0.02, 0.1, 0.57}, {0.00031225, 0.001, 0.017991}},
	}
	for s, g := range grads {
		AdamW(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 0.01, s+1)
		for k, got := range [][]float32{p, m, v} {
			name := [...]string{"p", "m", "v"}[k]
			d := testMaxDiff(got, want[s][k])
			t.Logf("step %d %s maxdiff %.3g", s+1, name, d)
			if d > 1e-6 {
				t.Errorf("step %d: %s = %v, want %v", s+1, name, got, want[s][k])
			}
		}
	}
}

// TestAdamWLarge checks a tensor long enough to split over workers, with a
// tail for the Go loop, against float64 arithmetic, on both paths.
func TestAdamWLarge(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		n := 2*adamBlock + 5
		p, g := testRand(rng, n, 1), testRand(rng, n, 0.1)
		m, v := testRand(rng, n, 0.01), testRand(rng, n, 0.001)
		for i := range v {
			v[i] = v[i] * v[i]
		}
		lr, b1, b2, eps, wd, step := 1e-3, 0.9, 0.95, 1e-8, 0.1, 7
		wantP, wantM, wantV := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range p {
			wantM[i] = b1*float64(m[i]) + (1-b1)*float64(g[i])
			wantV[i] = b2*float64(v[i]) + (1-b2)*float64(g[i])*float64(g[i])
			mhat, vhat := wantM[i]/(1-math.Pow(b1, float64(step))), wantV[i]/(1-math.Pow(b2, float64(step)))
			wantP[i] = float64(p[i])*(1-lr*wd) - lr*mhat/(math.Sqrt(vhat)+eps)
		}
		AdamW(p, g, m, v, lr, b1, b2, eps, wd, step)
		testCheck(t, "p", p, wantP, 1e-6)
		testCheck(t, "m", m, wantM, 5e-8)
		testCheck(t, "v", v, wantV, 1e-8)
	})
}

// TestAdamWConstantsAsPyTorch checks the moments of a first step from zero
// against PyTorch's arithmetic: its Python-float constants rounded to
// float32 once (1-beta2 = float32(0.001)), not 1 - float32(0.999), which is
// 1.3e-5 (relative) below.
func TestAdamWConstantsAsPyTorch(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		n := 37
		p, g := testRand(rng, n, 1), testRand(rng, n, 0.1)
		m, v := make([]float32, n), make([]float32, n)
		AdamW(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1)
		for i, gi := range g {
			wantM, wantV := float32(0.1)*gi, float32(0.001)*gi*gi
			if math.Abs(float64(m[i]-wantM)) > 3e-7*math.Abs(float64(wantM)) || math.Abs(float64(v[i]-wantV)) > 3e-7*float64(wantV) {
				t.Fatalf("element %d: m %g, v %g; want %g, %g (1-beta rounded from float64)", i, m[i], v[i], wantM, wantV)
			}
		}
	})
}

// TestAdamWHugeGradient checks a gradient whose square overflows float32
// (|g| above 1.8e19, reachable with grad_clip 0): (1-beta2) g g is finite
// up to 5.8e20, as PyTorch computes it, so v stays finite and the weight
// moves, in the vector body and the tail alike.
func TestAdamWHugeGradient(t *testing.T) {
	testBothPaths(t, func(t *testing.T) {
		const n = 11
		p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range g {
			p[i], g[i] = 1, 1e20
		}
		AdamW(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1)
		for i := range v {
			if math.Abs(float64(v[i])/1e37-1) > 1e-6 || math.Abs(float64(p[i])-0.999) > 1e-6 {
				t.Fatalf("element %d: v %g, p %g; want 1e37 and 0.999", i, v[i], p[i])
			}
		}
	})
}

func BenchmarkAdamW(b *testing.B) {
	n := 1 << 22 // 4M parameters
	r := rand.New(rand.NewPCG(1, 2))
	p, g := testRand(r, n, 1), testRand(r, n, 1)
	m, v := make([]float32, n), make([]float32, n)
	step := 0
	for b.Loop() {
		step++
		AdamW(p, g, m, v, 6.25e-5, 0.9, 0.999, 1e-8, 0.01, step)
	}
	b.SetBytes(int64(7 * n * 4)) // read p, g, m, v; write p, m, v
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
}
