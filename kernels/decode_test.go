package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestDecodeSteps feeds three sequences to the decoder's kernels in steps
// (prompts of different lengths together, then a token each, then a
// block), their caches side by side in one buffer whose rows past each
// sequence hold NaN, and checks every step against the float64 attention of
// the whole sequences and the embedding against EmbeddingForward.
func TestDecodeSteps(t *testing.T) {
	const T, c, nHead, V = 12, 12, 3, 40
	rng := rand.New(rand.NewPCG(3, 9))
	lens := []int{12, 5, 9}                           // each sequence's tokens
	steps := [][]int{{4, 2, 9}, {1, 1, 0}, {7, 2, 0}} // new tokens of each sequence at each step
	qkv := make([][]float32, len(lens))
	ids := make([][]int32, len(lens))
	want := make([][]float64, len(lens))
	for s, n := range lens {
		qkv[s] = testRand(rng, n*3*c, 1)
		want[s], _ = attentionRef(test64(qkv[s]), 1, n, c, nHead, nil)
		for range n {
			ids[s] = append(ids[s], int32(rng.IntN(V)))
		}
	}
	wte, wpe := testRand(rng, V*c, 1), testRand(rng, T*c, 1)
	k, v := testNaN(len(lens)*T*c), testNaN(len(lens)*T*c)
	at := make([]int, len(lens))
	for si, step := range steps {
		var idx, pos, base []int32
		var rows []float32
		var wantOut []float64
		for s, n := range step {
			for j := at[s]; j < at[s]+n; j++ {
				idx, pos, base = append(idx, ids[s][j]), append(pos, int32(j)), append(base, int32(s*T))
				rows = append(rows, qkv[s][j*3*c:(j+1)*3*c]...)
				wantOut = append(wantOut, want[s][j*c:(j+1)*c]...)
			}
			at[s] += n
		}
		n := len(idx)
		emb, embWant := testNaN(n*c), make([]float32, n*c)
		DecodeEmbed(emb, wte, wpe, idx, pos, c)
		for r := range n { // EmbeddingForward over a batch of one token at position pos[r]
			EmbeddingForward(embWant[r*c:(r+1)*c], wte, wpe[int(pos[r])*c:], idx[r:r+1], 1, 1, c)
		}
		testCheck(t, "embedding", emb, test64(embWant), 0)
		DecodeKVStore(k, v, rows, base, pos, c)
		out := testNaN(n * c)
		DecodeAttention(out, rows, k, v, base, pos, c, nHead)
		t.Logf("step %d: %d rows", si, n)
		testCheck(t, "attention", out, wantOut, 1e-5)
	}
	if at[0] != lens[0] || at[1] != lens[1] || at[2] != lens[2] {
		t.Fatalf("fed %v tokens, want %v", at, lens)
	}
}
