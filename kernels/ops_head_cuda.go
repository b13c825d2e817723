//go:build cuda

package kernels

// ForwardCUDA of the finetuning heads' ops and of the gradient checks'
// weighted sum (see ops_cuda.go).

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

func (op *gatherRowsOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.GatherRowsForward(y, in[0], in[1], op.n, op.k*op.g, op.g, op.c)
}

// CheckInputs rejects row indexes at or over the rows of x, as Forward does
// (a negative index is a padded slot).
func (op *gatherRowsOp) CheckInputs(in []G.Value) error {
	if in[1] == nil {
		return nil
	}
	for i, r := range Int32s(in[1]) {
		if int(r) >= op.n {
			return fmt.Errorf("gather rows: index %d at %d is outside %d rows", r, i, op.n)
		}
	}
	return nil
}

func (op *gatherRowsGradOp) ForwardCUDA(s *CUDAState, dx Buffer, in []Buffer) error {
	f := op.fwd
	return s.Device.GatherRowsBackward(dx, in[0], in[1], f.n, f.k*f.g, f.g, f.c)
}

func (op *mseOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	st, err := saved(s, op, func(t *lossStats) (err error) {
		t.stats, err = s.alloc(2)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.Device.MSEForward(st.stats, in[0], in[1], op.n); err != nil {
		return err
	}
	return copyInto(s.Device, y, st.stats, 1)
}

func (op *mseGradOp) ForwardCUDA(s *CUDAState, dpred Buffer, in []Buffer) error {
	st, err := savedBy[lossStats](s, op.fwd)
	if err != nil {
		return err
	}
	return s.Device.MSEBackward(dpred, in[0], in[1], in[2], st.stats, op.fwd.n)
}

func (op *addScaledOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.AddScaled(y, in[0], in[1], op.lambda, 1)
}

func (op *scaleConstOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.ScaleConst(y, in[0], op.s, size(op.shape))
}

func (op *reshapeOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return copyInto(s.Device, y, in[0], size(op.shape))
}

func (op *weightedSumOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.WeightedSum(y, in[0], in[1], in[0].Len())
}

func (op *scaleByOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.ScaleBy(y, in[0], in[1], size(op.shape))
}

func (op *padRowsOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	n := op.r * op.c
	if err := copyInto(s.Device, y, in[0], n); err != nil {
		return err
	}
	return s.Device.Zero(y.Slice(n, y.Len()-n))
}

func (op *sliceRowsOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return copyInto(s.Device, y, in[0], op.r*op.c)
}
