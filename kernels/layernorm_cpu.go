// LayerNorm over the last axis on the CPU: y = (x-mean)*rstd*w + b for each of
// n rows of c features, and its backward (llm.c's layernorm_forward/backward).

package kernels

import "github.com/chewxy/math32"

// LayerNormForward normalises each row of x (n×c) and writes y (n×c), plus the
// row statistics mean (n) and rstd = 1/sqrt(var+eps) (n) that the backward needs.
// The variance is the biased one (divided by c), as in PyTorch.
func LayerNormForward(y, mean, rstd, x, w, b []float32, n, c int, eps float32) {
	w, b = w[:c], b[:c]
	for i := range n {
		xi := x[i*c : (i+1)*c]
		yi := y[i*c : (i+1)*c]
		// Two passes: the variance of x-mean loses nothing to cancellation.
		m := sum32(xi) / float32(c)
		var v0, v1 float32
		j := 0
		for ; j+1 < c; j += 2 {
			d0, d1 := xi[j]-m, xi[j+1]-m
			v0 += d0 * d0
			v1 += d1 * d1
		}
		if j < c {
			d := xi[j] - m
			v0 += d * d
		}
		s := 1 / math32.Sqrt((v0+v1)/float32(c)+eps)
		for j, xv := range xi {
			yi[j] = (xv-m)*s*w[j] + b[j]
		}
		mean[i], rstd[i] = m, s
	}
}

// LayerNormBackward overwrites dx (n×c), dw (c) and db (c) with the gradients
// of the loss given dy (n×c) and the forward's x, w, mean and rstd:
//
//	xhat = (x-mean)*rstd, g = dy*w
//	dx = rstd * (g - mean(g) - xhat*mean(g*xhat))
//	dw = sum over rows of dy*xhat, db = sum over rows of dy
func LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n, c int) {
	w, dw, db = w[:c], dw[:c], db[:c]
	clear(dw)
	clear(db)
	for i := range n {
		xi := x[i*c : (i+1)*c]
		dyi := dy[i*c : (i+1)*c]
		dxi := dx[i*c : (i+1)*c]
		m, s := mean[i], rstd[i]
		var g, gx float32 // sums of g and g*xhat over the row
		for j, d := range dyi {
			xhat := (xi[j] - m) * s
			gj := d * w[j]
			g += gj
			gx += gj * xhat
			db[j] += d
			dw[j] += d * xhat
		}
		g /= float32(c)
		gx /= float32(c)
		for j, d := range dyi {
			xhat := (xi[j] - m) * s
			dxi[j] = s * (d*w[j] - g - xhat*gx)
		}
	}
}

// sum32 returns the sum of x with four partial sums.
func sum32(x []float32) float32 {
	var s0, s1, s2, s3 float32
	for len(x) >= 4 {
		s0 += x[0]
		s1 += x[1]
		s2 += x[2]
		s3 += x[3]
		x = x[4:]
	}
	for _, v := range x {
		s0 += v
	}
	return (s0 + s1) + (s2 + s3)
}
