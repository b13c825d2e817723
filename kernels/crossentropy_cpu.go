// Softmax cross-entropy on the CPU, fused: the forward writes the softmax
// probabilities and returns the summed loss, the backward turns the saved
// probabilities into dlogits. Rows whose target is negative are ignored.

package kernels

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/math32"
)

// CrossEntropyForward writes probs (n×v) = softmax(logits) row by row and
// returns the sum over rows with targets[i] >= 0 of -log softmax(logits_i)[targets[i]],
// computed with log-sum-exp in float64, and the number of such rows.
// It panics on a target >= v.
func CrossEntropyForward(probs, logits []float32, targets []int32, n, v int) (sum float64, count int) {
	// One partial sum per block, added in block order so the result does not
	// depend on which goroutine finishes first.
	var part [maxRowWorkers]float64
	var parts [maxRowWorkers]int
	blocks := parallelRows(n, v, func(blk, lo, hi int) {
		var s float64
		var k int
		for i := lo; i < hi; i++ {
			x := logits[i*v : (i+1)*v]
			p := probs[i*v : (i+1)*v]
			maxv := math32.Inf(-1)
			for _, xv := range x {
				maxv = max(maxv, xv)
			}
			var z float64 // sum of exp(x - max)
			for j, xv := range x {
				e := math32.Exp(xv - maxv)
				p[j] = e
				z += float64(e)
			}
			inv := float32(1 / z)
			for j := range p {
				p[j] *= inv
			}
			if tg := targets[i]; tg >= 0 {
				checkTarget(tg, v)
				s += math.Log(z) - (float64(x[tg]) - float64(maxv))
				k++
			}
		}
		part[blk], parts[blk] = s, k
	})
	for blk := range blocks {
		sum += part[blk]
		count += parts[blk]
	}
	return sum, count
}

// CrossEntropyBackward overwrites dlogits (n×v) with scale*(probs - onehot(target))
// on rows with targets[i] >= 0 and with 0 on ignored rows.
func CrossEntropyBackward(dlogits, probs []float32, targets []int32, n, v int, scale float32) {
	parallelRows(n, v, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			d := dlogits[i*v : (i+1)*v]
			tg := targets[i]
			if tg < 0 {
				clear(d)
				continue
			}
			checkTarget(tg, v)
			p := probs[i*v : (i+1)*v]
			for j, pv := range p {
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

// maxRowWorkers caps the goroutines parallelRows starts.
const maxRowWorkers = 64

// parallelRows splits n rows of width v into contiguous blocks, one per
// goroutine up to GOMAXPROCS, when there is enough work (about 64k elements a
// block) to pay for starting them. It calls fn(blk, lo, hi) for block blk of
// rows lo..hi-1, waits for all of them and returns the number of blocks.
func parallelRows(n, v int, fn func(blk, lo, hi int)) int {
	blocks := min(runtime.GOMAXPROCS(0), maxRowWorkers, n, n*v/(1<<16))
	if blocks <= 1 {
		fn(0, 0, n)
		return 1
	}
	var wg sync.WaitGroup
	for blk := range blocks {
		wg.Go(func() { fn(blk, blk*n/blocks, (blk+1)*n/blocks) })
	}
	wg.Wait()
	return blocks
}
