package kernels

import (
	"math"
	"testing"
)

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		x    float32
		want uint16
	}{
		{0, 0}, {1, 0x3f80}, {-2, 0xc000}, {float32(math.Inf(1)), 0x7f80}, {float32(math.Inf(-1)), 0xff80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // a tie, to the even 0x3f80
		{math.Float32frombits(0x3f818000), 0x3f82}, // a tie, to the even 0x3f82
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // the largest float32 rounds to +Inf
	} {
		if got := BF16(c.x); got != c.want {
			t.Errorf("BF16(%g = %#x) = %#x, want %#x", c.x, math.Float32bits(c.x), got, c.want)
		}
	}
	if b := BF16(float32(math.NaN())); FromBF16(b) == FromBF16(b) {
		t.Errorf("BF16(NaN) = %#x, not a NaN", b)
	}
	for _, x := range []float32{3.14159, -1e-20, 6.5e4, 1e30} { // within half an ulp of bf16 (2^-8 relative)
		if r := FromBF16(BF16(x)); math.Abs(float64(r-x)) > math.Abs(float64(x))/256 {
			t.Errorf("BF16(%g) widens to %g", x, r)
		}
	}
}
