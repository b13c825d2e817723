package data

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"unicode/utf8"
)

// WriteSafetensors writes tensors and metadata (may be nil) to path
// atomically: it writes a temporary file in the same directory, fsyncs it,
// renames it over path and fsyncs the directory, so a crash leaves either the
// old file or the new one.
//
// The header lists "__metadata__" first, then the tensors in data order, and
// is padded with spaces to a multiple of 8 bytes, as the reference
// implementation does. Data follows in the order given, except that tensors
// are stably grouped by element size, largest first, which keeps every
// tensor aligned to its element size (a no-op when all share one dtype).
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	err := WriteFileAtomic(path, func(w io.Writer) error {
		return encodeSafetensors(w, tensors, metadata)
	})
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe) && pe.Path == path: // a write's error names the file already
		return err
	case err != nil:
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return nil
}

// encodeSafetensors writes a complete safetensors file to w.
func encodeSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order, err := safetensorsOrder(tensors)
	if err != nil {
		return err
	}
	hdr, err := safetensorsHeader(order, metadata)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// safetensorsOrder validates tensors and returns them in data order.
func safetensorsOrder(tensors []Tensor) ([]Tensor, error) {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("tensor with an empty name")
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("tensor name %q is not valid utf-8", t.Name)
		case t.Name == "__metadata__":
			return nil, fmt.Errorf("tensor name %q is reserved", t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("duplicate tensor %q", t.Name)
		}
		seen[t.Name] = true
		if _, err := t.check(); err != nil {
			return nil, err
		}
	}
	order := append([]Tensor{}, tensors...)
	sort.SliceStable(order, func(i, j int) bool {
		return dtypeSizes[order[i].DType] > dtypeSizes[order[j].DType]
	})
	return order, nil
}

// safetensorsHeader builds the padded JSON header for tensors in data order.
func safetensorsHeader(order []Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("metadata %q: %q is not valid utf-8", k, v)
		}
	}
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // keys sorted
		if err != nil {
			return nil, err
		}
		b.WriteString(`"__metadata__":`)
		b.Write(m)
	}
	var off int64
	for i, t := range order {
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteString(`:{"dtype":`)
		b.WriteString(strconv.Quote(t.DType)) // a known dtype: plain ASCII
		b.WriteString(`,"shape":[`)
		for k, d := range t.Shape {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		end := off + int64(len(t.Data))
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > maxSafetensorsHeader {
		return nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit", b.Len(), maxSafetensorsHeader)
	}
	return b.Bytes(), nil
}
