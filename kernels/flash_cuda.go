//go:build cuda

package kernels

import (
	"fmt"

	"github.com/chewxy/math32"
)

// Causal attention through flash.cu: no t×t probabilities; the forward
// keeps lse (b, nHead, t) and a copy of its output for the backward.

const (
	flashRows    = 64  // FLASH_ROWS: queries (forward, dQ) or keys (dK, dV) per block
	flashThreads = 128 // FLASH_THREADS
)

// SetFlash lets attention use flash.cu where it can (FlashAttention).
func (d *Device) SetFlash(on bool) { d.flash = on }

// FlashAttention reports whether attention with heads of size hs runs
// through flash.cu: SetFlash(true), TF32 allowed (its products are TF32)
// and hs 16, 32 or 64.
func (d *Device) FlashAttention(hs int) bool {
	return d.flash && d.tf32 && FlashHeadSize(hs)
}

// FlashAttentionForward writes out (b*t, c), the same values into osave,
// and lse (b, nHead, t) from qkv (b*t, 3c), with dropout p (0: none) on
// the probabilities from seed: the twin of kernels.FlashAttentionForward.
func (d *Device) FlashAttentionForward(out, osave, lse, qkv Buffer, b, t, c, nHead int, p float32, seed uint64) error {
	hs, err := headSizeOf("cuda: flash attention", c, nHead)
	if err != nil {
		return err
	}
	if err := flashArgs("flash attention", hs, p); err != nil {
		return err
	}
	if err := need("flash attention", want{"out", out, b * t * c}, want{"osave", osave, b * t * c},
		want{"lse", lse, b * nHead * t}, want{"qkv", qkv, b * t * 3 * c}); err != nil {
		return err
	}
	if b*t == 0 {
		return nil
	}
	return d.launch(fmt.Sprintf("flash_fwd_d%d", hs), flashGrid(b, t, nHead), dim3{flashThreads, 1, 1}, 0,
		out, osave, lse, qkv, t, c, nHead, 1/math32.Sqrt(float32(hs)), p, seed)
}

// FlashAttentionBackward overwrites dqkv (b*t, 3c) given dout (b*t, c) and
// the forward's qkv, output, lse, dropout p and seed: the twin of
// kernels.FlashAttentionBackward. The rows' D = dout·out take the scratch
// buffer.
func (d *Device) FlashAttentionBackward(dqkv, dout, qkv, out, lse Buffer, b, t, c, nHead int, p float32, seed uint64) error {
	hs, err := headSizeOf("cuda: flash attention backward", c, nHead)
	if err != nil {
		return err
	}
	if err := flashArgs("flash attention backward", hs, p); err != nil {
		return err
	}
	rows := b * nHead * t
	if err := need("flash attention backward", want{"dqkv", dqkv, b * t * 3 * c}, want{"dout", dout, b * t * c},
		want{"qkv", qkv, b * t * 3 * c}, want{"out", out, b * t * c}, want{"lse", lse, rows}); err != nil {
		return err
	}
	if rows == 0 {
		return nil
	}
	dsum, err := d.scratchBuf(rows)
	if err != nil {
		return err
	}
	if err := d.launch("flash_dot", dim3{(rows + 7) / 8, 1, 1}, dim3{256, 1, 1}, 0,
		dsum, dout, out, t, c, nHead, hs, int64(rows)); err != nil {
		return err
	}
	scale := 1 / math32.Sqrt(float32(hs))
	grid := flashGrid(b, t, nHead)
	for _, k := range []string{"flash_bwd_kv_d%d", "flash_bwd_q_d%d"} {
		if err := d.launch(fmt.Sprintf(k, hs), grid, dim3{flashThreads, 1, 1}, 0,
			dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, p, seed); err != nil {
			return err
		}
	}
	return nil
}

// flashGrid is one block per (batch, head) pair on x (up to 2³¹-1 of them)
// and per tile of flashRows rows on y.
func flashGrid(b, t, nHead int) dim3 { return dim3{b * nHead, (t + flashRows - 1) / flashRows, 1} }

// flashArgs checks what flash.cu takes: a head size it has kernels for and
// a dropout probability in [0, 1).
func flashArgs(op string, hs int, p float32) error {
	if !FlashHeadSize(hs) {
		return fmt.Errorf("cuda: %s: head size %d (flash.cu has 16, 32 and 64)", op, hs)
	}
	if p < 0 || p >= 1 {
		return fmt.Errorf("cuda: %s: dropout %g outside [0, 1)", op, p)
	}
	return nil
}
