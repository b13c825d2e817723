//go:build cuda

package graph

// The training step on the device: the twin of Trainer over a
// DeviceMachine, with the gradient clipping and the AdamW update on the
// device too, so that a step (upload the batch, forward, backward, clip,
// update) makes no host round trip. The loss, the gradient norm, the
// gradients and the weights are downloaded only when asked for.

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// DeviceTrainer holds a loss, the gradient of every weight and the device
// programs that compute them.
type DeviceTrainer struct {
	Model   *Model
	Loss    *G.Node
	Grads   []*G.Node // one per Params.List entry; nil for a weight the loss does not use
	Machine *DeviceMachine

	step  *DeviceProgram   // forward and backward
	eval  *DeviceProgram   // forward only
	state kernels.Buffer   // ClipGrads' squared gradient norm (a float64), GuardStep's refused count and first refused step
	acc   []kernels.Buffer // gradient accumulators (AccumulateGrads), allocated on first use
}

// DifferentiateOn builds the gradient graph of loss with respect to all
// weights, as Differentiate does, and compiles it for device d: the
// weights are uploaded now and stay there. Every float32 input that is not
// a weight (a regression head's targets) is fed before each run, like the
// int32 ones.
func (m *Model) DifferentiateOn(d *Device, loss *G.Node, extra ...*G.Node) (*DeviceTrainer, error) {
	return m.differentiateOn(NewDeviceMachine(d, m.Graph), loss, extra...)
}

func (m *Model) differentiateOn(dm *DeviceMachine, loss *G.Node, extra ...*G.Node) (*DeviceTrainer, error) {
	wrt := make([]*G.Node, len(m.Params.List))
	for i, w := range m.Params.List {
		wrt[i] = m.nodes[w.Name]
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("graph: differentiating the loss: %w", err)
	}
	if err := m.feedInputs(dm); err != nil {
		return nil, err
	}
	t := &DeviceTrainer{Model: m, Loss: loss, Grads: grads, Machine: dm}
	outs := append([]*G.Node{loss}, extra...)
	if t.step, err = m.compileOn(dm, append(outs, grads...)...); err == nil {
		t.eval, err = m.compileOn(dm, outs...)
	}
	if err == nil {
		if t.state, err = dm.alloc(4); err == nil {
			err = dm.d.Zero(t.state)
		}
	}
	if err != nil {
		return nil, errors.Join(err, dm.Close())
	}
	return t, nil
}

// feedInputs marks every float32 input of m's graph that is not a weight
// (a regression head's targets) as fed before each run, like the int32 ones.
func (m *Model) feedInputs(dm *DeviceMachine) error {
	weights := map[*G.Node]bool{}
	for _, w := range m.Params.List {
		weights[m.nodes[w.Name]] = true
	}
	for _, n := range m.Graph.AllNodes() {
		if n.Op() == nil && n.IsVar() && n.Dtype() == tensor.Float32 && !weights[n] {
			if err := dm.Feed(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// ForwardOn compiles the forward pass to outputs for device d, for
// inference: the weights are uploaded now and stay there, the inputs are
// uploaded by every run of the program (in m.mode, evaluation unless the
// caller says otherwise). Close the machine to free the device memory.
func (m *Model) ForwardOn(d *Device, outputs ...*G.Node) (*DeviceMachine, *DeviceProgram, error) {
	dm := NewDeviceMachine(d, m.Graph)
	if err := m.feedInputs(dm); err != nil {
		return nil, nil, err
	}
	p, err := m.compileOn(dm, outputs...)
	if err != nil {
		return nil, nil, errors.Join(err, dm.Close())
	}
	return dm, p, nil
}

// compileOn compiles a program over m for dm whose every run first
// prepares the inputs derived from the caller's.
func (m *Model) compileOn(dm *DeviceMachine, outputs ...*G.Node) (*DeviceProgram, error) {
	p, err := dm.Compile(outputs...)
	if err == nil {
		p.before = m.prepare
	}
	return p, err
}

// Step queues forward and backward in training mode with the inputs'
// current host values; the loss stays on the device (LossValue).
func (t *DeviceTrainer) Step() error {
	t.Model.mode.Training = true
	return t.step.Run()
}

// Eval queues the forward pass in evaluation mode.
func (t *DeviceTrainer) Eval() error {
	t.Model.mode.Training = false
	return t.eval.Run()
}

// Forward compiles a program computing outputs (a task head's logits, say)
// on the trainer's machine, over the same device weights.
func (t *DeviceTrainer) Forward(outputs ...*G.Node) (*DeviceProgram, error) {
	return t.Model.compileOn(t.Machine, outputs...)
}

// RunEval queues p in evaluation mode (no dropout); Value or Download wait.
func (t *DeviceTrainer) RunEval(p *DeviceProgram) error {
	t.Model.mode.Training = false
	return p.Run()
}

// LossValue waits for the device and returns the loss of the last run.
func (t *DeviceTrainer) LossValue() (float32, error) {
	var l [1]float32
	err := t.Machine.Download(l[:], t.Loss)
	return l[0], err
}

// LossRows is the number of positions the last run's loss averaged over
// (the device twin of LossRows).
func (t *DeviceTrainer) LossRows() (int, error) { return t.Machine.LossCount(t.Loss) }

// Grad downloads the gradient of weight i after Step, or nil if it has none.
func (t *DeviceTrainer) Grad(i int) ([]float32, error) {
	if t.Grads[i] == nil {
		return nil, nil
	}
	return t.Machine.Value(t.Grads[i])
}

// Value downloads the value of a node the programs compute (an output).
func (t *DeviceTrainer) Value(n *G.Node) ([]float32, error) { return t.Machine.Value(n) }

// gradBuffers returns the device buffers of the gradients (nil entries
// where a weight has none).
func (t *DeviceTrainer) gradBuffers() ([]kernels.Buffer, error) {
	bufs := make([]kernels.Buffer, len(t.Grads))
	for i, g := range t.Grads {
		if g == nil {
			continue
		}
		b, err := t.Machine.Buffer(g)
		if err != nil {
			return nil, err
		}
		bufs[i] = b
	}
	return bufs, nil
}

// AccumulateGrads folds the gradients of micro-batch micro (0-based) of
// count into a running weighted sum, as train's CPU loop does: weight is
// the micro-batch's share (1/count for a plain mean; a finetune's by its
// rows), and after the last one the gradient buffers hold the sum over the
// micro-batches, ready for ClipGrads and AdamW. With count 1 it does
// nothing: the gradients are the one batch's.
func (t *DeviceTrainer) AccumulateGrads(micro, count int, weight float32) error {
	if count == 1 {
		return nil
	}
	bufs, err := t.gradBuffers()
	if err != nil {
		return err
	}
	dm, scale := t.Machine, weight
	if t.acc == nil {
		t.acc = make([]kernels.Buffer, len(bufs))
		for i, g := range bufs {
			if g.IsNil() {
				continue
			}
			if t.acc[i], err = dm.alloc(g.Len()); err != nil {
				return fmt.Errorf("graph: gradient accumulator: %w", err)
			}
			dm.own += g.Len()
		}
	}
	for i, g := range bufs {
		if g.IsNil() {
			continue
		}
		acc, n := t.acc[i], g.Len()
		if micro == 0 {
			err = dm.d.ScaleConst(acc, g, scale, n)
		} else {
			err = dm.d.AddScaled(acc, acc, g, scale, n)
		}
		if err == nil && micro == count-1 {
			err = dm.d.Copy(g, acc)
		}
		if err != nil {
			return fmt.Errorf("graph: accumulating gradients: %w", err)
		}
	}
	return nil
}

// ClipGrads scales all gradients on the device so that their global L2
// norm is at most maxNorm (maxNorm <= 0: no scaling), the twin of
// ClipGrads; the norm before clipping stays on the device (GradNorm).
func (t *DeviceTrainer) ClipGrads(maxNorm float64) error {
	bufs, err := t.gradBuffers()
	if err != nil {
		return err
	}
	var present []kernels.Buffer
	for _, b := range bufs {
		if !b.IsNil() {
			present = append(present, b)
		}
	}
	d := t.Machine.d
	if err := d.SumSquares(t.state, present); err != nil {
		return fmt.Errorf("graph: gradient norm: %w", err)
	}
	if maxNorm <= 0 {
		return nil
	}
	for _, b := range present {
		if err := d.ClipScale(b, b.Len(), t.state, maxNorm); err != nil {
			return fmt.Errorf("graph: clipping the gradients: %w", err)
		}
	}
	return nil
}

// GuardStep decides on the device, without a wait, whether this step's
// update may happen: when the gradient norm the last ClipGrads measured
// is not finite, the step (numbered step) is refused, and so is every
// later one: DeviceAdamW.Update then leaves the weights and moments alone.
// StepState tells the host.
func (t *DeviceTrainer) GuardStep(step int) error { return t.Machine.d.StepGuard(t.state, step) }

// StepState waits for the device and returns the global gradient norm the
// last ClipGrads measured (before clipping), how many steps GuardStep has
// refused and the first of them (0 when none).
func (t *DeviceTrainer) StepState() (norm float64, refused, first int, err error) {
	s, refused, first, err := t.Machine.d.DownloadStepState(t.state)
	return math.Sqrt(s), refused, first, err
}

// DownloadWeights waits for the device and copies every weight into
// Params (before a checkpoint is written, or to evaluate on the host). A
// weight no program reads has only its host copy.
func (t *DeviceTrainer) DownloadWeights() error {
	for _, w := range t.Model.Params.List {
		if n := t.Model.nodes[w.Name]; t.Machine.planned(n) {
			if err := t.Machine.Download(w.Data, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// UploadWeights replaces the device weights with Params (after a
// checkpoint was loaded into them).
func (t *DeviceTrainer) UploadWeights() error {
	for _, w := range t.Model.Params.List {
		if n := t.Model.nodes[w.Name]; t.Machine.planned(n) {
			if err := t.Machine.Upload(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close frees the trainer's device memory, its optimizers' moments
// included; it must not be used again.
func (t *DeviceTrainer) Close() error { return t.Machine.Close() }
