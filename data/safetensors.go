package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"unicode/utf8"
)

// Safetensors files (https://github.com/huggingface/safetensors) are
//
//	8 bytes   N, the header length, little-endian uint64
//	N bytes   a JSON object {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}
//	the rest  the data buffer; data_offsets are relative to its start
//
// The reader follows the reference implementation's rules: the header is at
// most 100,000,000 bytes of UTF-8 JSON, every shape times its dtype size
// equals its data_offsets span, and the tensors, sorted by offset, cover the
// data buffer exactly: no holes, no overlaps, nothing after the last one.

// maxSafetensorsHeader is the reference implementation's header limit.
const maxSafetensorsHeader = 100_000_000

// Tensor is one named tensor: row-major, little-endian raw data.
type Tensor struct {
	Name  string
	DType string // "F32", "F16", "BF16", "F64", "I64", "I32", "U8", ... as in the header
	Shape []int  // empty for a scalar
	Data  []byte // len = product(Shape) * element size
}

// SafeTensors is a parsed file. Tensor data aliases the bytes that were
// parsed (no copy).
type SafeTensors struct {
	Tensors  map[string]Tensor
	Metadata map[string]string // the "__metadata__" map; empty when absent
	Order    []string          // tensor names in data order (by offset)
}

// stInfo is one header entry; pointers tell a missing field from a zero one.
type stInfo struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// stEntry is a checked header entry.
type stEntry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

// ReadSafetensors reads and validates the safetensors file at path.
func ReadSafetensors(path string) (*SafeTensors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return ParseSafetensors(b, path)
}

// OpenSafetensors is ReadSafetensors without reading the file into memory:
// a regular file is mapped, and its tensors' Data point into the mapping
// until release is called (after which they must not be used). A model of
// 500 MB loads without a 500 MB buffer, its pages read on demand. Where
// the file cannot be mapped (a pipe, a system without mmap) it is read.
func OpenSafetensors(path string) (_ *SafeTensors, release func() error, _ error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	var b []byte
	unmap := func() error { return nil }
	if fi.Mode().IsRegular() && fi.Size() >= 8 && fi.Size() <= math.MaxInt {
		if m, um, err := mapFile(f, fi.Size()); err == nil {
			b, unmap = m, um
		}
	}
	if b == nil {
		if b, err = io.ReadAll(f); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %w", err)
		}
	}
	st, err := ParseSafetensors(b, path)
	if err != nil {
		unmap()
		return nil, nil, err
	}
	return st, unmap, nil
}

// ParseSafetensors parses a whole safetensors file held in b; name (usually
// the path) is used in errors. Hostile input gives an error, never a panic,
// and nothing is allocated beyond a small multiple of len(b).
func ParseSafetensors(b []byte, name string) (*SafeTensors, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors %s: file is %d bytes, too short for the 8-byte header length", name, len(b))
	}
	n := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	if n > maxSafetensorsHeader {
		return nil, fmt.Errorf("safetensors %s: header length %d exceeds the %d-byte limit (not a safetensors file?)", name, n, maxSafetensorsHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors %s: header length %d exceeds the file (%d bytes; truncated?)", name, n, len(b))
	}
	hdr, buf := b[8:8+n], b[8+n:]
	entries, meta, err := parseSafetensorsHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", name, err)
	}
	if err := checkSafetensorsLayout(entries, int64(len(buf))); err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", name, err)
	}
	st := &SafeTensors{Tensors: make(map[string]Tensor, len(entries)), Metadata: meta, Order: make([]string, len(entries))}
	for i, e := range entries {
		st.Order[i] = e.name
		st.Tensors[e.name] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Data: buf[e.begin:e.end:e.end]}
	}
	return st, nil
}

// parseSafetensorsHeader decodes the JSON header, entry by entry, so that a
// duplicate name is caught and the order is kept.
func parseSafetensorsHeader(hdr []byte) ([]stEntry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, fmt.Errorf("header is not valid utf-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("invalid header json: want an object")
	}
	var entries []stEntry
	meta := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid header json: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate tensor %q in header", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			meta = map[string]string{}
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("invalid header json: __metadata__ must map strings to strings: %v", err)
			}
			if meta == nil { // "__metadata__": null
				meta = map[string]string{}
			}
			continue
		}
		var info stInfo
		if err := dec.Decode(&info); err != nil {
			return nil, nil, fmt.Errorf("invalid header json: tensor %q: %v", key, JSONError(err))
		}
		e, err := checkSafetensorsEntry(key, info)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, fmt.Errorf("invalid header json: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("invalid header json: data after the header object")
	}
	return entries, meta, nil
}

// checkSafetensorsEntry checks one entry on its own: known dtype, a sane
// shape, and data_offsets whose span matches shape times dtype size.
func checkSafetensorsEntry(name string, info stInfo) (stEntry, error) {
	e := stEntry{name: name}
	if info.DType == nil || info.Shape == nil || info.Offsets == nil {
		return e, fmt.Errorf("tensor %q: header entry needs dtype, shape and data_offsets", name)
	}
	e.dtype = *info.DType
	size, ok := dtypeSizes[e.dtype]
	if !ok {
		return e, fmt.Errorf("tensor %q: unknown dtype %q", name, e.dtype)
	}
	e.shape = make([]int, len(*info.Shape))
	for i, d := range *info.Shape {
		if d < 0 {
			return e, fmt.Errorf("tensor %q: negative dimension %d in shape %v", name, d, *info.Shape)
		}
		if d > math.MaxInt {
			return e, fmt.Errorf("tensor %q: shape %v overflows", name, *info.Shape)
		}
		e.shape[i] = int(d)
	}
	nbytes, ok := tensorBytes(e.shape, size)
	if !ok {
		return e, fmt.Errorf("tensor %q: shape %v %s overflows", name, e.shape, e.dtype)
	}
	off := *info.Offsets
	if len(off) != 2 {
		return e, fmt.Errorf("tensor %q: data_offsets %v must be [begin, end]", name, off)
	}
	e.begin, e.end = off[0], off[1]
	if e.begin < 0 || e.end < e.begin {
		return e, fmt.Errorf("tensor %q: data_offsets [%d,%d] are not a range", name, e.begin, e.end)
	}
	if e.end-e.begin != nbytes {
		return e, fmt.Errorf("tensor %q: data_offsets [%d,%d] hold %d bytes, shape %v %s needs %d",
			name, e.begin, e.end, e.end-e.begin, e.shape, e.dtype, nbytes)
	}
	return e, nil
}

// checkSafetensorsLayout sorts entries by offset and checks that they tile
// the data buffer of n bytes exactly, as the reference implementation does.
func checkSafetensorsLayout(entries []stEntry, n int64) error {
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].end < entries[j].end
	})
	var at int64
	for _, e := range entries {
		switch {
		case e.end > n:
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] run past the end of the %d-byte data buffer (truncated file?)", e.name, e.begin, e.end, n)
		case e.begin > at:
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] leave a hole at bytes [%d,%d] (tensors must cover the data contiguously)", e.name, e.begin, e.end, at, e.begin)
		case e.begin < at:
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] overlap the previous tensor, which ends at %d", e.name, e.begin, e.end, at)
		}
		at = e.end
	}
	if at != n {
		return fmt.Errorf("tensors cover %d data bytes but the file has %d after the header (trailing bytes)", at, n)
	}
	return nil
}

// tensorBytes is product(shape)*size, with ok=false on a negative
// dimension or overflow (checked in the reference implementation's order).
func tensorBytes(shape []int, size int) (n int64, ok bool) {
	n = 1
	for _, d := range shape {
		if d < 0 || d != 0 && n > math.MaxInt64/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	if n > math.MaxInt64/int64(size) {
		return 0, false
	}
	return n * int64(size), true
}
