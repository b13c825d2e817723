package graph

import (
	"math"
	"strings"
	"testing"

	"gptctl/kernels"
)

// TestDecoderMatchesGraph: the decoder's logits after each token equal the
// graph's logits at that position, for post-LN and pre-LN, both GELUs, with
// the prompt appended at once, in pieces and one token at a time, up to the
// full context; every weight (biases and LayerNorm too) is perturbed so that
// each of them counts.
func TestDecoderMatchesGraph(t *testing.T) {
	for _, tc := range []struct{ arch, gelu string }{{"gpt1", ""}, {"gpt2", ""}, {"gpt2", "erf"}} {
		cfg := Config{Arch: tc.arch, VocabSize: 31, NCtx: 13, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5, GELU: tc.gelu}
		p, err := NewParams(cfg, kernels.NewRNG(11))
		if err != nil {
			t.Fatal(err)
		}
		rng := kernels.NewRNG(12)
		for _, w := range p.List {
			for i := range w.Data {
				w.Data[i] += float32(rng.NormFloat64() * 0.1)
			}
		}
		T := cfg.NCtx
		m, err := New(p, 1, T, &kernels.Mode{}, kernels.NewRNG(0))
		if err != nil {
			t.Fatal(err)
		}
		prog, err := m.Forward(m.Logits)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int, T)
		in := Int32Data(m.Idx)
		for i := range ids {
			ids[i] = (i*11 + 4) % cfg.VocabSize
			in[i] = int32(ids[i])
		}
		if err := m.Run(prog); err != nil {
			t.Fatal(err)
		}
		want := kernels.Floats(m.Machine().Value(m.Logits))
		V := cfg.VocabSize

		d, err := NewDecoder(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pieces := range [][]int{{T}, {5, 1, 7}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}} {
			d.Reset()
			for _, k := range pieces {
				pos := d.Len()
				got, err := d.Append(ids[pos : pos+k])
				if err != nil {
					t.Fatal(err)
				}
				last := pos + k - 1
				for j, g := range got {
					w := want[last*V+j]
					if math.Abs(float64(g-w)) > 1e-5*(1+math.Abs(float64(w))) {
						t.Fatalf("%s %s pieces %v: logit %d after token %d is %v, the graph's %v", tc.arch, tc.gelu, pieces, j, last, g, w)
					}
				}
			}
			if d.Len() != T {
				t.Fatalf("Len %d after %d tokens", d.Len(), T)
			}
		}
		if _, err := d.Append(ids[:1]); err == nil || !strings.Contains(err.Error(), "exceed the context 13") {
			t.Errorf("appending past the context: %v", err)
		}
		d.Reset()
		if _, err := d.Append([]int{V}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("an id past the vocabulary: %v", err)
		}
	}
}
