// Fast float32 exp and tanh for the CPU kernels (softmax, cross-entropy,
// GELU). math32's versions go through float64 and branch per call; these are
// straight-line polynomial code the compiler keeps in registers.

package kernels

import (
	"math"

	"gptctl/kernels/internal/simd"
)

// hasAVX2 selects the AVX2 loops of package simd; tests switch it off to check
// the plain Go loops against them.
var hasAVX2 = simd.Enabled

const (
	log2e  = 1.44269504088896341
	ln2Hi  = 0.693359375 // ln 2 split in two (Cephes): n*ln2Hi is exact for |n| < 2^9
	ln2Lo  = -2.12194440e-4
	expMax = 88.72283  // exp overflows above
	expMin = -87.33654 // and is flushed to 0 below (the result would be subnormal)
	round  = 12582912  // 1.5*2^23: x+round-round rounds x to an integer in float32
)

// exp32 returns e^x with a relative error under 2e-7 (TestExp32) on
// [expMin, expMax], +Inf above, 0 below and NaN for NaN. It is Cephes' expf:
// x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial, times 2^n.
func exp32(x float32) float32 {
	if x > expMax {
		return float32(math.Inf(1))
	}
	if x < expMin {
		return 0
	}
	n := (x*log2e + round) - round
	r := x - n*ln2Hi - n*ln2Lo
	p := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+
		1.6666665459e-1)*r+5.0000001201e-1)*r*r + r) + 1
	e := int32(n)
	if e > 127 { // x near expMax: 2^128 is not a float32, scale in two steps
		return p * 2 * math.Float32frombits(uint32(e-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}

// tanh32 returns tanh(x) with an absolute error under 1.5e-7 (TestTanh32
// measures 1.1e-7),
// as 1 - 2/(e^2|x| + 1) with the sign of x. The absolute error is what GELU
// needs; near 0 the relative error is large (tanh32(1e-6) is 1e-6 ± 1e-7).
func tanh32(x float32) float32 {
	const sign = 1 << 31
	a := math.Float32frombits(math.Float32bits(x) &^ sign)
	t := 1 - 2/(exp32(2*a)+1)
	return math.Float32frombits(math.Float32bits(t) | math.Float32bits(x)&sign)
}

// expSubSum overwrites x[j] with exp(x[j]-m) and returns the sum (in float32,
// partial sums): the numerators and the denominator of a softmax. The AVX2
// version saturates at e^88 instead of overflowing; below -87.3 both give 0.
func expSubSum(x []float32, m float32) float32 {
	var s0, s1, s2, s3 float32
	j := 0
	if n := len(x) &^ 7; hasAVX2 && n > 0 {
		s0, j = simd.ExpSubSum(&x[0], n, m), n
	}
	for ; j+4 <= len(x); j += 4 {
		e0, e1, e2, e3 := exp32(x[j]-m), exp32(x[j+1]-m), exp32(x[j+2]-m), exp32(x[j+3]-m)
		x[j], x[j+1], x[j+2], x[j+3] = e0, e1, e2, e3
		s0, s1, s2, s3 = s0+e0, s1+e1, s2+e2, s3+e3
	}
	for ; j < len(x); j++ {
		x[j] = exp32(x[j] - m)
		s0 += x[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// max32 returns the largest element of x (-Inf for an empty x). A NaN in
// x is not always returned (the AVX2 path's VMAXPS keeps the other
// operand); its callers, the softmaxes, pass it on all the same, through
// the exponentials of x minus this maximum.
func max32(x []float32) float32 {
	m0, m1 := float32(math.Inf(-1)), float32(math.Inf(-1))
	j := 0
	if n := len(x) &^ 7; hasAVX2 && n > 0 {
		m0, j = simd.Max(&x[0], n), n
	}
	for ; j+2 <= len(x); j += 2 {
		m0, m1 = max(m0, x[j]), max(m1, x[j+1])
	}
	if j < len(x) {
		m0 = max(m0, x[j])
	}
	return max(m0, m1)
}

// scal32 multiplies x by a in place.
func scal32(a float32, x []float32) {
	j := 0
	if n := len(x) &^ 7; hasAVX2 && n > 0 {
		simd.Scal(a, &x[0], n)
		j = n
	}
	for ; j < len(x); j++ {
		x[j] *= a
	}
}
