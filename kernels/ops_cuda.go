//go:build cuda

// The fused ops on a device. Every op that graph builds implements
// CUDAKernel, the device twin of Kernel: the device executor
// (graph.DeviceMachine) hands it the device buffers of its output and
// inputs and it queues its launches on the device's stream. What an op
// keeps between its forward pass and its gradient op (attention
// probabilities and dropout multipliers, LayerNorm statistics, softmax
// probabilities and the loss statistics, dropout masks) lives in device
// memory owned by a CUDAState, one per executor, keyed by the op: the CPU
// op's own fields hold the host copies, which the device never touches.

package kernels

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CUDAKernel is a Kernel that also runs on a Device. ForwardCUDA computes
// the op into out from in, the device values of its inputs (float32, or
// int32 for token ids, targets and row indexes), each exactly the size of
// its node; like Forward it overwrites all of out.
type CUDAKernel interface {
	Kernel
	ForwardCUDA(s *CUDAState, out Buffer, in []Buffer) error
}

// InputChecker is implemented by the ops whose CPU Forward rejects bad
// int32 inputs (token ids outside the vocabulary, targets outside the
// classes, row indexes outside the rows): the device kernels skip such
// values instead, so the executor calls CheckInputs with the host values
// of the inputs it uploads (nil for the others) before it runs a program.
type InputChecker interface {
	CheckInputs(in []G.Value) error
}

// CUDAState is the device memory the ops of one executor keep between a
// forward op and its gradient op. An op's buffers are allocated on its
// first run and reused on every later one.
type CUDAState struct {
	Device *Device

	saved  map[G.Op]any
	bufs   []Buffer
	floats int
}

// NewCUDAState returns an empty state for ops run on d.
func NewCUDAState(d *Device) *CUDAState {
	return &CUDAState{Device: d, saved: map[G.Op]any{}}
}

// Floats is the number of float32s the ops' saved state holds on the device.
func (s *CUDAState) Floats() int { return s.floats }

// Free releases the device memory of every op's state.
func (s *CUDAState) Free() error {
	var errs []error
	for _, b := range s.bufs {
		errs = append(errs, s.Device.Free(b))
	}
	s.bufs, s.saved, s.floats = nil, map[G.Op]any{}, 0
	return errors.Join(errs...)
}

// alloc returns a buffer of n elements that s owns.
func (s *CUDAState) alloc(n int) (Buffer, error) {
	b, err := s.Device.Alloc(n)
	if err != nil {
		return Buffer{}, fmt.Errorf("cuda: op state of %d floats: %w", n, err)
	}
	s.bufs = append(s.bufs, b)
	s.floats += n
	return b, nil
}

// saved returns the state of op, made by init on its first run.
func saved[T any](s *CUDAState, op G.Op, init func(*T) error) (*T, error) {
	if v, ok := s.saved[op]; ok {
		return v.(*T), nil
	}
	t := new(T)
	if err := init(t); err != nil {
		return nil, err
	}
	s.saved[op] = t
	return t, nil
}

// savedBy returns the state a forward op left for its gradient op.
func savedBy[T any](s *CUDAState, fwd G.Op) (*T, error) {
	t, ok := s.saved[fwd].(*T)
	if !ok {
		return nil, fmt.Errorf("cuda: the gradient of %s runs before its forward pass", fwd)
	}
	return t, nil
}

// dropoutMask fills mask (on the device) with 0 (probability p) or
// 1/(1-p) from a seed drawn from rng: the mask the CPU op draws from the
// same RNG state (one Uint64 a training step; see Dropout).
func (s *CUDAState) dropoutMask(mask Buffer, p float32, rng *RNG) error {
	return s.Device.DropoutMask(mask, mask.n, p, rng.Uint64(), 0)
}

// lossStats is the state of a mean loss: [mean, count] of its last forward
// pass, read by its gradient op without a host round trip.
type lossStats struct{ stats Buffer }

// LossCount reports how many rows the loss op (cross-entropy or mean
// squared error) averaged over in its last device run: 0 for other ops or
// before a run. It waits for the stream.
func (s *CUDAState) LossCount(op G.Op) (int, error) {
	var ls *lossStats
	switch st := s.saved[op].(type) {
	case *ceSaved:
		ls = &st.lossStats
	case *lossStats:
		ls = st
	default:
		return 0, nil
	}
	var w [2]float32
	if err := s.Device.Download(w[:], ls.stats); err != nil {
		return 0, err
	}
	return int(w[1]), nil
}

// ViewCUDA is Part's view on the device: the window of the packed buffer.
func (p *Part) ViewCUDA(packed Buffer) Buffer { return packed.Slice(p.off, p.shape.TotalSize()) }

// size is the number of elements of a node of this shape (1 for a scalar).
func size(s tensor.Shape) int { return max(1, s.TotalSize()) }

// copyInto overwrites y with the first n elements of x.
func copyInto(d *Device, y, x Buffer, n int) error { return d.Copy(y, x.Slice(0, n)) }

// The ops graph builds, for pretraining and for the finetuning heads.
var (
	_ CUDAKernel = (*embeddingOp)(nil)
	_ CUDAKernel = (*embeddingGradOp)(nil)
	_ CUDAKernel = (*linearOp)(nil)
	_ CUDAKernel = (*linearGradOp)(nil)
	_ CUDAKernel = (*layerNormOp)(nil)
	_ CUDAKernel = (*layerNormGradOp)(nil)
	_ CUDAKernel = (*geluOp)(nil)
	_ CUDAKernel = (*geluGradOp)(nil)
	_ CUDAKernel = (*attentionOp)(nil)
	_ CUDAKernel = (*attentionGradOp)(nil)
	_ CUDAKernel = (*addOp)(nil)
	_ CUDAKernel = (*dropoutOp)(nil)
	_ CUDAKernel = (*dropoutGradOp)(nil)
	_ CUDAKernel = (*crossEntropyOp)(nil)
	_ CUDAKernel = (*crossEntropyGradOp)(nil)
	_ CUDAKernel = (*gatherRowsOp)(nil)
	_ CUDAKernel = (*gatherRowsGradOp)(nil)
	_ CUDAKernel = (*mseOp)(nil)
	_ CUDAKernel = (*mseGradOp)(nil)
	_ CUDAKernel = (*addScaledOp)(nil)
	_ CUDAKernel = (*scaleConstOp)(nil)
	_ CUDAKernel = (*reshapeOp)(nil)
	_ CUDAKernel = (*padRowsOp)(nil)
	_ CUDAKernel = (*sliceRowsOp)(nil)
	_ CUDAKernel = (*weightedSumOp)(nil)
	_ CUDAKernel = (*scaleByOp)(nil)

	_ InputChecker = (*embeddingOp)(nil)
	_ InputChecker = (*crossEntropyOp)(nil)
	_ InputChecker = (*gatherRowsOp)(nil)
)
