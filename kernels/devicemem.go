package kernels

import "errors"

// ErrDeviceMemory is matched (errors.Is) by the error of a device
// allocation that failed for want of GPU memory: the driver's
// cuMemAlloc, or cuBLAS's own workspace. Both builds have it, so that
// callers can tell a model or batch too large for the GPU from other
// failures without the cuda build tag.
var ErrDeviceMemory = errors.New("out of GPU memory")
