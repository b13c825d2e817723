// Tests for the CPU token+position embedding: the forward against a direct
// sum, the backward (a scatter-add with repeated ids) against central
// differences of a float64 forward.

package kernels

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

func embeddingRef(wte, wpe []float64, idx []int32, b, t, c int) []float64 {
	out := make([]float64, b*t*c)
	for r := range b * t {
		for j := range c {
			out[r*c+j] = wte[int(idx[r])*c+j] + wpe[(r%t)*c+j]
		}
	}
	return out
}

func TestEmbedding(t *testing.T) {
	b, T, c, vocab, maxT := 2, 3, 5, 4, 4
	idx := []int32{0, 3, 3, 2, 3, 0} // repeats, and id 1 unused
	rng := rand.New(rand.NewPCG(7, 8))
	wte, wpe, r := testRand(rng, vocab*c, 1), testRand(rng, maxT*c, 1), testRand(rng, b*T*c, 1)
	out := testNaN(b * T * c)
	EmbeddingForward(out, wte, wpe, idx, b, T, c)
	wte64, wpe64, r64 := test64(wte), test64(wpe), test64(r)
	testCheck(t, "out", out, embeddingRef(wte64, wpe64, idx, b, T, c), 1e-6)

	dwte, dwpe := testNaN(vocab*c), testNaN(maxT*c)
	EmbeddingBackward(dwte, dwpe, r, idx, b, T, c)
	loss := func() float64 { return testDot64(embeddingRef(wte64, wpe64, idx, b, T, c), r64) }
	testCheck(t, "dwte vs finite diff", dwte, testNumGrad(wte64, loss), 1e-6)
	testCheck(t, "dwpe vs finite diff", dwpe, testNumGrad(wpe64, loss), 1e-6)
}

// TestEmbeddingBackwardBlocks splits the scatter by columns and the clear by
// blocks, with repeated ids, against a plain float64 scatter.
func TestEmbeddingBackwardBlocks(t *testing.T) {
	b, T, c, vocab := 4, 64, 300, 2000
	rng := rand.New(rand.NewPCG(19, 20))
	idx := make([]int32, b*T)
	for i := range idx {
		idx[i] = int32(rng.IntN(50)) // many repeats
	}
	dout := testRand(rng, b*T*c, 1)
	want, wantPos := make([]float64, vocab*c), make([]float64, T*c)
	for r, id := range idx {
		for j := range c {
			want[int(id)*c+j] += float64(dout[r*c+j])
			wantPos[(r%T)*c+j] += float64(dout[r*c+j])
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	dwte, dwpe := testNaN(vocab*c), testNaN(T*c)
	EmbeddingBackward(dwte, dwpe, dout, idx, b, T, c)
	testCheck(t, "dwte", dwte, want, 1e-5)
	testCheck(t, "dwpe", dwpe, wantPos, 1e-5)
}

func TestEmbeddingPanicsOnBadID(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for an id past the vocabulary")
		}
	}()
	EmbeddingForward(make([]float32, 2), make([]float32, 4), make([]float32, 2), []int32{2}, 1, 1, 2)
}

func BenchmarkEmbedding(b *testing.B) {
	B, T, C, V := 8, 512, 768, 40478 // GPT-1
	r := rand.New(rand.NewPCG(1, 2))
	wte, wpe, dout := testRand(r, V*C, 1), testRand(r, T*C, 1), testRand(r, B*T*C, 1)
	idx := make([]int32, B*T)
	for i := range idx {
		idx[i] = int32(r.IntN(V))
	}
	out, dwte, dwpe := make([]float32, B*T*C), make([]float32, V*C), make([]float32, T*C)
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			EmbeddingForward(out, wte, wpe, idx, B, T, C)
		}
		b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run("backward", func(b *testing.B) { // includes zeroing the 31M-float dwte
		for b.Loop() {
			EmbeddingBackward(dwte, dwpe, dout, idx, B, T, C)
		}
		b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
}
