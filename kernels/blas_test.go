// Tests for Sgemm against a naive triple loop, plus the helpers the CPU kernel
// tests share: seeded random slices, float64 copies, maxdiff and central
// finite differences.

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// testRand returns n normal samples scaled by s from r.
func testRand(r *rand.Rand, n int, s float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = s * float32(r.NormFloat64())
	}
	return x
}

// testNaN returns n NaNs, for outputs that must be overwritten.
func testNaN(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

func test64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// testMaxDiff returns max |got-want| (NaN counts as infinite).
func testMaxDiff(got []float32, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range got {
		e := math.Abs(float64(got[i]) - want[i])
		if math.IsNaN(e) {
			return math.Inf(1)
		}
		d = max(d, e)
	}
	return d
}

// testDot64 returns sum(a*b), the scalar loss L = sum(out*r) of the FD checks.
func testDot64(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// testNumGrad returns dL/dx by central differences: f evaluates L at the
// current contents of x.
func testNumGrad(x []float64, f func() float64) []float64 {
	const h = 1e-6
	g := make([]float64, len(x))
	for i := range x {
		x0 := x[i]
		x[i] = x0 + h
		up := f()
		x[i] = x0 - h
		down := f()
		x[i] = x0
		g[i] = (up - down) / (2 * h)
	}
	return g
}

// testCheck fails t when got and want differ by more than tol, and logs maxdiff.
func testCheck(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	d := testMaxDiff(got, want)
	t.Logf("%-24s maxdiff %.3g", name, d)
	if !(d <= tol) {
		t.Errorf("%s: maxdiff %.3g > %.3g", name, d, tol)
	}
}

// naiveGemm is the reference: C = alpha*op(A)op(B) + beta*C, reading C only when beta != 0.
func naiveGemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			s := 0.0
			for l := range k {
				ai, bi := i*lda+l, l*ldb+j
				if tA {
					ai = l*lda + i
				}
				if tB {
					bi = j*ldb + l
				}
				av, bv := a[ai], b[bi]
				s += av * bv
			}
			s *= alpha
			if beta != 0 {
				s += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

func TestSgemm(t *testing.T) {
	t.Logf("BLAS: %s", BLASName())
	r := rand.New(rand.NewPCG(1, 2))
	type tc struct {
		m, n, k     int
		alpha, beta float32
	}
	cases := []tc{
		{5, 7, 3, 0.7, -0.3}, {37, 29, 41, 1, 0}, {64, 65, 130, -1.5, 1},
		{3, 4, 0, 1, 0.5}, {0, 4, 3, 1, 0.5}, {4, 0, 3, 1, 0.5}, {3, 4, 5, 0, 2},
		// Large enough for sgemm to split C: by rows (m >= n), by columns (n > m).
		{300, 130, 70, 0.5, 1}, {131, 517, 40, 1, 0},
		// One row (sampling a token): gemvRow, serial and split by columns.
		{1, 37, 29, 0.7, -0.3}, {1, 9, 5, 1, 0}, {1, 1100, 130, 1, 0}, {1, 1025, 300, -0.5, 1},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3)) // three workers: uneven blocks
	for _, c := range cases {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			name := fmt.Sprintf("m%d_n%d_k%d_a%g_b%g_tA%v_tB%v", c.m, c.n, c.k, c.alpha, c.beta, tr[0], tr[1])
			t.Run(name, func(t *testing.T) {
				tA, tB := tr[0], tr[1]
				ar, ac := c.m, c.k
				if tA {
					ar, ac = c.k, c.m
				}
				br, bc := c.k, c.n
				if tB {
					br, bc = c.n, c.k
				}
				lda, ldb, ldc := ac+3, bc+1, c.n+2
				a := testRand(r, max(ar*lda, 1), 1)
				b := testRand(r, max(br*ldb, 1), 1)
				cm := testRand(r, c.m*ldc, 1)
				if c.beta == 0 { // BLAS does not read C when beta is 0
					cm = testNaN(c.m * ldc)
				}
				want := test64(cm)
				naiveGemm(tA, tB, c.m, c.n, c.k, float64(c.alpha), test64(a), lda, test64(b), ldb, float64(c.beta), want, ldc)
				Sgemm(tA, tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cm, ldc)
				for i := range c.m { // the padding columns must be untouched
					for j := c.n; j < ldc; j++ {
						cm[i*ldc+j], want[i*ldc+j] = 0, 0
					}
				}
				if d := testMaxDiff(cm, want); d > 1e-4 {
					t.Errorf("maxdiff %.3g", d)
				}
			})
		}
	}
}

func TestSgemmPanicsOnShortSlice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short A")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

func TestSetThreads(t *testing.T) {
	SetThreads(2)
	SetThreads(1)
	if n := BLASName(); n != "gonum" && !strings.HasPrefix(n, "openblas/") {
		t.Errorf("BLASName() = %q", n)
	}
}

func BenchmarkSgemm(b *testing.B) {
	// GPT-1 shapes at B=8, T=512 (M = 4096 rows): the QKV projection forward,
	// its weight gradient (xᵀ @ dy) and the MLP down-projection input gradient;
	// then the bench configs' shapes: the small model's QKV (768 rows, C=128),
	// the medium one's MLP (1024 rows, C=384) and GPT-1's LM head at B*T=512;
	shapes := []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"qkv_fwd_4096x2304x768", false, false, 4096, 2304, 768},
		{"qkv_dW_768x2304x4096_tA", true, false, 768, 2304, 4096},
		{"mlp_dx_4096x3072x768_tB", false, true, 4096, 768, 3072},
		{"small_qkv_768x384x128", false, false, 768, 384, 128},
		{"medium_fc_1024x1536x384", false, false, 1024, 1536, 384},
		{"gpt1_head_512x40478x768_tB", false, true, 512, 40478, 768},
		// One row: GPT-2 124M sampling a token, its QKV projection and LM head.
		{"row_qkv_1x2304x768", false, false, 1, 2304, 768},
		{"row_head_1x50257x768_tB", false, true, 1, 50257, 768},
	}
	for _, s := range shapes {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%s/threads=%d", BLASName(), s.name, threads), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
				r := rand.New(rand.NewPCG(1, 2))
				a := testRand(r, s.m*s.k, 1)
				bm := testRand(r, s.k*s.n, 1)
				c := make([]float32, s.m*s.n)
				lda, ldb := s.k, s.n
				if s.tA {
					lda = s.m
				}
				if s.tB {
					ldb = s.k
				}
				b.ResetTimer()
				for b.Loop() {
					Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func TestCoreTypeNote(t *testing.T) {
	for _, c := range []struct {
		env, core string
		avx512    bool
		note      bool
	}{
		{"Haswell", "Haswell", true, true},   // the environment holds back a CPU with AVX-512
		{"zen", "Zen", true, true},           // any name, any case
		{"", "Haswell", true, false},         // gptctl's own choice (a library that could not load SkylakeX)
		{"Haswell", "Haswell", false, false}, // the CPU has nothing better
		{"SkylakeX", "SkylakeX", true, false},
		{"Cooperlake", "Cooperlake", true, false},
		{"sapphirerapids", "SapphireRapids", true, false},
	} {
		got := coreTypeNote(c.env, c.core, c.avx512)
		if (got != "") != c.note {
			t.Errorf("coreTypeNote(%q, %q, %v) = %q, want a note: %v", c.env, c.core, c.avx512, got, c.note)
		}
		if got != "" && (!strings.Contains(got, "OPENBLAS_CORETYPE="+c.env) || !strings.Contains(got, "unset it")) {
			t.Errorf("coreTypeNote(%q, %q, %v) = %q: should name the setting and the fix", c.env, c.core, c.avx512, got)
		}
	}
}
