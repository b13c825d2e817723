//go:build cuda

package graph

// The GPU a CUDA build runs models on: DeviceMachine, DeviceTrainer and
// DeviceDecoder take the Device OpenCUDA returns, and hand out its Buffers.

import "gptctl/kernels"

// Device is the process's GPU: its context, stream and cuBLAS handle, the
// loaded kernels, and the math settings of its products (SetTF32, SetBF16,
// SetFlash). It is kernels.Device.
type Device = kernels.Device

// Buffer is device memory for n float32 (or int32) values, from
// Device.Alloc or DeviceMachine.Buffer; the zero Buffer is none. It is
// kernels.Buffer.
type Buffer = kernels.Buffer

// OpenCUDA opens the first GPU (once per process) and loads the kernels.
// Its error says why no GPU is usable: no driver library, no device, a
// device too old for the PTX, or a driver that cannot compile it.
func OpenCUDA() (*Device, error) { return kernels.OpenCUDA() }
