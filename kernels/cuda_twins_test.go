//go:build cuda

// The twin cases: each kernel's launcher and its CPU twin on the same
// random inputs (see cuda_test.go for the harness).

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// all runs every kernel once at these sizes.
func (g *gpuHarness) all(b, t, c, nHead, v int) {
	g.rng = rand.New(rand.NewPCG(uint64(b*t), uint64(c)))
	g.layerNorm(b*t, c)
	g.layerNorm(5, 2*lnChunk+3) // three passes of the backward's shared sums
	g.gelu(b * t * 4 * c)
	g.attention(b, t, c, nHead, 0)
	g.attention(b, t, c, nHead, 0.1)
	g.flash(b, t, c, nHead, 0)
	g.flash(b, t, c, nHead, 0.1)
	g.flash(1, 40, 32, 2, 0)  // head size 16
	g.flash(2, 5, 64, 4, 0.1) // head size 16, fewer rows than a warp takes
	g.crossEntropy(b*t, v)
	g.embedding(b, t, c, v)
	g.elementwise(b * t * c)
	g.adamW(3*c*c + 7)
	g.gemm(b*t, 3*c, c)
	g.chunkedGemm(b, t, c, nHead)
	g.toBF16(b*t*c + 1)
	g.linear(b*t, c, 4*c, v)
	g.head(b*t, c)
	g.gradNorm(c)
	g.decode(b, t, c, nHead, v)
}

func (g *gpuHarness) layerNorm(n, c int) {
	const eps = 1e-5
	x, w, bb, dy := g.randn(n*c, 2), g.randn(c, 1), g.randn(c, 1), g.randn(n*c, 1)
	for j := range c {
		x[j] += 10 // an offset row, as in TestLayerNorm
		if n > 1 {
			x[c+j] = 1000.1 // a row of equal values far from 0: y = b
		}
	}
	y, mean, rstd := make([]float32, n*c), make([]float32, n), make([]float32, n)
	dx, dw, db := make([]float32, n*c), make([]float32, c), make([]float32, c)
	g.cpu(func() {
		LayerNormForward(y, mean, rstd, x, w, bb, n, c, eps)
		LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd, n, c)
	})

	gx, gw, gb, gdy := g.up(x), g.up(w), g.up(bb), g.up(dy)
	gy, gm, gr := g.alloc(n*c), g.alloc(n), g.alloc(n)
	ms := g.timed(func() error { return g.d.LayerNormForward(gy, gm, gr, gx, gw, gb, n, c, eps) })
	g.compare("layernorm_fwd y", ms, g.down(gy, n*c), y, 1e-5, 1e-5)
	g.compare("layernorm_fwd mean", ms, g.down(gm, n), mean, 1e-5, 1e-6)
	g.compare("layernorm_fwd rstd", ms, g.down(gr, n), rstd, 1e-5, 1e-5)
	gdx, gdw, gdb := g.alloc(n*c), g.alloc(c), g.alloc(c)
	ms = g.timed(func() error { return g.d.LayerNormBackward(gdx, gdw, gdb, gdy, gx, gw, gm, gr, n, c) })
	g.compare("layernorm_bwd dx", ms, g.down(gdx, n*c), dx, 1e-4, 1e-4)
	g.compare("layernorm_bwd dw", ms, g.down(gdw, c), dw, 1e-3, 1e-4)
	g.compare("layernorm_bwd db", ms, g.down(gdb, c), db, 1e-3, 1e-4)
}

func (g *gpuHarness) gelu(n int) {
	x, dy := g.randn(n, 4), g.randn(n, 1)
	if n > 4 {
		x[0], x[1], x[2], x[3] = 3e19, -3e19, 1e30, -1e30 // x² overflows: gelu' is 1 or 0
	}
	for _, erf := range []bool{false, true} {
		name := "gelu"
		y, dx := make([]float32, n), make([]float32, n)
		g.cpu(func() {
			if erf {
				name = "gelu_erf"
				GELUErfForward(y, x)
				GELUErfBackward(dx, dy, x)
			} else {
				GELUForward(y, x)
				GELUBackward(dx, dy, x)
			}
		})
		gx, gdy, gy, gdx := g.up(x), g.up(dy), g.alloc(n), g.alloc(n)
		ms := g.timed(func() error { return g.d.GELUForward(gy, gx, n, erf) })
		g.compare(name+"_fwd", ms, g.down(gy, n), y, 2e-6, 1e-5)
		ms = g.timed(func() error { return g.d.GELUBackward(gdx, gdy, gx, n, erf) })
		g.compare(name+"_bwd", ms, g.down(gdx, n), dx, 2e-6, 1e-5)
	}
}

func (g *gpuHarness) attention(b, t, c, nHead int, p float32) {
	na := b * nHead * t * t
	qkv, dout := g.randn(b*t*3*c, 1), g.randn(b*t*c, 1)
	var drop []float32
	var gdrop Buffer
	name := "attention"
	if p > 0 {
		drop = make([]float32, na)
		g.cpu(func() { dropoutMaskHash(drop, p, 7, 0) })
		gdrop = g.up(drop)
		name = "attention+dropout"
	}
	out, att, dqkv := make([]float32, b*t*c), make([]float32, na), make([]float32, b*t*3*c)
	g.cpu(func() {
		AttentionForward(out, att, qkv, b, t, c, nHead, p, 7)
		AttentionBackward(dqkv, dout, qkv, att, b, t, c, nHead, p, 7)
	})

	gqkv, gdout := g.up(qkv), g.up(dout)
	gout, gatt, gdqkv := g.alloc(b*t*c), g.alloc(na), g.alloc(b*t*3*c)
	// gemm.cu's products; and cuBLAS's when it is loaded, in float32 and
	// on bfloat16 operands (within 5e-2: P and the scores are rounded to
	// 8 bits of mantissa before their products).
	type path struct {
		label     string
		own, bf16 bool
		tol       float64
	}
	paths := []path{{"", true, false, 0}}
	if g.d.UsesCublas() {
		paths = []path{{" own", true, false, 0}, {" cuBLAS", false, false, 0}, {" cuBLAS bf16", false, true, 5e-2}}
	}
	defer func(own bool) { g.d.ownAttention = own }(g.d.ownAttention)
	for _, pa := range paths {
		g.d.ownAttention = pa.own
		g.must(g.d.SetBF16(pa.bf16))
		label := name + pa.label
		tol := func(t float64) float64 { return max(t, pa.tol) }
		g.must(g.d.Zero(gatt)) // the cuBLAS path must write every element, not reuse the last run's
		ms := g.timed(func() error { return g.d.AttentionForward(gout, gatt, gqkv, b, t, c, nHead, gdrop) })
		g.compare(label+"_fwd out", ms, g.down(gout, b*t*c), out, tol(1e-4), tol(1e-4))
		g.compare(label+"_fwd att", ms, g.down(gatt, na), att, tol(1e-5), tol(1e-4))
		g.must(g.d.Zero(gdqkv))
		ms = g.timed(func() error { return g.d.AttentionBackward(gdqkv, gdout, gqkv, gatt, b, t, c, nHead, gdrop) })
		g.compare(label+"_bwd dqkv", ms, g.down(gdqkv, b*t*3*c), dqkv, tol(1e-4), tol(1e-3))
	}
	g.must(g.d.SetBF16(false))
}

// flash compares flash.cu with its CPU twins, with dropout p on the
// probabilities. Its products are TF32 (10 bits of mantissa), the CPU's
// float32: hence the wider tolerances. dqkv starts as NaN, so an element
// the kernels do not write fails.
func (g *gpuHarness) flash(b, t, c, nHead int, p float32) {
	const seed = 99
	qkv, dout := g.randn(b*t*3*c, 1), g.randn(b*t*c, 1)
	out, lse, dqkv := make([]float32, b*t*c), make([]float32, b*nHead*t), make([]float32, b*t*3*c)
	g.cpu(func() {
		FlashAttentionForward(out, lse, qkv, b, t, c, nHead, p, seed)
		FlashAttentionBackward(dqkv, dout, qkv, out, lse, b, t, c, nHead, p, seed)
	})
	gqkv, gdout := g.up(qkv), g.up(dout)
	gout, gsave, glse := g.alloc(b*t*c), g.alloc(b*t*c), g.alloc(b*nHead*t)
	label := fmt.Sprintf("flash hs%d", c/nHead)
	if p > 0 {
		label += "+dropout"
	}
	ms := g.timed(func() error { return g.d.FlashAttentionForward(gout, gsave, glse, gqkv, b, t, c, nHead, p, seed) })
	g.compare(label+"_fwd out", ms, g.down(gout, b*t*c), out, 3e-3, 3e-3)
	g.compare(label+"_fwd saved out", ms, g.down(gsave, b*t*c), out, 3e-3, 3e-3)
	g.compare(label+"_fwd lse", ms, g.down(glse, b*nHead*t), lse, 2e-3, 2e-3)
	nan := make([]float32, b*t*3*c)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	gdqkv := g.up(nan)
	ms = g.timed(func() error {
		return g.d.FlashAttentionBackward(gdqkv, gdout, gqkv, gsave, glse, b, t, c, nHead, p, seed)
	})
	g.compare(label+"_bwd dqkv", ms, g.down(gdqkv, b*t*3*c), dqkv, 5e-3, 5e-3)
}

func (g *gpuHarness) crossEntropy(n, v int) {
	logits := g.randn(n*v, 4)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(g.rng.IntN(v))
		if i%5 == 3 {
			targets[i] = -1 // ignored rows
		}
	}
	probs, dlogits := make([]float32, n*v), make([]float32, n*v)
	var sum float64
	count := 1
	const dloss = 0.7
	g.cpu(func() {
		sum, count = CrossEntropyForward(probs, logits, targets, n, v, v)
		CrossEntropyBackward(dlogits, probs, targets, n, v, v, dloss/float32(count))
	})

	gl, gt := g.up(logits), g.upInt(targets)
	gp, gloss, gstats := g.alloc(n*v), g.alloc(n), g.alloc(2)
	ms := g.timed(func() error { return g.d.CrossEntropyForward(gp, gloss, gstats, gl, gt, n, v, v) })
	g.compare("crossentropy_fwd probs", ms, g.down(gp, n*v), probs, 1e-7, 1e-5)
	g.compare("crossentropy_fwd mean,count", ms, g.down(gstats, 2), []float32{float32(sum / float64(count)), float32(count)}, 1e-6, 1e-5)
	gd, gdl := g.alloc(n*v), g.up([]float32{dloss})
	ms = g.timed(func() error { return g.d.CrossEntropyBackward(gd, gp, gt, gdl, gstats, n, v, v) })
	g.compare("crossentropy_bwd", ms, g.down(gd, n*v), dlogits, 1e-8, 1e-5)

	// Rows padded to a multiple of 64 columns (the padding 1e30, which would
	// swamp the softmax if read): probs over the classes, dlogits 0 in the padding.
	w := (v + 63) / 64 * 64
	if w == v {
		w += 64
	}
	padded := padRows(logits, n, v, w, 1e30)
	pprobs, pdlogits := make([]float32, n*w), make([]float32, n*w)
	g.cpu(func() {
		CrossEntropyForward(pprobs, padded, targets, n, v, w)
		CrossEntropyBackward(pdlogits, pprobs, targets, n, v, w, dloss/float32(count))
	})
	gpl, gpp, gpd := g.up(padded), g.alloc(n*w), g.alloc(n*w)
	ms = g.timed(func() error { return g.d.CrossEntropyForward(gpp, gloss, gstats, gpl, gt, n, v, w) })
	g.compare("crossentropy_fwd padded mean", ms, g.down(gstats, 2), []float32{float32(sum / float64(count)), float32(count)}, 1e-6, 1e-5)
	ms = g.timed(func() error { return g.d.CrossEntropyBackward(gpd, gpp, gt, gdl, gstats, n, v, w) })
	g.compare("crossentropy_bwd padded", ms, g.down(gpd, n*w), pdlogits, 1e-8, 1e-5)
}

func (g *gpuHarness) embedding(b, t, c, v int) {
	wte, wpe, dout := g.randn(v*c, 1), g.randn((t+3)*c, 1), g.randn(b*t*c, 1)
	idx := make([]int32, b*t)
	for i := range idx {
		idx[i] = int32(g.rng.IntN(min(v, 50))) // repeated ids: the scatter-add collides
	}
	out, dwte, dwpe := make([]float32, b*t*c), make([]float32, v*c), make([]float32, t*c)
	g.cpu(func() {
		EmbeddingForward(out, wte, wpe, idx, b, t, c)
		EmbeddingBackward(dwte, dwpe, dout, idx, b, t, c)
	})

	gwte, gwpe, gdout, gidx := g.up(wte), g.up(wpe), g.up(dout), g.upInt(idx)
	gout, gdwte, gdwpe := g.alloc(b*t*c), g.alloc(v*c), g.alloc(t*c)
	ms := g.timed(func() error { return g.d.EmbeddingForward(gout, gwte, gwpe, gidx, b, t, c, v) })
	g.compare("embedding_fwd", ms, g.down(gout, b*t*c), out, 0, 0)
	ms = g.timed(func() error { return g.d.EmbeddingBackward(gdwte, gdwpe, gdout, gidx, b, t, c, v) })
	g.compare("embedding_bwd dwte", ms, g.down(gdwte, v*c), dwte, 1e-5, 1e-5)
	g.compare("embedding_bwd dwpe", ms, g.down(gdwpe, t*c), dwpe, 1e-5, 1e-5)
}

// elementwise covers the residual add, the gradient accumulation, the
// dropout mask and its application.
func (g *gpuHarness) elementwise(n int) {
	a, b := g.randn(n, 1), g.randn(n, 1)
	sum := make([]float32, n)
	g.cpu(func() { AddInto(sum, a, b) })
	ga, gb, gy := g.up(a), g.up(b), g.alloc(n)
	ms := g.timed(func() error { return g.d.Add(gy, ga, gb, n) })
	g.compare("add", ms, g.down(gy, n), sum, 0, 0)
	ms = g.timed(func() error { return g.d.AddInPlace(ga, gb, n) })
	g.compare("add_inplace", ms, g.down(ga, n), sum, 0, 0)

	const p, seed, offset = 0.1, 1234, 99
	mask := make([]float32, n)
	g.cpu(func() { dropoutMaskHash(mask, p, seed, offset) })
	gmask := g.alloc(n)
	ms = g.timed(func() error { return g.d.DropoutMask(gmask, n, p, seed, offset) })
	g.compare("dropout_mask", ms, g.down(gmask, n), mask, 0, 0)
	y := make([]float32, n)
	for i, v := range b { // dropoutOp.Forward's loop
		y[i] = v * mask[i]
	}
	ms = g.timed(func() error { return g.d.Mul(gy, gb, gmask, n) })
	g.compare("dropout_apply (mul)", ms, g.down(gy, n), y, 0, 0)
	if g.real() {
		kept := 0
		for _, m := range mask {
			if m != 0 {
				kept++
			}
		}
		// Within 5 standard errors of the keep rate (0.01 at n = 10,000).
		if f, tol := float64(kept)/float64(n), 5*math.Sqrt(float64(p*(1-p))/float64(n)); math.Abs(f-(1-p)) > max(tol, 0.01) {
			g.t.Errorf("dropout mask keeps %.4f of the elements, want %.2f", f, 1-p)
		}
	}
}

func (g *gpuHarness) adamW(n int) {
	p, m, v := g.randn(n, 1), make([]float32, n), make([]float32, n)
	gp, gm, gv := g.up(p), g.up(m), g.up(v)
	var ms float64
	for step := 1; step <= 3; step++ {
		grad := g.randn(n, 1)
		g.cpu(func() { AdamW(p, grad, m, v, 6e-4, 0.9, 0.95, 1e-8, 0.1, step) })
		gg := g.up(grad)
		ms = g.timed(func() error { return g.d.AdamW(gp, gg, gm, gv, n, 6e-4, 0.9, 0.95, 1e-8, 0.1, step, Buffer{}) })
	}
	g.compare("adamw p (3 steps)", ms, g.down(gp, n), p, 1e-6, 1e-5)
	g.compare("adamw m", ms, g.down(gm, n), m, 1e-7, 1e-5)
	g.compare("adamw v", ms, g.down(gv, n), v, 1e-8, 1e-5)

	// The step guard, then AdamW reading its verdict: a finite sum of
	// squares lets the update through, a NaN or an infinity refuses it and
	// every later step, and the state records the first refused step.
	state := g.alloc(4)
	g.must(g.d.Zero(state))
	var refused [2]int32
	for step, sumsq := range []float64{2.5, 0, math.NaN(), 3, math.Inf(1)} {
		g.must(g.d.Upload(state.Slice(0, 2), float64Words(sumsq)))
		g.cpu(func() { StepGuard(sumsq, &refused, 10+step) })
		ms = g.timed(func() error { return g.d.StepGuard(state, 10+step) })
		_, gotN, gotFirst, err := g.d.DownloadStepState(state)
		g.must(err)
		g.compare(fmt.Sprintf("step guard, sum of squares %v", sumsq), ms, []float32{float32(gotN), float32(gotFirst)},
			[]float32{float32(refused[0]), float32(refused[1])}, 0, 0)
		grad := g.randn(n, 1)
		if refused[0] == 0 {
			g.cpu(func() { AdamW(p, grad, m, v, 6e-4, 0.9, 0.95, 1e-8, 0.1, 4+step) })
		}
		gg := g.up(grad)
		ms = g.timed(func() error {
			return g.d.AdamW(gp, gg, gm, gv, n, 6e-4, 0.9, 0.95, 1e-8, 0.1, 4+step, state.Slice(2, 1))
		})
		g.compare(fmt.Sprintf("adamw p after a guard on %v", sumsq), ms, g.down(gp, n), p, 1e-6, 1e-5)
	}
}

// float64Words is x as the two 4-byte words a device float64 occupies.
func float64Words(x float64) []float32 {
	b := math.Float64bits(x)
	return []float32{math.Float32frombits(uint32(b)), math.Float32frombits(uint32(b >> 32))}
}

// chunkedGemm runs gemm.cu's products with at most two products or tiles of
// rows to a launch, so that they take several, as over 65535 do.
func (g *gpuHarness) chunkedGemm(b, t, c, nHead int) {
	defer func(l int) { gemmGridLimit = l }(gemmGridLimit)
	gemmGridLimit = 2
	g.attention(b, t, c, nHead, 0.1)
	g.gemm(3*gemmTile+5, 2*c, c)
}

// gemm runs every transpose combination through gemm.cu's kernel and,
// when it is loaded, cuBLAS, with strides wider than the rows.
func (g *gpuHarness) gemm(m, n, k int) {
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		ta, tb := tr[0], tr[1]
		ar, ac, br, bc := m, k, k, n
		if ta {
			ar, ac = k, m
		}
		if tb {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+3, bc+1, n+5
		a, b, c0 := g.randn(ar*lda, 1), g.randn(br*ldb, 1), g.randn(m*ldc, 1)
		want := append([]float32(nil), c0...)
		g.cpu(func() { Sgemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, ldc) })
		ga, gb := g.up(a), g.up(b)
		name := fmt.Sprintf("sgemm %c%c %dx%dx%d", "nt"[b2i(ta)], "nt"[b2i(tb)], m, n, k)
		gc := g.up(c0)
		ms := g.timed(func() error { return g.d.SgemmOwn(ta, tb, m, n, k, 0.5, ga, lda, gb, ldb, 0.25, gc, ldc) })
		g.compare(name+" own", ms, g.down(gc, m*ldc), want, 1e-4, 1e-4)
		if g.d.UsesCublas() {
			gc := g.up(c0)
			ms := g.timed(func() error { return g.d.Sgemm(ta, tb, m, n, k, 0.5, ga, lda, gb, ldb, 0.25, gc, ldc) })
			g.compare(name+" cuBLAS", ms, g.down(gc, m*ldc), want, 1e-4, 1e-4)

			// bf16: the product of the operands rounded to bfloat16,
			// accumulated in float32 like the CPU's.
			ra, rb, wantBF := roundBF16(a), roundBF16(b), append([]float32(nil), c0...)
			g.cpu(func() { Sgemm(ta, tb, m, n, k, 0.5, ra, lda, rb, ldb, 0.25, wantBF, ldc) })
			g.must(g.d.SetBF16(true))
			gc = g.up(c0)
			ms = g.timed(func() error { return g.d.Sgemm(ta, tb, m, n, k, 0.5, ga, lda, gb, ldb, 0.25, gc, ldc) })
			g.must(g.d.SetBF16(false))
			g.compare(name+" cuBLAS bf16", ms, g.down(gc, m*ldc), wantBF, 1e-4, 1e-4)
		}
	}
}

// roundBF16 returns x with every element rounded to bfloat16.
func roundBF16(x []float32) []float32 {
	r := make([]float32, len(x))
	for i, v := range x {
		r[i] = FromBF16(BF16(v))
	}
	return r
}

// toBF16 checks the float32-to-bfloat16 kernel bit for bit, on an odd count
// (the last 16-bit value shares a slot) and values that round each way.
func (g *gpuHarness) toBF16(n int) {
	x := g.randn(n, 3)
	x[0], x[1], x[2] = float32(math.Inf(1)), math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000)
	want := make([]float32, n)
	g.cpu(func() {
		for i, v := range x {
			want[i] = float32(BF16(v))
		}
	})
	gx, gy := g.up(x), g.alloc((n+1)/2)
	ms := g.timed(func() error { return g.d.ToBF16(gy, gx, n) })
	raw := g.down(gy, (n+1)/2)
	got := make([]float32, n)
	for i := range got {
		w := math.Float32bits(raw[i/2])
		got[i] = float32(uint16(w >> (16 * (i % 2)))) // little-endian: element 2j in the low half
	}
	g.compare("to_bf16 (bits)", ms, got, want, 0, 0)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// linear runs LinearForward/Backward against linearOp's CPU steps, with a
// bias and w (in, out), and without a bias and w (out, in) as the tied head.
func (g *gpuHarness) linear(n, in, out, v int) {
	for _, transW := range []bool{false, true} {
		o := out
		if transW {
			o = min(v, 4096)
		}
		x, w, bias, dy := g.randn(n*in, 1), g.randn(in*o, 0.1), g.randn(o, 1), g.randn(n*o, 1)
		y := make([]float32, n*o)
		ldw := o
		if transW {
			ldw = in
			bias = nil
		} else {
			for r := range n {
				copy(y[r*o:], bias)
			}
		}
		dx, dw, db := make([]float32, n*in), make([]float32, in*o), make([]float32, o)
		g.cpu(func() {
			Sgemm(false, transW, n, o, in, 1, x, in, w, ldw, float32(b2i(bias != nil)), y, o)
			if transW {
				Sgemm(false, false, n, in, o, 1, dy, o, w, in, 0, dx, in)
				Sgemm(true, false, o, in, n, 1, dy, o, x, in, 0, dw, in)
			} else {
				Sgemm(false, true, n, in, o, 1, dy, o, w, o, 0, dx, in)
				Sgemm(true, false, in, o, n, 1, x, in, dy, o, 0, dw, o)
				sumRows(db, dy, n, o)
			}
		})
		gx, gw, gdy := g.up(x), g.up(w), g.up(dy)
		var gbias, gdb Buffer
		if bias != nil {
			gbias, gdb = g.up(bias), g.alloc(o)
		}
		gy, gdx, gdw := g.alloc(n*o), g.alloc(n*in), g.alloc(in*o)
		name := fmt.Sprintf("linear transW=%v", transW)
		ms := g.timed(func() error { return g.d.LinearForward(gy, gx, gw, gbias, n, in, o, transW) })
		g.compare(name+" fwd", ms, g.down(gy, n*o), y, 1e-4, 1e-4)
		ms = g.timed(func() error { return g.d.LinearBackward(gdx, gdw, gdb, gdy, gx, gw, n, in, o, transW) })
		g.compare(name+" bwd dx", ms, g.down(gdx, n*in), dx, 1e-4, 1e-4)
		g.compare(name+" bwd dw", ms, g.down(gdw, in*o), dw, 1e-3, 1e-4)
		if bias != nil {
			g.compare(name+" bwd db (sum rows)", ms, g.down(gdb, o), db, 1e-3, 1e-4)
		}
	}
}
