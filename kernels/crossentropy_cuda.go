//go:build cuda

package kernels

import "fmt"

// Softmax cross-entropy on the device (crossentropy.cu). The mean loss and
// the count of counted rows stay on the device in stats (2), so that the
// backward reads them without a host round trip.

// CrossEntropyForward writes probs = softmax(logits) over the first v
// columns of rows w apart, losses (n) per row and stats = [mean loss over
// rows with a target in [0, v), their count]; the twin of
// CrossEntropyForward (which returns sum and count).
func (d *Device) CrossEntropyForward(probs, losses, stats, logits, targets Buffer, n, v, w int) error {
	if err := need("cross-entropy", want{"probs", probs, n * w}, want{"losses", losses, n}, want{"stats", stats, 2},
		want{"logits", logits, n * w}, want{"targets", targets, n}); err != nil {
		return err
	}
	if v < 1 || v > w {
		return fmt.Errorf("cuda: cross-entropy: %d classes in rows of %d", v, w)
	}
	threads := min(1024, max(32, (v+31)/32*32))
	if n > 0 { // none: a batch of padding, whose mean is 0 over 0 rows
		if err := d.launch("crossentropy_fwd_f32", dim3{n, 1, 1}, dim3{threads, 1, 1}, 0,
			probs, losses, logits, targets, n, v, w); err != nil {
			return err
		}
	}
	return d.launch("crossentropy_mean_f32", dim3{1, 1, 1}, dim3{1024, 1, 1}, 0, stats, losses, targets, n, v)
}

// CrossEntropyBackward overwrites dlogits (n rows, w apart) with
// scale*(probs - onehot) over the first v columns of counted rows and 0
// elsewhere, scale = dloss[0]/count from the forward's stats; dloss may be
// the zero Buffer (a gradient of 1). The twin of CrossEntropyBackward with
// scale = dloss/count.
func (d *Device) CrossEntropyBackward(dlogits, probs, targets, dloss, stats Buffer, n, v, w int) error {
	if err := need("cross-entropy backward", want{"dlogits", dlogits, n * w}, want{"probs", probs, n * w},
		want{"targets", targets, n}, want{"stats", stats, 2}); err != nil {
		return err
	}
	if v < 1 || v > w {
		return fmt.Errorf("cuda: cross-entropy backward: %d classes in rows of %d", v, w)
	}
	return d.launch("crossentropy_bwd_f32", d.grid1(n*w, 256), dim3{256, 1, 1}, 0,
		dlogits, probs, targets, dloss, stats, n, v, w)
}
