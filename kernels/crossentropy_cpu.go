// Softmax cross-entropy on the CPU, fused: the forward writes the softmax
// probabilities and returns the summed loss, the backward turns the saved
// probabilities into dlogits. Rows whose target is negative are ignored.
// Rows are split over the worker pool in a fixed number of blocks whose
// partial sums are added in block order, so the loss does not depend on
// which worker ran which block.

package kernels

import (
	"fmt"
	"math"
)

// ceBlocks is the number of row blocks (at most) the rows are cut into.
const ceBlocks = 32

// CrossEntropyForward writes probs = softmax(logits) row by row over the
// first v columns of rows w apart (w >= v: a padded row's columns v..w are
// not classes and are not read or written; probs may be logits, which it
// then overwrites) and returns the sum over rows
// with targets[i] >= 0 of -log softmax(logits_i)[targets[i]], computed as
// max + log(sum exp(x - max)) - x[target] with the sum in float64, and the
// number of such rows. It panics on a target >= v.
func CrossEntropyForward(probs, logits []float32, targets []int32, n, v, w int) (sum float64, count int) {
	return crossEntropy(func(_, i int) []float32 { return probs[i*w : i*w+v] }, logits, targets, n, v, w)
}

// CrossEntropyLoss is CrossEntropyForward's loss, to the bit, without the
// probabilities: each block of rows computes its rows' softmax in turn in
// one row of rows (ceBlocks*v floats), for a forward pass no gradient
// follows.
func CrossEntropyLoss(rows, logits []float32, targets []int32, n, v, w int) (sum float64, count int) {
	return crossEntropy(func(blk, _ int) []float32 { return rows[blk*v : (blk+1)*v] }, logits, targets, n, v, w)
}

// crossEntropy is CrossEntropyForward with row i's probabilities, in block
// blk, written to row(blk, i).
func crossEntropy(row func(blk, i int) []float32, logits []float32, targets []int32, n, v, w int) (sum float64, count int) {
	var part [ceBlocks]float64
	var parts [ceBlocks]int
	nb := min(ceBlocks, n, max(1, n*v/(1<<14)))
	parallelFor(nb, func(blk int) {
		lo, hi := blk*n/nb, (blk+1)*n/nb
		var s float64
		var k int
		for i := lo; i < hi; i++ {
			x := logits[i*w : i*w+v]
			tg := targets[i]
			var xt float32 // read before p, which may be x, is written
			if tg >= 0 {
				checkTarget(tg, v)
				xt = x[tg]
			}
			p := row(blk, i)
			copy(p, x)
			maxv := max32(p)
			z := expSubSum64(p, maxv)
			scal32(float32(1/z), p)
			if tg >= 0 {
				s += math.Log(z) - (float64(xt) - float64(maxv))
				k++
			}
		}
		part[blk], parts[blk] = s, k
	})
	for blk := range nb {
		sum += part[blk]
		count += parts[blk]
	}
	return sum, count
}

// expSubSum64 overwrites x[j] with exp(x[j]-m) and returns the sum in
// float64 (float32 partial sums over runs of 256).
func expSubSum64(x []float32, m float32) float64 {
	var z float64
	for len(x) > 0 {
		r := min(len(x), 256)
		z += float64(expSubSum(x[:r], m))
		x = x[r:]
	}
	return z
}

// CrossEntropyBackward overwrites dlogits (n rows, w apart) with
// scale*(probs - onehot(target)) over the first v columns of rows with
// targets[i] >= 0, 0 on ignored rows and 0 in the padding columns v..w.
// dlogits may be probs: each element is read before it is written.
func CrossEntropyBackward(dlogits, probs []float32, targets []int32, n, v, w int, scale float32) {
	parallelRanges(n, min(ceBlocks, n, max(1, n*v/(1<<14))), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := dlogits[i*w : (i+1)*w]
			clear(d[v:])
			d = d[:v]
			tg := targets[i]
			if tg < 0 {
				clear(d)
				continue
			}
			checkTarget(tg, v)
			for j, pv := range probs[i*w : i*w+v] {
				d[j] = scale * pv
			}
			d[tg] -= scale
		}
	})
}

func checkTarget(tg int32, v int) {
	if int(tg) >= v {
		panic(fmt.Sprintf("kernels: cross-entropy: target %d is out of range for %d classes", tg, v))
	}
}
