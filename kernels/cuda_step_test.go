//go:build cuda

// A whole GPT-2 (pre-LN) training step strung from the launchers, with no
// graph: the embedding, every layer forward and backward, the tied head,
// cross-entropy and AdamW over one contiguous parameter buffer. It is not
// the device executor; it shows that the kernels compose (the loss starts
// near ln V and falls on a repeated batch) and measures what a step of them
// costs (BenchmarkCUDAGPT2Step: tokens/s and MFU).

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// gptShape is a GPT-2 model and batch.
type gptShape struct{ b, t, c, nHead, layers, v int }

// layerSizes are the parameters of one block, in buffer order.
func (s gptShape) layerSizes() []int {
	c := s.c
	return []int{c, c, c * 3 * c, 3 * c, c * c, c, c, c, c * 4 * c, 4 * c, 4 * c * c, c}
}

func (s gptShape) params() int {
	n := s.v*s.c + s.t*s.c + 2*s.c
	for _, k := range s.layerSizes() {
		n += s.layers * k
	}
	return n
}

// layerAct is one block's saved activations and its gradient scratch.
type layerAct struct {
	x, h1, qkv, att, a, x2, h2, f, g Buffer
	mean1, rstd1, mean2, rstd2       Buffer
	w                                [12]Buffer // ln1w ln1b wqkv bqkv wo bo ln2w ln2b wfc bfc wpr bpr
	dw                               [12]Buffer
}

type gptStep struct {
	d                                 *Device
	s                                 gptShape
	p, grad, m, v                     Buffer
	wte, wpe, lnfw, lnfb              Buffer
	dwte, dwpe, dlnfw, dlnfb          Buffer
	layers                            []layerAct
	xf, hf, meanf, rstdf              Buffer
	logits, probs, losses             Buffer
	stats, idx, targets               Buffer
	dwteHead                          Buffer
	dx, dx2, dtmp, dh, dqkv, dbig, dg Buffer
	step                              int
	bufs                              []Buffer
}

func newGPTStep(d *Device, s gptShape, seed uint64) (*gptStep, error) {
	g := &gptStep{d: d, s: s}
	var err error
	alloc := func(n int) Buffer {
		if err != nil {
			return Buffer{}
		}
		var b Buffer
		b, err = d.Alloc(n)
		g.bufs = append(g.bufs, b)
		return b
	}
	n, c, np := s.b*s.t, s.c, s.params()
	g.p, g.grad, g.m, g.v = alloc(np), alloc(np), alloc(np), alloc(np)
	if err != nil {
		return nil, err
	}
	host := make([]float32, np)
	off := 0
	view := func(k int, init float32) (Buffer, Buffer) { // init 0: zeros, 1: ones, else N(0, init)
		if d.dry == nil || init == 0 {
			r := rand.New(rand.NewPCG(seed, uint64(off)))
			for i := off; i < off+k; i++ {
				switch init {
				case 0:
					host[i] = 0
				case 1:
					host[i] = 1
				default:
					host[i] = float32(r.NormFloat64()) * init
				}
			}
		}
		pb, gb := g.p.Slice(off, k), g.grad.Slice(off, k)
		off += k
		return pb, gb
	}
	g.wte, g.dwte = view(s.v*c, 0.02)
	g.wpe, g.dwpe = view(s.t*c, 0.01)
	g.layers = make([]layerAct, s.layers)
	for l := range g.layers {
		L := &g.layers[l]
		for i, k := range s.layerSizes() {
			init := float32(0.02)
			switch i {
			case 0, 6: // LayerNorm weights
				init = 1
			case 1, 3, 5, 7, 9, 11: // biases
				init = 0
			}
			L.w[i], L.dw[i] = view(k, init)
		}
		L.x, L.h1, L.qkv, L.a, L.x2, L.h2 = alloc(n*c), alloc(n*c), alloc(3*n*c), alloc(n*c), alloc(n*c), alloc(n*c)
		L.f, L.g, L.att = alloc(4*n*c), alloc(4*n*c), alloc(s.b*s.nHead*s.t*s.t)
		L.mean1, L.rstd1, L.mean2, L.rstd2 = alloc(n), alloc(n), alloc(n), alloc(n)
	}
	g.lnfw, g.dlnfw = view(c, 1)
	g.lnfb, g.dlnfb = view(c, 0)
	g.xf, g.hf, g.meanf, g.rstdf = alloc(n*c), alloc(n*c), alloc(n), alloc(n)
	g.logits, g.probs, g.losses, g.stats = alloc(n*s.v), alloc(n*s.v), alloc(n), alloc(2)
	g.idx, g.targets, g.dwteHead = alloc(n), alloc(n), alloc(s.v*c)
	g.dx, g.dx2, g.dtmp, g.dh = alloc(n*c), alloc(n*c), alloc(n*c), alloc(n*c)
	g.dqkv, g.dbig, g.dg = alloc(3*n*c), alloc(max(4*n*c, n*s.v)), alloc(4*n*c)
	if err != nil {
		return nil, err
	}
	for _, b := range []Buffer{g.m, g.v} {
		if err := d.Zero(b); err != nil {
			return nil, err
		}
	}
	return g, d.Upload(g.p, host)
}

func (g *gptStep) free() {
	for _, b := range g.bufs {
		g.d.Free(b)
	}
}

// setBatch uploads token ids and next-token targets.
func (g *gptStep) setBatch(seed uint64) error {
	n := g.s.b * g.s.t
	r := rand.New(rand.NewPCG(seed, 1))
	idx, tg := make([]int32, n), make([]int32, n)
	for i := range idx {
		idx[i] = int32(r.IntN(g.s.v))
	}
	for i := range tg {
		tg[i] = idx[(i+1)%n]
	}
	if err := g.d.UploadInt32(g.idx, idx); err != nil {
		return err
	}
	return g.d.UploadInt32(g.targets, tg)
}

// run queues forward, backward and an AdamW step; the mean loss is in stats[0].
func (g *gptStep) run() error {
	d, s := g.d, g.s
	n, c, b, t := s.b*s.t, s.c, s.b, s.t
	var errs []error
	do := func(err error) { errs = append(errs, err) }
	// Forward.
	do(d.EmbeddingForward(g.layers[0].x, g.wte, g.wpe, g.idx, b, t, c, s.v))
	for l := range g.layers {
		L := &g.layers[l]
		next := g.xf
		if l+1 < len(g.layers) {
			next = g.layers[l+1].x
		}
		do(d.LayerNormForward(L.h1, L.mean1, L.rstd1, L.x, L.w[0], L.w[1], n, c, 1e-5))
		do(d.LinearForward(L.qkv, L.h1, L.w[2], L.w[3], n, c, 3*c, false))
		do(d.AttentionForward(L.a, L.att, L.qkv, b, t, c, s.nHead, Buffer{}))
		do(d.LinearForward(g.dtmp, L.a, L.w[4], L.w[5], n, c, c, false))
		do(d.Add(L.x2, L.x, g.dtmp, n*c))
		do(d.LayerNormForward(L.h2, L.mean2, L.rstd2, L.x2, L.w[6], L.w[7], n, c, 1e-5))
		do(d.LinearForward(L.f, L.h2, L.w[8], L.w[9], n, c, 4*c, false))
		do(d.GELUForward(L.g, L.f, 4*n*c, false))
		do(d.LinearForward(g.dtmp, L.g, L.w[10], L.w[11], n, 4*c, c, false))
		do(d.Add(next, L.x2, g.dtmp, n*c))
	}
	do(d.LayerNormForward(g.hf, g.meanf, g.rstdf, g.xf, g.lnfw, g.lnfb, n, c, 1e-5))
	do(d.LinearForward(g.logits, g.hf, g.wte, Buffer{}, n, c, s.v, true))
	do(d.CrossEntropyForward(g.probs, g.losses, g.stats, g.logits, g.targets, n, s.v, s.v))
	// Backward: g.dx is the gradient of the residual stream.
	dlogits := g.dbig.Slice(0, n*s.v)
	do(d.CrossEntropyBackward(dlogits, g.probs, g.targets, Buffer{}, g.stats, n, s.v, s.v))
	do(d.LinearBackward(g.dh, g.dwteHead, Buffer{}, dlogits, g.hf, g.wte, n, c, s.v, true))
	do(d.LayerNormBackward(g.dx, g.dlnfw, g.dlnfb, g.dh, g.xf, g.lnfw, g.meanf, g.rstdf, n, c))
	for l := len(g.layers) - 1; l >= 0; l-- {
		L := &g.layers[l]
		do(d.LinearBackward(g.dg, L.dw[10], L.dw[11], g.dx, L.g, L.w[10], n, 4*c, c, false))
		do(d.GELUBackward(g.dbig.Slice(0, 4*n*c), g.dg, L.f, 4*n*c, false))
		do(d.LinearBackward(g.dh, L.dw[8], L.dw[9], g.dbig.Slice(0, 4*n*c), L.h2, L.w[8], n, c, 4*c, false))
		do(d.LayerNormBackward(g.dx2, L.dw[6], L.dw[7], g.dh, L.x2, L.w[6], L.mean2, L.rstd2, n, c))
		do(d.AddInPlace(g.dx2, g.dx, n*c))
		do(d.LinearBackward(g.dtmp, L.dw[4], L.dw[5], g.dx2, L.a, L.w[4], n, c, c, false))
		do(d.AttentionBackward(g.dqkv, g.dtmp, L.qkv, L.att, b, t, c, s.nHead, Buffer{}))
		do(d.LinearBackward(g.dh, L.dw[2], L.dw[3], g.dqkv, L.h1, L.w[2], n, c, 3*c, false))
		do(d.LayerNormBackward(g.dx, L.dw[0], L.dw[1], g.dh, L.x, L.w[0], L.mean1, L.rstd1, n, c))
		do(d.AddInPlace(g.dx, g.dx2, n*c))
	}
	do(d.EmbeddingBackward(g.dwte, g.dwpe, g.dx, g.idx, b, t, c, s.v))
	do(d.AddInPlace(g.dwte, g.dwteHead, s.v*c))
	g.step++
	do(d.AdamW(g.p, g.grad, g.m, g.v, g.p.Len(), 3e-4, 0.9, 0.95, 1e-8, 0, g.step, Buffer{}))
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *gptStep) loss() (float32, error) {
	st := make([]float32, 2)
	err := g.d.Download(st, g.stats)
	return st[0], err
}

// TestCUDAStep trains a small GPT-2 on one repeated batch: the loss starts
// near ln V and falls. On a dry-run device it checks the launches of a
// GPT-2 124M step at batch 16, context 1024.
func TestCUDAStep(t *testing.T) {
	d, err := OpenCUDA()
	s := gptShape{b: 2, t: 64, c: 64, nHead: 4, layers: 2, v: 256}
	if err != nil {
		if d, err = newDryDevice(90); err != nil {
			t.Fatal(err)
		}
		s = gptShape{b: 16, t: 1024, c: 768, nHead: 12, layers: 12, v: 50257}
		t.Logf("no usable GPU: checking the launches of a GPT-2 124M step (%d parameters) on a dry run", s.params())
	}
	g, err := newGPTStep(d, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.free()
	if err := g.setBatch(2); err != nil {
		t.Fatal(err)
	}
	steps, fall := 20, float32(0.5)
	if testing.Short() { // the CPU emulator takes about 20 s a step
		steps, fall = 4, 0.1
	}
	var losses []float32
	for range steps {
		if err := g.run(); err != nil {
			t.Fatal(err)
		}
		l, err := g.loss()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
		if d.dry != nil {
			return
		}
	}
	t.Logf("loss over %d steps on one batch: %v", steps, losses)
	lnV, last := float32(math.Log(float64(s.v))), losses[steps-1]
	if math.Abs(float64(losses[0]-lnV)) > 0.3 || !(last < losses[0]-fall) {
		t.Fatalf("loss %v at the first step (ln V = %.3f) and %v at the last: the step does not train", losses[0], lnV, last)
	}
}

// peakTFLOPs is the dense FP32, TF32 and BF16 rate of known GPUs
// (vendor datasheets, SXM parts).
func peakTFLOPs(name string) (fp32, tf32, bf16 float64) {
	switch {
	case strings.Contains(name, "H100"), strings.Contains(name, "H200"):
		return 67, 494.7, 989.4
	case strings.Contains(name, "A100"):
		return 19.5, 156, 312
	}
	return 0, 0, 0
}

// BenchmarkCUDAGPT2Step times GPT-2 124M steps at batch 16, context 1024
// and reports tokens/s and MFU (llm.c's count: 6N + 12 L C T flops per
// token) against the GPU's FP32 and BF16 peaks.
func BenchmarkCUDAGPT2Step(b *testing.B) {
	d, err := OpenCUDA()
	if err != nil {
		b.Skipf("no usable GPU: %v", err)
	}
	s := gptShape{b: 16, t: 1024, c: 768, nHead: 12, layers: 12, v: 50257}
	g, err := newGPTStep(d, s, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer g.free()
	if err := g.setBatch(2); err != nil {
		b.Fatal(err)
	}
	for _, tf32 := range []bool{false, true} {
		b.Run(fmt.Sprintf("tf32=%v", tf32), func(b *testing.B) {
			if err := d.SetTF32(tf32); err != nil {
				b.Fatal(err)
			}
			if err := g.run(); err != nil { // warm up
				b.Fatal(err)
			}
			if err := d.Sync(); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for b.Loop() {
				if err := g.run(); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.Sync(); err != nil {
				b.Fatal(err)
			}
			sec := time.Since(start).Seconds() / float64(b.N)
			tok := float64(s.b*s.t) / sec
			flops := (6*float64(s.params()) + 12*float64(s.layers*s.c*s.t)) * tok
			b.ReportMetric(tok, "tok/s")
			b.ReportMetric(sec*1000, "ms/step")
			fp32, _, bf16 := peakTFLOPs(d.Name)
			if fp32 > 0 {
				b.ReportMetric(100*flops/(fp32*1e12), "%MFU-fp32")
				b.ReportMetric(100*flops/(bf16*1e12), "%MFU-bf16")
			}
			l, _ := g.loss()
			b.Logf("%s, %s: %.0f tok/s, %.1f ms/step, %.1f TFLOP/s, loss %.3f", d.Name, d.BLAS, tok, sec*1000, flops/1e12, l)
		})
	}
	_ = d.SetTF32(false)
}
