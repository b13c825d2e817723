package report

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"

	"gptctl/data"
)

// Event is the part of a tensorflow.Event that EventWriter writes.
type Event struct {
	WallTime    float64
	Step        int64
	FileVersion string
	Scalars     []Scalar // in file order
	Start       bool     // a SessionLog START: a run resumed at Step
}

// Scalar is one summary value.
type Scalar struct {
	Tag   string
	Value float32
}

// ReadEvents reads every event in a TensorBoard event file, checking the
// TFRecord CRCs. Fields other than those in Event are skipped.
func ReadEvents(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var events []Event
	for {
		data, err := readRecord(r)
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, fmt.Errorf("tensorboard: %s record %d: %w", path, len(events), err)
		}
		ev, err := parseEvent(data)
		if err != nil {
			return events, fmt.Errorf("tensorboard: %s event %d: %w", path, len(events), err)
		}
		events = append(events, ev)
	}
}

// readRecord reads one TFRecord and checks both CRCs; io.EOF at a clean end.
func readRecord(r io.Reader) ([]byte, error) {
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, errors.New("truncated record header")
		}
		return nil, err
	}
	if maskedCRC(head[:8]) != binary.LittleEndian.Uint32(head[8:]) {
		return nil, errors.New("length CRC mismatch")
	}
	n := binary.LittleEndian.Uint64(head[:8])
	if n > 64<<20 {
		return nil, fmt.Errorf("record of %d bytes is implausibly large", n)
	}
	buf := make([]byte, n+4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, errors.New("truncated record")
	}
	data := buf[:n]
	if maskedCRC(data) != binary.LittleEndian.Uint32(buf[n:]) {
		return nil, errors.New("data CRC mismatch")
	}
	return data, nil
}

// fields calls fn for each field of the protobuf message b. For bytes fields
// val is the content; for numeric fields it is nil and num holds the value.
func fields(b []byte, fn func(field protowire.Number, typ protowire.Type, val []byte, num uint64) error) error {
	for len(b) > 0 {
		field, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var val []byte
		var num uint64
		switch typ {
		case protowire.VarintType:
			num, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			num, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			num = uint64(v)
		case protowire.BytesType:
			val, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(field, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(field, typ, val, num); err != nil {
			return err
		}
	}
	return nil
}

func parseEvent(b []byte) (Event, error) {
	var ev Event
	err := fields(b, func(field protowire.Number, typ protowire.Type, val []byte, num uint64) error {
		switch {
		case field == eventWallTime && typ == protowire.Fixed64Type:
			ev.WallTime = math.Float64frombits(num)
		case field == eventStep && typ == protowire.VarintType:
			ev.Step = int64(num)
		case field == eventFileVersion && typ == protowire.BytesType:
			ev.FileVersion = string(val)
		case field == eventSessionLog && typ == protowire.BytesType:
			return fields(val, func(field protowire.Number, typ protowire.Type, _ []byte, num uint64) error {
				if field == sessionStatus && typ == protowire.VarintType && num == sessionStart {
					ev.Start = true
				}
				return nil
			})
		case field == eventSummary && typ == protowire.BytesType:
			return fields(val, func(field protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
				if field != summaryValue || typ != protowire.BytesType {
					return nil
				}
				s, err := parseValue(val)
				ev.Scalars = append(ev.Scalars, s)
				return err
			})
		}
		return nil
	})
	return ev, err
}

func parseValue(b []byte) (Scalar, error) {
	var s Scalar
	err := fields(b, func(field protowire.Number, typ protowire.Type, val []byte, num uint64) error {
		switch {
		case field == valueTag && typ == protowire.BytesType:
			s.Tag = string(val)
		case field == valueSimpleValue && typ == protowire.Fixed32Type:
			s.Value = math.Float32frombits(uint32(num))
		}
		return nil
	})
	return s, err
}

// TrimEvents rewrites the event file at path without the events of steps
// past keep and without a torn or damaged end: a resumed run's earlier
// sessions, cut back to its checkpoint as metrics.jsonl is. TensorBoard's
// Python loader drops them on the resumed session's SessionLog START, but
// its Rust data server and plain record readers do not. A file with
// nothing to drop is left as it is.
func TrimEvents(path string, keep int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tensorboard: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var kept []byte
	dropped := false
	for {
		rec, err := readRecord(r)
		if err == io.EOF {
			break
		}
		var ev Event
		if err == nil {
			ev, err = parseEvent(rec)
		}
		if err != nil { // a kill's torn end: nothing after it is read
			dropped = true
			break
		}
		if ev.Step > keep {
			dropped = true
			continue
		}
		kept = appendRecord(kept, rec)
	}
	if !dropped {
		return nil
	}
	return data.WriteFile(path, kept)
}
