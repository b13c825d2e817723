// Tests for the finetuning ops on the CPU: GatherRows against a direct sum
// (repeated and padded indexes), MSE with ignored rows.

package kernels

import (
	"math"
	"testing"
)

func TestGatherRows(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6} // 3 rows of 2
	rows := []int32{2, 0, -1, 2}     // pairs: x2+x0, x2
	y := testNaN(4)
	GatherRowsForward(y, x, rows, 2, 2)
	testCheck(t, "y", y, []float64{6, 8, 5, 6}, 0)
	dx := testNaN(6)
	GatherRowsBackward(dx, []float32{1, 10, 100, 1000}, rows, 2, 2)
	testCheck(t, "dx", dx, []float64{1, 10, 0, 0, 101, 1010}, 0)
}

func TestMSEIgnoresNaN(t *testing.T) {
	pred := []float32{1, 5, -1}
	target := []float32{0, float32(math.NaN()), 1}
	sum, n := MSEForward(pred, target)
	if sum != 5 || n != 2 {
		t.Fatalf("sum %v over %d rows, want 5 over 2", sum, n)
	}
	d := testNaN(3)
	MSEBackward(d, pred, target, 0.5)
	testCheck(t, "dpred", d, []float64{1, 0, -2}, 0)
}
