//go:build cuda

package kernels

// The finetuning heads' ops on the device (head.cu), the twins of
// GatherRowsForward, GatherRowsBackward, MSEForward and MSEBackward, and of
// the loops of addScaledOp, scaleConstOp, scaleByOp and weightedSumOp.

// GatherRowsForward writes y (m/g, c): row i is the sum over j < g of
// x[rows[i*g+j]] (x has n rows), skipping negative indexes. Indexes are
// checked by the caller, as gatherRowsOp does.
func (d *Device) GatherRowsForward(y, x, rows Buffer, n, m, g, c int) error {
	k := m / g
	if err := need("gather rows", want{"y", y, k * c}, want{"x", x, n * c}, want{"rows", rows, m}); err != nil {
		return err
	}
	return d.launch("gather_rows_fwd_f32", d.grid1(k*c, 256), dim3{256, 1, 1}, 0, y, x, rows, k, g, c)
}

// GatherRowsBackward overwrites dx (n, c) with the sum of dy[i/g] over the
// entries i of rows (m) that name each row, in order.
func (d *Device) GatherRowsBackward(dx, dy, rows Buffer, n, m, g, c int) error {
	if err := need("gather rows backward", want{"dx", dx, n * c}, want{"dy", dy, m / g * c},
		want{"rows", rows, m}); err != nil {
		return err
	}
	if err := d.Zero(dx.Slice(0, n*c)); err != nil { // the rows no entry names
		return err
	}
	return d.launch("gather_rows_bwd_f32", d.grid1(m*c, 256), dim3{256, 1, 1}, 0, dx, dy, rows, n, m, g, c)
}

// MSEForward writes stats = [mean of (pred - target)^2 over the n rows
// whose target is not NaN, their count]; the twin of MSEForward (which
// returns the sum and the count).
func (d *Device) MSEForward(stats, pred, target Buffer, n int) error {
	if err := need("mse", want{"stats", stats, 2}, want{"pred", pred, n}, want{"target", target, n}); err != nil {
		return err
	}
	return d.launch("mse_fwd_f32", dim3{1, 1, 1}, dim3{1024, 1, 1}, 0, stats, pred, target, n)
}

// MSEBackward overwrites dpred (n) with 2*scale*(pred - target), 0 where
// the target is NaN, scale = dloss[0]/count from the forward's stats.
func (d *Device) MSEBackward(dpred, pred, target, dloss, stats Buffer, n int) error {
	if err := need("mse backward", want{"dpred", dpred, n}, want{"pred", pred, n}, want{"target", target, n},
		want{"dloss", dloss, 1}, want{"stats", stats, 2}); err != nil {
		return err
	}
	return d.launch("mse_bwd_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, dpred, pred, target, dloss, stats, n)
}

// ScaleBy writes y = x * s[0] over n elements, s a scalar on the device.
func (d *Device) ScaleBy(y, x, s Buffer, n int) error {
	if err := need("scale by", want{"y", y, n}, want{"x", x, n}, want{"s", s, 1}); err != nil {
		return err
	}
	return d.launch("scale_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, y, x, s, float32(0), int64(n))
}

// ScaleConst writes y = x * k over n elements.
func (d *Device) ScaleConst(y, x Buffer, k float32, n int) error {
	if err := need("scale", want{"y", y, n}, want{"x", x, n}); err != nil {
		return err
	}
	return d.launch("scale_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, y, x, Buffer{}, k, int64(n))
}

// AddScaled writes y = a + lambda*b over n elements.
func (d *Device) AddScaled(y, a, b Buffer, lambda float32, n int) error {
	if err := need("add scaled", want{"y", y, n}, want{"a", a, n}, want{"b", b, n}); err != nil {
		return err
	}
	return d.launch("add_scaled_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, y, a, b, lambda, int64(n))
}

// WeightedSum writes y[0] = the sum of x*w over n elements (in float64).
func (d *Device) WeightedSum(y, x, w Buffer, n int) error {
	if err := need("weighted sum", want{"y", y, 1}, want{"x", x, n}, want{"w", w, n}); err != nil {
		return err
	}
	return d.launch("weighted_sum_f32", dim3{1, 1, 1}, dim3{1024, 1, 1}, 0, y, x, w, int64(n))
}
