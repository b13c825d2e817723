//go:build cuda

package graph

// AdamW on the device: the twin of Params.AdamWStep (with train.AdamW's
// state) over a DeviceTrainer's weights and gradients, with its moments in
// device memory.

import (
	"fmt"

	"gptctl/kernels"
)

// DeviceAdamW keeps the first and second moments of every weight that has
// a gradient on the device.
type DeviceAdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	Step                           int

	t    *DeviceTrainer
	m, v []kernels.Buffer // per weight; the zero Buffer where it has no gradient
}

// NewAdamW allocates zeroed moments on the device for the trainer's weights.
func (t *DeviceTrainer) NewAdamW(beta1, beta2, eps, weightDecay float64) (*DeviceAdamW, error) {
	o := &DeviceAdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay, t: t,
		m: make([]kernels.Buffer, len(t.Grads)), v: make([]kernels.Buffer, len(t.Grads))}
	dm := t.Machine
	for i, w := range t.Model.Params.List {
		if t.Grads[i] == nil {
			continue
		}
		for _, b := range []*kernels.Buffer{&o.m[i], &o.v[i]} {
			var err error
			if *b, err = dm.alloc(len(w.Data)); err != nil {
				return nil, fmt.Errorf("graph: AdamW moments of %s: %w", w.Name, err)
			}
			dm.own += len(w.Data)
			if err := dm.d.Zero(*b); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// Update applies one step with learning rate lr to the device weights from
// the device gradients of the last Step (clipped or not), as
// Params.AdamWStep does: weight decay on matrices and embeddings only,
// and a weight without a gradient left alone. A step GuardStep refused
// changes nothing on the device (Step still counts it: the run that
// finds it stops).
func (o *DeviceAdamW) Update(lr float64) error {
	o.Step++
	t := o.t
	for i, w := range t.Model.Params.List {
		if t.Grads[i] == nil {
			continue
		}
		p, err := t.Machine.Buffer(t.Model.nodes[w.Name])
		if err != nil {
			return err
		}
		g, err := t.Machine.Buffer(t.Grads[i])
		if err != nil {
			return err
		}
		wd := 0.0
		if w.Decay() {
			wd = o.WeightDecay
		}
		if err := t.Machine.d.AdamW(p, g, o.m[i], o.v[i], len(w.Data), lr, o.Beta1, o.Beta2, o.Eps, wd, o.Step, t.state.Slice(2, 1)); err != nil {
			return fmt.Errorf("graph: AdamW on %s: %w", w.Name, err)
		}
	}
	return nil
}

// Download waits for the device and copies the moments into m and v (one
// slice per weight, as train.AdamW keeps them; left alone where a weight
// has no gradient), for a checkpoint.
func (o *DeviceAdamW) Download(m, v [][]float32) error {
	return o.each(m, v, func(host []float32, b kernels.Buffer) error { return o.t.Machine.d.Download(host, b) })
}

// Upload replaces the device moments with m and v (from a checkpoint).
func (o *DeviceAdamW) Upload(m, v [][]float32) error {
	return o.each(m, v, func(host []float32, b kernels.Buffer) error { return o.t.Machine.d.Upload(b, host) })
}

func (o *DeviceAdamW) each(m, v [][]float32, f func([]float32, kernels.Buffer) error) error {
	list := o.t.Model.Params.List
	if len(m) != len(list) || len(v) != len(list) {
		return fmt.Errorf("graph: AdamW moments for %d and %d weights, the model has %d", len(m), len(v), len(list))
	}
	for i, w := range list {
		if o.m[i].IsNil() {
			continue
		}
		if len(m[i]) != len(w.Data) || len(v[i]) != len(w.Data) {
			return fmt.Errorf("graph: AdamW moments of %s have %d and %d values, want %d", w.Name, len(m[i]), len(v[i]), len(w.Data))
		}
		if err := f(m[i], o.m[i]); err != nil {
			return err
		}
		if err := f(v[i], o.v[i]); err != nil {
			return err
		}
	}
	return nil
}
