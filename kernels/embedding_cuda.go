//go:build cuda

package kernels

// Token plus position embedding on the device (embedding.cu), the twins of
// EmbeddingForward and EmbeddingBackward. Ids are checked by the caller, as
// embeddingOp does; the kernels skip an id outside [0, v).

// EmbeddingForward writes out (b*t, c) = wte[idx] + wpe[position] for idx
// (b*t int32) into wte (v, c) and wpe (>= t, c).
func (d *Device) EmbeddingForward(out, wte, wpe, idx Buffer, b, t, c, v int) error {
	if err := need("embedding", want{"out", out, b * t * c}, want{"wte", wte, v * c}, want{"wpe", wpe, t * c},
		want{"idx", idx, b * t}); err != nil {
		return err
	}
	n := b * t * c
	return d.launch("embedding_fwd_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, out, wte, wpe, idx, b*t, t, c, v)
}

// EmbeddingBackward overwrites all of dwte and dwpe: zero, then the
// scatter-add of dout (b*t, c) into dwte[idx] and dwpe[position] (atomicAdd,
// so the order of the additions varies from run to run).
func (d *Device) EmbeddingBackward(dwte, dwpe, dout, idx Buffer, b, t, c, v int) error {
	if err := need("embedding backward", want{"dwte", dwte, v * c}, want{"dwpe", dwpe, t * c},
		want{"dout", dout, b * t * c}, want{"idx", idx, b * t}); err != nil {
		return err
	}
	if err := d.Zero(dwte); err != nil {
		return err
	}
	if err := d.Zero(dwpe); err != nil {
		return err
	}
	n := b * t * c
	return d.launch("embedding_bwd_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, dwte, dwpe, dout, idx, b*t, t, c, v)
}
