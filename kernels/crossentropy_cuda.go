//go:build cuda

package kernels

// Softmax cross-entropy on the device (crossentropy.cu). The mean loss and
// the count of counted rows stay on the device in stats (2), so that the
// backward reads them without a host round trip.

// CrossEntropyForward writes probs (n×v) = softmax(logits), losses (n) per
// row and stats = [mean loss over rows with a target in [0, v), their
// count]; the twin of CrossEntropyForward (which returns sum and count).
func (d *Device) CrossEntropyForward(probs, losses, stats, logits, targets Buffer, n, v int) error {
	if err := need("cross-entropy", want{"probs", probs, n * v}, want{"losses", losses, n}, want{"stats", stats, 2},
		want{"logits", logits, n * v}, want{"targets", targets, n}); err != nil {
		return err
	}
	threads := min(1024, max(32, (v+31)/32*32))
	if err := d.launch("crossentropy_fwd_f32", dim3{n, 1, 1}, dim3{threads, 1, 1}, 0,
		probs, losses, logits, targets, n, v); err != nil {
		return err
	}
	return d.launch("crossentropy_mean_f32", dim3{1, 1, 1}, dim3{1024, 1, 1}, 0, stats, losses, targets, n, v)
}

// CrossEntropyBackward overwrites dlogits (n×v) with scale*(probs - onehot)
// on counted rows and 0 on the others, scale = dloss[0]/count from the
// forward's stats; dloss may be the zero Buffer (a gradient of 1). The twin
// of CrossEntropyBackward with scale = dloss/count.
func (d *Device) CrossEntropyBackward(dlogits, probs, targets, dloss, stats Buffer, n, v int) error {
	if err := need("cross-entropy backward", want{"dlogits", dlogits, n * v}, want{"probs", probs, n * v},
		want{"targets", targets, n}, want{"stats", stats, 2}); err != nil {
		return err
	}
	return d.launch("crossentropy_bwd_f32", d.grid1(n*v, 256), dim3{256, 1, 1}, 0,
		dlogits, probs, targets, dloss, stats, n, v)
}
