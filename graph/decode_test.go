package graph

import (
	"fmt"
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
		p := perturbedParams(t, cfg, 11)
		T := cfg.NCtx
		m, err := New(p, 1, T, kernels.NewRNG(0))
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
			d.Reset(0)
			for _, k := range pieces {
				pos := d.Len(0)
				got, err := d.Append(0, ids[pos:pos+k])
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
			if d.Len(0) != T {
				t.Fatalf("Len %d after %d tokens", d.Len(0), T)
			}
		}
		if _, err := d.Append(0, ids[:1]); err == nil || !strings.Contains(err.Error(), "exceed the context 13") {
			t.Errorf("appending past the context: %v", err)
		}
		d.Reset(0)
		if _, err := d.Append(0, []int{V}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("an id past the vocabulary: %v", err)
		}
	}
}

// Slots fed together give each sequence the logits it gets alone: four
// sequences at different positions, fed prompts of different lengths in
// one call, then a token each per step, some slots idle in some steps, one
// emptied and refilled midway. Errors name the misuse.
func TestDecoderSlots(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		cfg := Config{Arch: arch, VocabSize: 29, NCtx: 12, NEmbd: 16, NHead: 2, NLayer: 2, LNEps: 1e-5}
		p := perturbedParams(t, cfg, 5)
		V := cfg.VocabSize
		seq := func(s, n int) []int { // sequence s's first n tokens
			ids := make([]int, n)
			for i := range ids {
				ids[i] = (i*7 + s*5 + 1) % V
			}
			return ids
		}
		alone := func(s, n int) []float32 { // the logits after sequence s's first n tokens, decoded alone
			d, err := NewDecoder(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Append(0, seq(s, n))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		d, err := NewDecoderSlots(p, 4)
		if err != nil {
			t.Fatal(err)
		}
		check := func(step string, slots []int, got []float32, lens map[int]int) {
			t.Helper()
			for i, s := range slots {
				want := alone(s, lens[s])
				for j := range V {
					if g, w := got[i*V+j], want[j]; math.Abs(float64(g-w)) > 1e-5*(1+math.Abs(float64(w))) {
						t.Fatalf("%s %s: slot %d logit %d is %v, alone %v", arch, step, s, j, g, w)
					}
				}
			}
		}
		lens := map[int]int{0: 5, 1: 1, 2: 9, 3: 3}
		slots := []int{2, 0, 3, 1}
		var feed [][]int
		for _, s := range slots {
			feed = append(feed, seq(s, lens[s]))
		}
		got, err := d.Feed(slots, feed)
		if err != nil {
			t.Fatal(err)
		}
		check("prompts", slots, got, lens)
		for step, active := range [][]int{{0, 1, 2, 3}, {1, 3}, {3, 0, 2}} {
			feed = feed[:0]
			for _, s := range active {
				feed = append(feed, seq(s, lens[s]+1)[lens[s]:])
				lens[s]++
			}
			if got, err = d.Feed(active, feed); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("step %d", step), active, got, lens)
		}
		d.Reset(1)
		lens[1] = 4
		if got, err = d.Feed([]int{1, 0}, [][]int{seq(1, 4), seq(0, lens[0]+1)[lens[0]:]}); err != nil {
			t.Fatal(err)
		}
		lens[0]++
		check("refilled", []int{1, 0}, got, lens)
		for l, s := range lens {
			if d.Len(l) != s {
				t.Errorf("slot %d: Len %d, want %d", l, d.Len(l), s)
			}
		}
		for _, c := range []struct {
			slots []int
			ids   [][]int
			want  string
		}{
			{[]int{4}, [][]int{{1}}, "slot 4 of 4"},
			{[]int{0, 0}, [][]int{{1}, {1}}, "slot 0 fed twice"},
			{[]int{0, 1}, [][]int{{1}}, "2 slots for 1 token lists"},
			{[]int{2}, [][]int{seq(0, 2)}, "2 tokens after 11 exceed the context 12"},
		} {
			if _, err := d.Feed(c.slots, c.ids); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Feed(%v, %v): %v, want %q", c.slots, c.ids, err, c.want)
			}
		}
	}
}

// perturbedParams returns a model of cfg whose every weight (biases and
// LayerNorm too) is moved off its initial value, so that each of them
// counts in a comparison.
func perturbedParams(t *testing.T, cfg Config, seed uint64) *Params {
	t.Helper()
	p, err := NewParams(cfg, kernels.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	rng := kernels.NewRNG(seed + 1)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
	return p
}
