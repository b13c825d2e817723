package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestAttentionCached: n new rows at position pos against a cache equal the
// rows pos..pos+n-1 of the full-sequence reference, whatever the split (a
// whole prompt, one token, a block across a tile border). The queries sit in
// a (n, 3c) block as in the model and the cache in its own (cap, c) arrays;
// the cache rows after pos+n hold NaN and must not be read.
func TestAttentionCached(t *testing.T) {
	cases := []struct {
		name             string
		t, c, nHead      int
		pos, n, maxprocs int
	}{
		{"prompt", 9, 12, 3, 0, 9, 1},
		{"one_token", 9, 12, 3, 8, 1, 2},
		{"middle", 9, 12, 3, 4, 3, 2},
		{"one_head", 6, 5, 1, 2, 1, 1},
		{"tiles", 150, 8, 2, 5, 140, 2},
		{"long_cache", 150, 8, 2, 149, 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.maxprocs))
			T, c := tc.t, tc.c
			rng := rand.New(rand.NewPCG(7, uint64(T*c)))
			qkv := testRand(rng, T*3*c, 1)
			want, _ := attentionRef(test64(qkv), 1, T, c, tc.nHead, nil)

			capacity := tc.pos + tc.n + 3
			k, v := testNaN(capacity*c), testNaN(capacity*c)
			for i := range tc.pos + tc.n {
				copy(k[i*c:(i+1)*c], qkv[i*3*c+c:i*3*c+2*c])
				copy(v[i*c:(i+1)*c], qkv[i*3*c+2*c:i*3*c+3*c])
			}
			out := testNaN(tc.n * c)
			AttentionCached(out, qkv[tc.pos*3*c:], 3*c, k, v, c, tc.n, tc.pos, c, tc.nHead)
			testCheck(t, "out", out, want[tc.pos*c:(tc.pos+tc.n)*c], 1e-5)
			for _, x := range out {
				if math.IsNaN(float64(x)) {
					t.Fatal("output has NaN: a cache row past pos+n was read")
				}
			}
		})
	}
}
