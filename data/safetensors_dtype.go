package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"unsafe"
)

// dtypeSizes maps every dtype the reference implementation writes (except
// the sub-byte float formats) to its element size in bytes.
var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// nativeLittle is whether float32s lie in memory in safetensors' byte
// order, little-endian.
var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// F32Tensor packs data as an F32 tensor. WriteSafetensors rejects it if
// len(data) does not match shape. Where memory is little-endian the tensor
// is a view of data, not a copy (a checkpoint would otherwise hold a second
// model and a second pair of AdamW moments in memory while it writes), so
// data must not change until the tensor is written.
func F32Tensor(name string, shape []int, data []float32) Tensor {
	if nativeLittle && len(data) > 0 {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
		return Tensor{Name: name, DType: "F32", Shape: append([]int{}, shape...), Data: b}
	}
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: "F32", Shape: append([]int{}, shape...), Data: b}
}

// I64Tensor packs data as an I64 tensor (token ids, targets).
func I64Tensor(name string, shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: "I64", Shape: append([]int{}, shape...), Data: b}
}

// NumElements is the product of Shape (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// check verifies that Data holds exactly Shape elements of DType and
// returns the element size.
func (t Tensor) check() (int, error) {
	size, ok := dtypeSizes[t.DType]
	if !ok {
		return 0, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, ok := tensorBytes(t.Shape, size)
	if !ok {
		return 0, fmt.Errorf("tensor %q: shape %v %s overflows or has a negative dimension", t.Name, t.Shape, t.DType)
	}
	if int64(len(t.Data)) != n {
		return 0, fmt.Errorf("tensor %q: %d data bytes, shape %v %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, n)
	}
	return size, nil
}

// Float32 converts F32, F16, BF16 and F64 data to float32 (F64 rounds to
// nearest). Integer and 8-bit float dtypes are an error.
func (t Tensor) Float32() ([]float32, error) {
	size, err := t.check()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Data)/size)
	return out, t.decodeFloat32(out)
}

// Float32Into is Float32 writing into dst, which must hold exactly the
// tensor's elements: a model's weights loaded in place, with no copy of
// the file's worth of float32s between. On error dst is left partly
// written or as it was.
func (t Tensor) Float32Into(dst []float32) error {
	size, err := t.check()
	if err != nil {
		return err
	}
	if n := len(t.Data) / size; n != len(dst) {
		return fmt.Errorf("tensor %q: %d elements, %d wanted", t.Name, n, len(dst))
	}
	return t.decodeFloat32(dst)
}

// EqualsFloat32 reports whether t holds the values of want (the shapes
// aside), as Float32 would give them, decoding a piece at a time: a
// comparison of a large tensor that needs no copy of it.
func (t Tensor) EqualsFloat32(want []float32) (bool, error) {
	size, err := t.check()
	if err != nil {
		return false, err
	}
	if len(t.Data)/size != len(want) {
		return false, nil
	}
	var buf [4096]float32
	for off := 0; off < len(want); off += len(buf) {
		n := min(len(buf), len(want)-off)
		piece := Tensor{Name: t.Name, DType: t.DType, Data: t.Data[off*size : (off+n)*size]}
		if err := piece.decodeFloat32(buf[:n]); err != nil {
			return false, err
		}
		if !slices.Equal(buf[:n], want[off:off+n]) {
			return false, nil
		}
	}
	return true, nil
}

// decodeFloat32 converts the checked t into out, of its length. Data in a
// mapped file (OpenSafetensors) that another program shrinks meanwhile is
// an error, not a crash of the process.
func (t Tensor) decodeFloat32(out []float32) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			err = fmt.Errorf("tensor %q: its file was cut short while it was read (another program writing it?)", t.Name)
		}
	}()
	le := binary.LittleEndian
	switch t.DType {
	case "F32":
		if nativeLittle && len(out) > 0 { // the bytes are the floats
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*len(out)), t.Data)
			break
		}
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(t.Data[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = f16ToF32(le.Uint16(t.Data[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(t.Data[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(t.Data[8*i:])))
		}
	default:
		return fmt.Errorf("tensor %q: dtype %s is not a float type (want F32, F16, BF16 or F64)", t.Name, t.DType)
	}
	return nil
}

// Int64 converts I64, I32, I16, I8, U64, U32, U16, U8 and BOOL data to
// int64. A U64 value above math.MaxInt64 and float dtypes are an error.
func (t Tensor) Int64() ([]int64, error) {
	size, err := t.check()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Data)/size)
	le := binary.LittleEndian
	for i := range out {
		p := t.Data[size*i:]
		switch t.DType {
		case "I64":
			out[i] = int64(le.Uint64(p))
		case "U64":
			v := le.Uint64(p)
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("tensor %q: U64 value %d at index %d does not fit int64", t.Name, v, i)
			}
			out[i] = int64(v)
		case "I32":
			out[i] = int64(int32(le.Uint32(p)))
		case "U32":
			out[i] = int64(le.Uint32(p))
		case "I16":
			out[i] = int64(int16(le.Uint16(p)))
		case "U16":
			out[i] = int64(le.Uint16(p))
		case "I8":
			out[i] = int64(int8(p[0]))
		case "U8", "BOOL":
			out[i] = int64(p[0])
		default:
			return nil, fmt.Errorf("tensor %q: dtype %s is not an integer type (want I64, I32, I16, I8, U64, U32, U16, U8 or BOOL)", t.Name, t.DType)
		}
	}
	return out, nil
}

// f16ToF32 widens an IEEE 754 half, including subnormals, infinities and NaN.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// subnormal: mant * 2^-24, exact in float32
	v := float32(mant) / (1 << 24)
	if sign != 0 {
		v = -v
	}
	return v
}
