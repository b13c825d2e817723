//go:build cuda

package kernels

import (
	"fmt"
	"math"
)

// The global gradient norm and clipping on the device (gradnorm.cu): the
// sum of squares stays in device memory, where the clipping reads it, so
// clipping needs no host round trip; the norm is downloaded only when
// asked for.

// normBlocks is the most blocks one buffer's partial sums of squares use.
const normBlocks = 64

// SumSquares overwrites sumsq (2 elements: one float64) with the sum of
// the squares of every element of xs, in float64 and in a fixed order, the
// twin of adding SumSquares over the gradients.
func (d *Device) SumSquares(sumsq Buffer, xs []Buffer) error {
	if err := need("sum of squares", want{"sumsq", sumsq, 2}); err != nil {
		return err
	}
	blocks := make([]int, len(xs))
	total := 0
	for i, x := range xs {
		if x.IsNil() {
			return fmt.Errorf("cuda: sum of squares: buffer %d is nil", i)
		}
		blocks[i] = d.grid1(x.n, 256).x
		blocks[i] = min(blocks[i], normBlocks)
		total += blocks[i]
	}
	if total == 0 {
		return d.Zero(sumsq.Slice(0, 2))
	}
	part, err := d.scratchBuf(2 * total) // float64 partials
	if err != nil {
		return err
	}
	off := 0
	for i, x := range xs {
		if err := d.launch("sumsq_partial_f32", dim3{blocks[i], 1, 1}, dim3{256, 1, 1}, 0,
			part.Slice(2*off, 2*blocks[i]), x, int64(x.n)); err != nil {
			return err
		}
		off += blocks[i]
	}
	return d.launch("sumsq_total_f64", dim3{1, 1, 1}, dim3{256, 1, 1}, 0, sumsq, part, total)
}

// ClipScale multiplies x (n) by maxNorm/(norm + 1e-6) when maxNorm > 0 and
// the norm, the square root of sumsq from SumSquares, is over maxNorm: the
// scaling of a global gradient-norm clip, with the norm read on the device.
func (d *Device) ClipScale(x Buffer, n int, sumsq Buffer, maxNorm float64) error {
	if err := need("clip", want{"x", x, n}, want{"sumsq", sumsq, 2}); err != nil {
		return err
	}
	return d.launch("clip_scale_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, x, int64(n), sumsq, maxNorm)
}

// StepGuard refuses this training step on the device when the sum of
// squares in state is not finite, the twin of StepGuard: state has 4
// elements, a SumSquares result (a float64) then the refused-step count and
// the first refused step (int32s); step is recorded as the first. AdamW
// with refused = state.Slice(2, 1) then leaves the weights alone, for this
// step and every later one, so the host learns of it when it next reads
// state (DownloadStepState), not by waiting on every step.
func (d *Device) StepGuard(state Buffer, step int) error {
	if err := need("step guard", want{"state", state, 4}); err != nil {
		return err
	}
	return d.launch("step_guard", dim3{1, 1, 1}, dim3{1, 1, 1}, 0, state, step)
}

// DownloadStepState waits for the stream and reads a StepGuard state: the
// sum of squares, the number of refused steps and the first of them.
func (d *Device) DownloadStepState(state Buffer) (sumsq float64, refused, first int, err error) {
	var w [4]float32
	if err := d.Download(w[:], state.Slice(0, 4)); err != nil {
		return 0, 0, 0, err
	}
	sumsq = math.Float64frombits(uint64(math.Float32bits(w[0])) | uint64(math.Float32bits(w[1]))<<32)
	return sumsq, int(int32(math.Float32bits(w[2]))), int(int32(math.Float32bits(w[3]))), nil
}
