// GELU on the CPU, tanh approximation (GPT-1, BERT, nanoGPT's "gelu_new"):
// y = 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), and its derivative.

package kernels

import "github.com/chewxy/math32"

const (
	sqrt2OverPi = 0.7978845608028654 // sqrt(2/pi)
	geluCoef    = 0.044715
)

// GELUForward writes y[i] = gelu(x[i]) for i < len(x).
func GELUForward(y, x []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = 0.5 * v * (1 + math32.Tanh(sqrt2OverPi*(v+geluCoef*v*v*v)))
	}
}

// GELUBackward overwrites dx[i] = dy[i] * gelu'(x[i]) for i < len(x), where
//
//	gelu'(x) = 0.5(1+tanh u) + 0.5x(1-tanh² u) * sqrt(2/pi)(1+3*0.044715x²),
//	u = sqrt(2/pi)(x+0.044715x³).
func GELUBackward(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		v2 := v * v
		th := math32.Tanh(sqrt2OverPi * v * (1 + geluCoef*v2))
		du := sqrt2OverPi * (1 + 3*geluCoef*v2)
		dx[i] = dy[i] * (0.5*(1+th) + 0.5*v*(1-th*th)*du)
	}
}
