//go:build cuda

// The twin cases of the finetuning heads' kernels (head.cu) and of the
// gradient-norm clipping (gradnorm.cu); see cuda_test.go for the harness.

package kernels

import (
	"math"
)

// head runs the row gather, mean squared error and the scalar ops over a
// hidden state of n rows of c features.
func (g *gpuHarness) head(n, c int) {
	const group = 2
	rows := make([]int32, 5*group) // 5 examples of 2 rows: repeated and padded (-1) indexes
	for i := range rows {
		rows[i] = int32((i * 7) % n)
	}
	rows[3], rows[8], rows[6] = -1, rows[1], rows[0]
	k, m := len(rows)/group, len(rows)
	x, dy := g.randn(n*c, 1), g.randn(k*c, 1)
	y, dx := make([]float32, k*c), make([]float32, n*c)
	g.cpu(func() {
		GatherRowsForward(y, x, rows, group, c)
		GatherRowsBackward(dx, dy, rows, group, c)
	})
	stale := make([]float32, n*c) // dx holds a previous step's values: the rows no entry names must be zeroed
	for i := range stale {
		stale[i] = float32(math.NaN())
	}
	gx, grows, gdy, gy, gdx := g.up(x), g.upInt(rows), g.up(dy), g.alloc(k*c), g.up(stale)
	ms := g.timed(func() error { return g.d.GatherRowsForward(gy, gx, grows, n, m, group, c) })
	g.compare("gather_rows_fwd", ms, g.down(gy, k*c), y, 0, 0)
	ms = g.timed(func() error { return g.d.GatherRowsBackward(gdx, gdy, grows, n, m, group, c) })
	g.compare("gather_rows_bwd", ms, g.down(gdx, n*c), dx, 0, 0)

	pred, target := g.randn(n, 2), g.randn(n, 2)
	for i := 0; i < n; i += 4 {
		target[i] = float32(math.NaN()) // padding rows
	}
	const dloss = 0.7
	dpred := make([]float32, n)
	var stats []float32
	g.cpu(func() {
		sum, count := MSEForward(pred, target)
		mean := 0.0 // no row counts (every target padding): the device's mean is 0
		if count > 0 {
			mean = sum / float64(count)
		}
		stats = []float32{float32(mean), float32(count)}
		MSEBackward(dpred, pred, target, dloss/float32(count))
	})
	gp, gt, gstats, gd, gdl := g.up(pred), g.up(target), g.alloc(2), g.alloc(n), g.up([]float32{dloss})
	ms = g.timed(func() error { return g.d.MSEForward(gstats, gp, gt, n) })
	g.compare("mse_fwd mean,count", ms, g.down(gstats, 2), stats, 1e-7, 1e-6)
	ms = g.timed(func() error { return g.d.MSEBackward(gd, gp, gt, gdl, gstats, n) })
	g.compare("mse_bwd", ms, g.down(gd, n), dpred, 0, 0)

	// The loops of scaleByOp, scaleConstOp, addScaledOp and weightedSumOp.
	const lambda = 0.3
	a, b := g.randn(n, 1), g.randn(n, 1)
	scaled, consted, added := make([]float32, n), make([]float32, n), make([]float32, n)
	var wsum float64
	for i := range a {
		scaled[i] = a[i] * dloss
		consted[i] = lambda * a[i]
		added[i] = a[i] + float32(lambda*b[i])
		wsum += float64(a[i]) * float64(b[i])
	}
	ga, gb := g.up(a), g.up(b)
	gy = g.alloc(n)
	ms = g.timed(func() error { return g.d.ScaleBy(gy, ga, gdl, n) })
	g.compare("scale by", ms, g.down(gy, n), scaled, 0, 0)
	ms = g.timed(func() error { return g.d.ScaleConst(gy, ga, lambda, n) })
	g.compare("scale const", ms, g.down(gy, n), consted, 0, 0)
	ms = g.timed(func() error { return g.d.AddScaled(gy, ga, gb, lambda, n) })
	g.compare("add scaled", ms, g.down(gy, n), added, 0, 0)
	ms = g.timed(func() error { return g.d.WeightedSum(gy, ga, gb, n) })
	g.compare("weighted sum", ms, g.down(gy, 1), []float32{float32(wsum)}, 1e-6, 1e-6)
}

// gradNorm runs the global norm over three buffers and the clip with a
// bound under the norm (scaled) and over it (left alone).
func (g *gpuHarness) gradNorm(c int) {
	sizes := []int{3 * c * c, c, 7}
	var host [][]float32
	var bufs []Buffer
	var sum float64
	for _, n := range sizes {
		x := g.randn(n, 1)
		host, bufs = append(host, x), append(bufs, g.up(x))
		g.cpu(func() { sum += SumSquares(x) })
	}
	gsum := g.alloc(4) // a StepGuard state: the sum, then the refused steps
	ms := g.timed(func() error { return g.d.SumSquares(gsum, bufs) })
	got, _, _, err := g.d.DownloadStepState(gsum)
	g.must(err)
	g.compare("sum of squares", ms, []float32{float32(got)}, []float32{float32(sum)}, 0, 1e-12)
	// The clip's twin scales by the device's own sum: the two sums agree
	// to 1e-12, not to the last bit of the factor.
	norm := math.Sqrt(got)
	for _, bound := range []float64{norm / 3, norm * 2} {
		want := append([]float32(nil), host[0]...)
		if norm > bound {
			Scale(want, float32(bound/(norm+1e-6)))
		}
		ms = g.timed(func() error { return g.d.ClipScale(bufs[0], sizes[0], gsum, bound) })
		g.compare("clip scale", ms, g.down(bufs[0], sizes[0]), want, 0, 0)
		g.must(g.d.Upload(bufs[0], host[0]))
	}
}
