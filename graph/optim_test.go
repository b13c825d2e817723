package graph

// The CPU optimizer's arithmetic as train.yaml's grad_clip and grad_accum
// see it: ClipGrads bounds the global gradient norm, AccumulateGrads
// averages the micro-batches' gradients.

import (
	"math"
	"slices"
	"testing"
)

// grad_clip bounds the global gradient norm, the norm over all the model's
// gradients together (not each tensor's): a step whose norm is above it
// has every gradient scaled by the same factor, so the norm is grad_clip
// and the update keeps its direction; a step at or below it, and every
// step with grad_clip 0 (off), keeps its gradients as they were.
// ClipGrads returns the norm before clipping, which metrics.jsonl logs as
// grad_norm.
func TestClipGrads(t *testing.T) {
	long := make([]float32, 3000) // more than one block of the sum of squares
	for i := range long {
		long[i] = 0.01 * float32(math.Sin(float64(i)))
	}
	for _, c := range []struct {
		name    string
		grads   [][]float32
		maxNorm float64
		clipped bool
	}{
		// 3, 4 and 12 over two tensors: a global norm of 13, where each
		// tensor's is 5 and 12.
		{"below the limit", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 20, false},
		{"at the limit", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 13, false},
		{"above each tensor's norm, below the global one", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 12.5, true},
		{"above the limit", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 1, true},
		{"far above the limit", [][]float32{{3e3, -4e3}, {12e3}}, 0.5, true},
		{"a limit above 1", [][]float32{{30, -40}, {120}}, 5, true},
		{"grad_clip 0: off", [][]float32{{3, -4}, {12}}, 0, false},
		{"a negative limit: off", [][]float32{{3, -4}, {12}}, -1, false},
		{"a weight without a gradient", [][]float32{{3, -4}, nil, {12}}, 1, true},
		{"long tensors", [][]float32{long, {1, -2, 3}, slices.Clone(long[:1000])}, 0.25, true},
		{"squares beyond float32", [][]float32{{3e20, -4e20}, {12e20}}, 1, true},
		{"all zero", [][]float32{{0, 0}, {0}}, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sum float64
			orig := make([][]float32, len(c.grads))
			for i, g := range c.grads {
				orig[i] = slices.Clone(g)
				for _, v := range g {
					sum += float64(v) * float64(v)
				}
			}
			want := math.Sqrt(sum)
			norm := ClipGrads(c.grads, c.maxNorm)
			if math.Abs(norm-want) > 1e-6*want {
				t.Errorf("%s: ClipGrads returned norm %v, want the norm before clipping %v", c.name, norm, want)
			}
			if !c.clipped {
				for i := range orig {
					if !slices.Equal(c.grads[i], orig[i]) {
						t.Errorf("%s: gradient %d changed to %v, want it as it was, %v (norm %v, grad_clip %v)", c.name, i, c.grads[i], orig[i], want, c.maxNorm)
					}
				}
				return
			}
			// The norm after clipping is grad_clip (to float32 rounding),
			// and every element is scaled by the same factor.
			scale := c.maxNorm / want
			var after float64
			for i, g := range c.grads {
				if len(g) != len(orig[i]) {
					t.Fatalf("%s: gradient %d has %d elements after clipping, want %d", c.name, i, len(g), len(orig[i]))
				}
				for j, v := range g {
					after += float64(v) * float64(v)
					if w := scale * float64(orig[i][j]); math.Abs(float64(v)-w) > 1e-6*math.Abs(w) {
						t.Fatalf("%s: gradient %d[%d] = %v after clipping, want %v (%v scaled by grad_clip/norm = %v)", c.name, i, j, v, w, orig[i][j], scale)
					}
				}
			}
			if after = math.Sqrt(after); math.Abs(after-c.maxNorm) > 1e-6*c.maxNorm {
				t.Errorf("%s: global norm %v after clipping (%v before), want grad_clip %v", c.name, after, want, c.maxNorm)
			}
		})
	}
}

// AccumulateGrads leaves the mean of the micro-batches' gradients.
func TestAccumulateGrads(t *testing.T) {
	acc := [][]float32{{9, 9}, {7}}
	micro := [][][]float32{{{2, 4}, nil}, {{4, 8}, nil}}
	for m, g := range micro {
		AccumulateGrads(acc, func(i int) []float32 { return g[i] }, m, 1/float32(len(micro)))
	}
	if acc[0][0] != 3 || acc[0][1] != 6 || acc[1][0] != 7 {
		t.Errorf("accumulated %v, want [[3 6] [7]]", acc)
	}
}
