// GELU on the CPU, tanh approximation (GPT-1, BERT, nanoGPT's "gelu_new"):
// y = 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), and its derivative. tanh
// is tanh32 (absolute error under 1.5e-7), so y is within 1.5e-7*|x|/2 of the
// float64 formula plus float32 rounding. Large inputs are split over the
// worker pool in blocks of geluBlock elements.

package kernels

import (
	"math"

	"gptctl/kernels/internal/simd"
)

const (
	sqrt2OverPi = 0.7978845608028654 // sqrt(2/pi)
	geluCoef    = 0.044715
	geluBlock   = 1 << 15
)

// GELUForward writes y[i] = gelu(x[i]) for i < len(x).
func GELUForward(y, x []float32) {
	y = y[:len(x)]
	parallelRanges(len(x), blocks(len(x), geluBlock), func(lo, hi int) {
		yb, xb := y[lo:hi], x[lo:hi]
		if n := len(xb) &^ 7; hasAVX2 && n > 0 {
			simd.GeluFwd(&yb[0], &xb[0], n)
			yb, xb = yb[n:], xb[n:]
		}
		for i, v := range xb {
			yb[i] = 0.5 * v * (1 + tanh32(sqrt2OverPi*v*(1+geluCoef*v*v)))
		}
	})
}

// GELUBackward overwrites dx[i] = dy[i] * gelu'(x[i]) for i < len(x), where
//
//	gelu'(x) = 0.5(1+tanh u) + 0.5x(1-tanh² u) * sqrt(2/pi)(1+3*0.044715x²),
//	u = sqrt(2/pi)(x+0.044715x³).
func GELUBackward(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	parallelRanges(len(x), blocks(len(x), geluBlock), func(lo, hi int) {
		dxb, dyb, xb := dx[lo:hi], dy[lo:hi], x[lo:hi]
		if n := len(xb) &^ 7; hasAVX2 && n > 0 {
			simd.GeluBwd(&dxb[0], &dyb[0], &xb[0], n)
			dxb, dyb, xb = dxb[n:], dyb[n:], xb[n:]
		}
		for i, v := range xb {
			// x² is capped where tanh is ±1 already, so that du stays
			// finite where 1-th² is 0 (their product was NaN for |x| > 1.8e19).
			v2 := min(v*v, 1e4)
			th := tanh32(sqrt2OverPi * v * (1 + geluCoef*v2))
			du := sqrt2OverPi * (1 + 3*geluCoef*v2)
			dxb[i] = dyb[i] * (0.5*(1+th) + 0.5*v*(1-th*th)*du)
		}
	})
}

// GELUErfForward writes y[i] = x[i]*Phi(x[i]) for i < len(x): the exact
// GELU, Phi the standard normal CDF 0.5(1+erf(x/sqrt 2)), computed in
// float64 (Hugging Face's activation_function "gelu", used by some GPT-2
// checkpoints). It differs from the tanh form by up to about 5e-4.
func GELUErfForward(y, x []float32) {
	y = y[:len(x)]
	parallelRanges(len(x), blocks(len(x), geluBlock), func(lo, hi int) {
		for i, v := range x[lo:hi] {
			u := float64(v)
			y[lo+i] = float32(0.5 * u * (1 + math.Erf(u/math.Sqrt2)))
		}
	})
}

// GELUErfBackward overwrites dx[i] = dy[i] * (Phi(x) + x*phi(x)), phi the
// standard normal density.
func GELUErfBackward(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	parallelRanges(len(x), blocks(len(x), geluBlock), func(lo, hi int) {
		for i, v := range x[lo:hi] {
			u := float64(v)
			d := 0.5*(1+math.Erf(u/math.Sqrt2)) + u*math.Exp(-0.5*u*u)/math.Sqrt(2*math.Pi)
			dx[lo+i] = float32(float64(dy[lo+i]) * d)
		}
	})
}

// blocks is the number of blocks of about size elements n splits into.
func blocks(n, size int) int { return (n + size - 1) / size }
