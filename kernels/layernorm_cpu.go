// LayerNorm over the last axis on the CPU: y = (x-mean)*rstd*w + b for each of
// n rows of c features, and its backward (llm.c's layernorm_forward/backward).
// Rows are split over the worker pool in blocks of about lnBlock elements; the
// backward sums each block's dw and db separately and adds the blocks in
// order, so the result does not depend on the thread count.

package kernels

import (
	"sync"

	"github.com/chewxy/math32"

	"gptctl/kernels/internal/simd"
)

const lnBlock = 1 << 15

// LayerNormForward normalises each row of x (n×c) and writes y (n×c), plus the
// row statistics mean (n) and rstd = 1/sqrt(var+eps) (n) that the backward needs.
// The variance is the biased one (divided by c), as in PyTorch.
func LayerNormForward(y, mean, rstd, x, w, b []float32, n, c int, eps float32) {
	w, b = w[:c], b[:c]
	parallelRanges(n, lnBlocks(n, c), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			mean[i], rstd[i] = layerNormRow(y[i*c:(i+1)*c], x[i*c:(i+1)*c], w, b, eps)
		}
	})
}

// layerNormRow normalises one row and returns its mean and rstd. Two passes:
// the variance of x-mean loses nothing to cancellation. The mean is x[0]
// plus that of x-x[0]: exact for a row of equal values, and without the
// rounding of a large sum for a row far from 0 with a small spread (as the
// GPU twin takes it).
func layerNormRow(y, x, w, b []float32, eps float32) (m, s float32) {
	c, v := len(x), n8(len(x))
	shift := x[0]
	var sum, dev float32
	if v > 0 {
		sum = simd.SumDev(&x[0], v, shift)
	}
	m = shift + (sum+sumDev32(x[v:], shift))/float32(c)
	if v > 0 {
		dev = simd.SumSqDev(&x[0], v, m)
	}
	for _, xv := range x[v:] {
		dev += (xv - m) * (xv - m)
	}
	s = 1 / math32.Sqrt(dev/float32(c)+eps)
	if v > 0 {
		simd.LNApply(&y[0], &x[0], &w[0], &b[0], v, m, s)
	}
	for j := v; j < c; j++ {
		y[j] = (x[j]-m)*s*w[j] + b[j]
	}
	return m, s
}

// n8 is how many of n elements the AVX2 loops take: n rounded down to a
// multiple of 8, or 0 without AVX2.
func n8(n int) int {
	if !hasAVX2 {
		return 0
	}
	return n &^ 7
}

// LayerNormBackward overwrites dx (n×c), dw (c) and db (c) with the gradients
// of the loss given dy (n×c) and the forward's x, w, mean and rstd:
//
//	xhat = (x-mean)*rstd, g = dy*w
//	dx = rstd * (g - mean(g) - xhat*mean(g*xhat))
//	dw = sum over rows of dy*xhat, db = sum over rows of dy
func LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n, c int) {
	w, dw, db = w[:c], dw[:c], db[:c]
	nb := lnBlocks(n, c)
	if nb == 1 {
		clear(dw)
		clear(db)
		layerNormBackward(dx, dw, db, dy, x, w, mean, rstd, 0, n, c)
		return
	}
	part := lnScratch.Get().(*[]float32) // dw and db of each block
	if cap(*part) < 2*nb*c {
		*part = make([]float32, 2*nb*c)
	}
	p := (*part)[:2*nb*c]
	clear(p)
	parallelFor(nb, func(blk int) {
		pw, pb := p[2*blk*c:(2*blk+1)*c], p[(2*blk+1)*c:(2*blk+2)*c]
		layerNormBackward(dx, pw, pb, dy, x, w, mean, rstd, blk*n/nb, (blk+1)*n/nb, c)
	})
	copy(dw, p[:c])
	copy(db, p[c:2*c])
	for blk := 1; blk < nb; blk++ {
		axpy32(1, p[2*blk*c:(2*blk+1)*c], dw)
		axpy32(1, p[(2*blk+1)*c:(2*blk+2)*c], db)
	}
	lnScratch.Put(part)
}

var lnScratch = sync.Pool{New: func() any { return new([]float32) }}

// lnBlocks is the number of row blocks of about lnBlock elements (at most 16).
func lnBlocks(n, c int) int { return max(1, min(16, n, n*c/lnBlock)) }

// layerNormBackward writes dx for rows lo..hi and adds their dw and db.
func layerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, lo, hi, c int) {
	v := n8(c)
	for i := lo; i < hi; i++ {
		xi, dyi, dxi := x[i*c:(i+1)*c], dy[i*c:(i+1)*c], dx[i*c:(i+1)*c]
		m, s := mean[i], rstd[i]
		var g, gx float32 // sums of g = dy*w and g*xhat over the row
		if v > 0 {
			g, gx = simd.LNBwdSums(&dyi[0], &xi[0], &w[0], &dw[0], &db[0], v, m, s)
		}
		for j := v; j < c; j++ {
			xhat := (xi[j] - m) * s
			gj := dyi[j] * w[j]
			g += gj
			gx += gj * xhat
			db[j] += dyi[j]
			dw[j] += dyi[j] * xhat
		}
		g /= float32(c)
		gx /= float32(c)
		if v > 0 {
			simd.LNBwdDx(&dxi[0], &dyi[0], &xi[0], &w[0], v, m, s, g, gx)
		}
		for j := v; j < c; j++ {
			xhat := (xi[j] - m) * s
			dxi[j] = s * (dyi[j]*w[j] - g - xhat*gx)
		}
	}
}

// sumDev32 returns the sum of x[i]-m with four partial sums.
func sumDev32(x []float32, m float32) float32 {
	var s0, s1, s2, s3 float32
	for len(x) >= 4 {
		s0 += x[0] - m
		s1 += x[1] - m
		s2 += x[2] - m
		s3 += x[3] - m
		x = x[4:]
	}
	for _, v := range x {
		s0 += v - m
	}
	return (s0 + s1) + (s2 + s3)
}
