//go:build cuda

// The CUDA driver API, through gorgonia.org/cu: device properties, the
// primary context, module load, kernel launch, the stream, events and
// memory. cu is built with patches/gorgonia.org/cu@*.patch (make
// build-cuda applies it): unpatched, cu's package init exits the process
// when cuInit fails; patched, it keeps the error for cu.InitError, and
// driverOpen reports it so that the caller falls back to the CPU.
//
// Contexts are per OS thread and goroutines move between threads: every
// call that works on the device runs inside onDevice, which pins the
// calling goroutine to its thread and makes the device's primary context
// current there. cuBLAS (cuda_cublas.go) does the same.

package kernels

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
)

// cuError is a failed driver call: what was being done and the driver's
// result.
type cuError struct {
	op  string
	err error
}

func (e *cuError) Error() string { return fmt.Sprintf("cuda: %s: %v", e.op, e.err) }
func (e *cuError) Unwrap() error { return e.err }

// Is makes a failed allocation match ErrDeviceMemory.
func (e *cuError) Is(target error) bool {
	return target == ErrDeviceMemory && errors.Is(e.err, cu.OutOfMemory)
}

// check turns a driver result into an error naming op.
func check(op string, err error) error {
	if err == nil {
		return nil
	}
	return &cuError{op: op, err: err}
}

// primary is the device's primary context, current on every thread that
// calls the driver (see onDevice).
var primary cu.CUContext

// onDevice runs f with the calling goroutine pinned to its OS thread and
// the device's context current there, so that every driver call f makes
// finds it.
func onDevice(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(primary); err != nil {
		return check("cuCtxSetCurrent", err)
	}
	return f()
}

// driverOpen reports whether the driver initialised (cu calls cuInit when
// the program starts).
func driverOpen() error {
	if err := cu.InitError(); err != nil {
		return check("cuInit", err)
	}
	return nil
}

// driverDevice fills in d's properties from device ordinal, retains its
// primary context (threads waiting on the device sleep rather than spin:
// the host stays free on a shared machine, for the cost of a wake-up per
// wait) and creates d's stream.
func driverDevice(d *Device, ordinal int) error {
	d.Driver = cu.Version()
	count, err := cu.NumDevices()
	if err != nil {
		return check("cuDeviceGetCount", err)
	}
	if count <= ordinal {
		return fmt.Errorf("cuda: the driver sees %d devices, want device %d", count, ordinal)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return check("cuDeviceGet", err)
	}
	if d.Name, err = dev.Name(); err != nil {
		return check("cuDeviceGetName", err)
	}
	for _, a := range []struct {
		attr cu.DeviceAttribute
		v    *int
	}{
		{cu.ComputeCapabilityMajor, &d.Major}, {cu.ComputeCapabilityMinor, &d.Minor},
		{cu.MultiprocessorCount, &d.SMs}, {cu.L2CacheSize, &d.L2Bytes},
	} {
		if *a.v, err = dev.Attribute(a.attr); err != nil {
			return check("cuDeviceGetAttribute", err)
		}
	}
	if d.Memory, err = dev.TotalMem(); err != nil {
		return check("cuDeviceTotalMem", err)
	}
	_ = dev.SetPrimaryCtxFlags(cu.SchedBlockingSync) // best effort: refused once the context is active
	if primary, err = dev.RetainPrimaryCtx(); err != nil {
		return check("cuDevicePrimaryCtxRetain", err)
	}
	return onDevice(func() error {
		d.stream, err = cu.MakeStream(cu.NonBlocking)
		return check("cuStreamCreate", err)
	})
}

// streamHandle is s as the driver's CUstream, for cuBLAS.
func streamHandle(s cu.Stream) uintptr { return uintptr(unsafe.Pointer(s.C())) }

// moduleLoad JIT-compiles one PTX module; a failure carries the
// compiler's log.
func moduleLoad(ptx string) (m cu.Module, err error) {
	log := &cu.JITErrorLogBuffer{Buffer: make([]byte, 8192)}
	err = onDevice(func() (err error) {
		m, err = cu.LoadDataEx(ptx, log)
		return check("cuModuleLoadDataEx", err)
	})
	if n := clen(log.Buffer); err != nil && n > 0 {
		err = fmt.Errorf("%w: %s", err, log.Buffer[:n])
	}
	return m, err
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

func moduleFunction(m cu.Module, name string) (f cu.Function, err error) {
	err = onDevice(func() error {
		f, err = m.Function(name)
		return check("cuModuleGetFunction "+name, err)
	})
	return f, err
}

// dim3 is a grid or block size.
type dim3 struct{ x, y, z int }

// driverLaunch queues f; args are its parameters, each in an 8-byte slot
// (a 4-byte parameter reads the low half of its slot).
func driverLaunch(f cu.Function, grid, block dim3, shmem int, s cu.Stream, args []uint64) error {
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	return onDevice(func() error {
		return check("cuLaunchKernel", f.Launch(grid.x, grid.y, grid.z, block.x, block.y, block.z, shmem, s, params))
	})
}

func driverAlloc(bytes int) (uint64, error) {
	var p cu.DevicePtr
	err := onDevice(func() (err error) {
		p, err = cu.MemAlloc(int64(bytes))
		return check(fmt.Sprintf("cuMemAlloc %d bytes", bytes), err)
	})
	return uint64(p), err
}

func driverFree(p uint64) error {
	return onDevice(func() error { return check("cuMemFree", cu.MemFree(cu.DevicePtr(p))) })
}

func driverMemInfo() (free, total int64, err error) {
	err = onDevice(func() (err error) {
		free, total, err = cu.MemInfo()
		return check("cuMemGetInfo", err)
	})
	return free, total, err
}

// driverHtoD copies bytes from host memory; it returns once src may be
// reused (a copy from pageable memory is staged before the call returns).
func driverHtoD(dst uint64, src unsafe.Pointer, bytes int, s cu.Stream) error {
	return onDevice(func() error {
		return check("cuMemcpyHtoDAsync", cu.MemcpyHtoDAsync(cu.DevicePtr(dst), src, int64(bytes), s))
	})
}

// driverDtoH copies bytes to host memory and waits for the stream: dst is
// Go memory, written before the call returns.
func driverDtoH(dst unsafe.Pointer, src uint64, bytes int, s cu.Stream) error {
	return onDevice(func() error {
		if err := cu.MemcpyDtoHAsync(dst, cu.DevicePtr(src), int64(bytes), s); err != nil {
			return check("cuMemcpyDtoHAsync", err)
		}
		return check("cuStreamSynchronize", s.Synchronize())
	})
}

func driverDtoD(dst, src uint64, bytes int, s cu.Stream) error {
	return onDevice(func() error {
		return check("cuMemcpyDtoDAsync", cu.MemcpyDtoDAsync(cu.DevicePtr(dst), cu.DevicePtr(src), int64(bytes), s))
	})
}

func driverMemset32(dst uint64, v uint32, n int, s cu.Stream) error {
	return onDevice(func() error {
		return check("cuMemsetD32Async", cu.MemsetD32Async(cu.DevicePtr(dst), uint(v), int64(n), s))
	})
}

func driverSync(s cu.Stream) error {
	return onDevice(func() error { return check("cuStreamSynchronize", s.Synchronize()) })
}

// driverTimer records a start event; its stop function returns the ms
// between.
func driverTimer(s cu.Stream) (func() (float64, error), error) {
	var a, b cu.Event
	err := onDevice(func() (err error) {
		if a, err = cu.MakeEvent(cu.DefaultEvent); err != nil {
			return check("cuEventCreate", err)
		}
		b, err = cu.MakeEvent(cu.DefaultEvent)
		if err == nil {
			err = a.Record(s)
		}
		if err != nil {
			cu.DestroyEvent(&a)
			cu.DestroyEvent(&b)
			return check("cuEventRecord", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func() (ms float64, err error) {
		err = onDevice(func() (err error) {
			defer cu.DestroyEvent(&a)
			defer cu.DestroyEvent(&b)
			if err := b.Record(s); err != nil {
				return check("cuEventRecord", err)
			}
			if err := b.Synchronize(); err != nil {
				return check("cuEventSynchronize", err)
			}
			ms, err = a.Elapsed(b)
			return check("cuEventElapsedTime", err)
		})
		return ms, err
	}, nil
}
