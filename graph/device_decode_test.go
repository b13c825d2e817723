//go:build cuda

package graph

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestDeviceDecoder: the GPU decoder gives the CPU decoder's logits, step
// for step, for post-LN and pre-LN (with the erf GELU): prompts of
// different lengths fed together, a token each, slots idle in some steps,
// one emptied and refilled with a full context's window, as generate feeds
// them, at head sizes 8 and 48. Misuse gets the CPU decoder's errors.
func TestDeviceDecoder(t *testing.T) {
	d := openDevice(t)
	for _, tc := range []struct {
		arch, gelu   string
		nEmbd, nHead int
	}{{"gpt1", "", 24, 3}, {"gpt2", "erf", 96, 2}} { // head sizes 8, and 48: a warp's lanes take 32 columns, then 16
		t.Run(tc.arch, func(t *testing.T) {
			cfg := Config{Arch: tc.arch, VocabSize: 37, NCtx: 10, NEmbd: tc.nEmbd, NHead: tc.nHead, NLayer: 2, LNEps: 1e-5, GELU: tc.gelu}
			p := perturbedParams(t, cfg, 9)
			cpu, err := NewDecoderSlots(p, 3)
			if err != nil {
				t.Fatal(err)
			}
			gpu, err := NewDeviceDecoder(d, p, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer gpu.Close()
			V := cfg.VocabSize
			tok := func(s, i int) int { return (i*7 + s*5 + 3) % V }
			seq := func(s, from, to int) []int {
				var ids []int
				for i := from; i < to; i++ {
					ids = append(ids, tok(s, i))
				}
				return ids
			}
			type feed struct {
				slots []int
				ids   [][]int
			}
			steps := []feed{
				{[]int{1, 0, 2}, [][]int{seq(1, 0, 6), seq(0, 0, 1), seq(2, 0, 3)}},
				{[]int{0, 1, 2}, [][]int{seq(0, 1, 2), seq(1, 6, 7), seq(2, 3, 4)}},
				{[]int{2, 0}, [][]int{seq(2, 4, 5), seq(0, 2, 3)}},
				{[]int{1}, [][]int{seq(1, 7, 10)}}, // slot 1's cache is full
				{[]int{0, 2}, [][]int{seq(0, 3, 4), seq(2, 5, 6)}},
			}
			check := func(name string, f feed) {
				t.Helper()
				want, err := cpu.Feed(f.slots, f.ids)
				if err != nil {
					t.Fatal(err)
				}
				got, err := gpu.Feed(f.slots, f.ids)
				if err != nil {
					t.Fatal(err)
				}
				var worst float64
				for j, w := range want {
					diff := math.Abs(float64(got[j] - w))
					worst = max(worst, diff)
					if diff > 1e-4*(1+math.Abs(float64(w))) {
						t.Fatalf("%s: logit %d of slot %d is %v on the device, %v on the CPU", name, j%V, f.slots[j/V], got[j], w)
					}
				}
				t.Logf("%s: max |device - cpu| %.3g", name, worst)
				for _, s := range f.slots {
					if gpu.Len(s) != cpu.Len(s) {
						t.Fatalf("%s: slot %d holds %d tokens, the CPU's %d", name, s, gpu.Len(s), cpu.Len(s))
					}
				}
			}
			for i, f := range steps {
				check(fmt.Sprintf("step %d", i), f)
			}
			// Slot 1 slides: emptied, and fed the window of its last n_ctx tokens.
			cpu.Reset(1)
			gpu.Reset(1)
			check("window", feed{[]int{1, 2}, [][]int{seq(1, 1, 11), seq(2, 6, 7)}})
			if _, err := gpu.Feed([]int{1}, [][]int{{1}}); err == nil || !strings.Contains(err.Error(), "exceed the context 10") {
				t.Errorf("appending past the context: %v", err)
			}
			if _, err := gpu.Feed([]int{0}, [][]int{{V}}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
				t.Errorf("an id past the vocabulary: %v", err)
			}
			if gpu.Context() != 10 || gpu.Slots() != 3 {
				t.Errorf("Context %d, Slots %d", gpu.Context(), gpu.Slots())
			}
		})
	}
}
