package train

import "testing"

// The sampler draws every window of t+1 tokens, the corpus's last token
// included as a target, and a source of exactly one window is enough.
func TestSamplerDrawsEveryWindow(t *testing.T) {
	const T = 4
	src := Tokens{0, 1, 2, 3, 4, 5, 6} // starts 0, 1 and 2
	s, err := NewSampler(src, T, 1)
	if err != nil {
		t.Fatal(err)
	}
	in, tg := make([]int32, T), make([]int32, T)
	seen := map[int32]int{}
	for range 300 {
		if err := s.Fill(in, tg, 1); err != nil {
			t.Fatal(err)
		}
		if tg[0] != in[0]+1 || tg[T-1] != in[0]+T {
			t.Fatalf("window %v, targets %v", in, tg)
		}
		seen[in[0]]++
	}
	if len(seen) != 3 || seen[2] == 0 {
		t.Errorf("window starts drawn %v, want 0, 1 and 2", seen)
	}
	one, err := NewSampler(Tokens{0, 1, 2, 3, 4}, T, 1)
	if err != nil {
		t.Fatalf("a source of one window: %v", err)
	}
	if err := one.Fill(in, tg, 1); err != nil || in[0] != 0 || tg[T-1] != 4 {
		t.Errorf("the one window: %v %v %v", in, tg, err)
	}
	if _, err := NewSampler(Tokens{0, 1, 2, 3}, T, 1); err == nil {
		t.Error("four tokens make no window of 4 inputs and a target")
	}
}
