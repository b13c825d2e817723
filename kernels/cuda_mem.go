//go:build cuda

// Device memory: buffers of 4-byte elements (float32, or int32 token ids
// and targets), copies to and from Go slices, and a scratch buffer the
// launchers share for their temporaries.

package kernels

import (
	"fmt"
	"unsafe"
)

// Buffer is device memory for n float32 (or int32) values. The zero Buffer
// is a NULL pointer, which the launchers take for "none" where the CPU twin
// takes a nil slice.
type Buffer struct {
	ptr uint64
	n   int
}

// Len is the number of 4-byte elements.
func (b Buffer) Len() int { return b.n }

// IsNil reports whether b is the zero Buffer.
func (b Buffer) IsNil() bool { return b.ptr == 0 }

// Slice returns elements off..off+n of b, sharing its memory.
func (b Buffer) Slice(off, n int) Buffer {
	if off < 0 || n < 0 || off+n > b.n {
		panic(fmt.Sprintf("kernels: Buffer.Slice(%d, %d) of %d elements", off, n, b.n))
	}
	return Buffer{ptr: b.ptr + uint64(off)*4, n: n}
}

// Alloc returns an uninitialised buffer of n elements.
func (d *Device) Alloc(n int) (Buffer, error) {
	if n <= 0 {
		return Buffer{}, fmt.Errorf("cuda: alloc of %d elements", n)
	}
	if d.dry != nil {
		b := Buffer{ptr: d.dry.next, n: n}
		d.dry.next += uint64(n+63) / 64 * 256
		return b, nil
	}
	p, err := driverAlloc(n * 4)
	return Buffer{ptr: p, n: n}, err
}

// Free releases a buffer from Alloc (not a Slice of one).
func (d *Device) Free(b Buffer) error {
	if b.ptr == 0 || d.dry != nil {
		return nil
	}
	return driverFree(b.ptr)
}

// Upload copies src into the start of b.
func (d *Device) Upload(b Buffer, src []float32) error {
	return d.upload(b, unsafe.Pointer(unsafe.SliceData(src)), len(src))
}

// UploadInt32 copies src into the start of b.
func (d *Device) UploadInt32(b Buffer, src []int32) error {
	return d.upload(b, unsafe.Pointer(unsafe.SliceData(src)), len(src))
}

func (d *Device) upload(b Buffer, src unsafe.Pointer, n int) error {
	if n > b.n {
		return fmt.Errorf("cuda: upload of %d elements into a buffer of %d", n, b.n)
	}
	if n == 0 || d.dry != nil {
		return nil
	}
	return driverHtoD(b.ptr, src, n*4, d.stream)
}

// Download waits for the stream and copies the start of b into dst.
func (d *Device) Download(dst []float32, b Buffer) error {
	if len(dst) > b.n {
		return fmt.Errorf("cuda: download of %d elements from a buffer of %d", len(dst), b.n)
	}
	if len(dst) == 0 || d.dry != nil {
		return nil
	}
	return driverDtoH(unsafe.Pointer(&dst[0]), b.ptr, len(dst)*4, d.stream)
}

// Copy queues a copy of src into dst (n = src.Len() elements).
func (d *Device) Copy(dst, src Buffer) error {
	if src.n > dst.n {
		return fmt.Errorf("cuda: copy of %d elements into a buffer of %d", src.n, dst.n)
	}
	if src.n == 0 || d.dry != nil {
		return nil
	}
	return driverDtoD(dst.ptr, src.ptr, src.n*4, d.stream)
}

// Zero queues setting every element of b to 0.
func (d *Device) Zero(b Buffer) error {
	if b.n == 0 || d.dry != nil {
		return nil
	}
	return driverMemset32(b.ptr, 0, b.n, d.stream)
}

// scratchBuf returns the shared scratch buffer with room for n elements. It
// is valid until the next call: launchers use it for the temporaries of one
// launch sequence. Growing it waits for the stream first.
func (d *Device) scratchBuf(n int) (Buffer, error) {
	if d.scratch.n >= n {
		return d.scratch.Slice(0, n), nil
	}
	if err := d.Sync(); err != nil {
		return Buffer{}, err
	}
	if err := d.Free(d.scratch); err != nil {
		return Buffer{}, err
	}
	d.scratch = Buffer{}
	b, err := d.Alloc(n)
	if err != nil {
		return Buffer{}, err
	}
	d.scratch = b
	return b, nil
}

// want is a buffer a launcher reads or writes and the elements it needs.
type want struct {
	name string
	b    Buffer
	n    int
}

// need checks that each buffer is allocated and holds its elements.
func need(op string, ws ...want) error {
	for _, w := range ws {
		if w.b.ptr == 0 || w.b.n < w.n {
			return fmt.Errorf("cuda: %s: %s has %d elements, needs %d", op, w.name, w.b.n, w.n)
		}
	}
	return nil
}
