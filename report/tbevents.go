package report

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorBoard event files are TFRecord files: each record is
//
//	uint64 length, uint32 masked CRC32C(length), data, uint32 masked CRC32C(data)
//
// little-endian, where data is a serialized tensorflow.Event protobuf. The
// few fields gptctl writes are encoded by hand with protowire:
//
//	Event      { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
//	             SessionLog session_log = 7; }   (6 is the deprecated log_message)
//	Summary    { repeated Value value = 1; }
//	Value      { string tag = 1; float simple_value = 2; }
//	SessionLog { SessionStatus status = 1; }   START = 1
const (
	eventWallTime    = 1
	eventStep        = 2
	eventFileVersion = 3
	eventSummary     = 5
	eventSessionLog  = 7
	summaryValue     = 1
	valueTag         = 1
	valueSimpleValue = 2
	sessionStatus    = 1
	sessionStart     = 1

	fileVersion = "brain.Event:2"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC32C.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// EventWriter appends scalar summaries to a TensorBoard event file. Its
// methods may be called from several goroutines.
type EventWriter struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	path string
}

// NewEventWriter creates dir if needed and an event file
// events.out.tfevents.<unix>.<hostname>.gptctl in it (TensorBoard reads
// any name holding "tfevents"; the suffix tells gptctl's files from other
// writers', IsOwnEventFile), starting with the file_version record that
// TensorBoard expects.
func NewEventWriter(dir string) (*EventWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	now := time.Now()
	name := fmt.Sprintf("events.out.tfevents.%d.%s.gptctl", now.Unix(), host)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	for i := 1; errors.Is(err, os.ErrExist) && i < 100; i++ {
		path = filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("tensorboard: create event file: %w", err)
	}
	ew := &EventWriter{f: f, w: bufio.NewWriter(f), path: path}
	ev := eventHeader(nil, now, 0)
	ev = protowire.AppendTag(ev, eventFileVersion, protowire.BytesType)
	ev = protowire.AppendString(ev, fileVersion)
	if err := ew.writeRecord(ev); err != nil {
		f.Close()
		return nil, err
	}
	return ew, nil
}

// ownEventFile matches the names NewEventWriter gives, with the suffix of
// a second file in the same second.
var ownEventFile = regexp.MustCompile(`^events\.out\.tfevents\.[0-9]+\..+\.gptctl(\.[0-9]+)?$`)

// IsOwnEventFile reports whether name is that of an event file
// NewEventWriter wrote, not another writer's (TensorFlow's end in .v2).
func IsOwnEventFile(name string) bool { return ownEventFile.MatchString(name) }

// Path returns the event file's path.
func (ew *EventWriter) Path() string { return ew.path }

// WriteScalars records one event holding values at step, tags sorted.
func (ew *EventWriter) WriteScalars(step int64, wall time.Time, values map[string]float64) error {
	tags := make([]string, 0, len(values))
	for tag := range values {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	var summary []byte
	for _, tag := range tags {
		var v []byte
		v = protowire.AppendTag(v, valueTag, protowire.BytesType)
		v = protowire.AppendString(v, tag)
		v = protowire.AppendTag(v, valueSimpleValue, protowire.Fixed32Type)
		v = protowire.AppendFixed32(v, math.Float32bits(float32(values[tag])))
		summary = protowire.AppendTag(summary, summaryValue, protowire.BytesType)
		summary = protowire.AppendBytes(summary, v)
	}
	ev := eventHeader(nil, wall, step)
	ev = protowire.AppendTag(ev, eventSummary, protowire.BytesType)
	ev = protowire.AppendBytes(ev, summary)
	return ew.writeRecord(ev)
}

// WriteSessionStart records that a resumed run starts again at step: TensorBoard
// then drops the events of earlier sessions with that step or later (the
// steps a killed run did after its last checkpoint), as it does for
// TensorFlow's own restarts.
func (ew *EventWriter) WriteSessionStart(step int64, wall time.Time) error {
	var sl []byte
	sl = protowire.AppendTag(sl, sessionStatus, protowire.VarintType)
	sl = protowire.AppendVarint(sl, sessionStart)
	ev := eventHeader(nil, wall, step)
	ev = protowire.AppendTag(ev, eventSessionLog, protowire.BytesType)
	ev = protowire.AppendBytes(ev, sl)
	return ew.writeRecord(ev)
}

func eventHeader(b []byte, wall time.Time, step int64) []byte {
	b = protowire.AppendTag(b, eventWallTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(float64(wall.Unix())+float64(wall.Nanosecond())/1e9))
	if step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(step))
	}
	return b
}

func (ew *EventWriter) writeRecord(data []byte) error {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if ew.w == nil {
		return fmt.Errorf("tensorboard: write %s: writer is closed", ew.path)
	}
	if _, err := ew.w.Write(appendRecord(nil, data)); err != nil {
		return fmt.Errorf("tensorboard: write %s: %w", ew.path, err)
	}
	return nil
}

// appendRecord appends data framed as a TFRecord to b.
func appendRecord(b, data []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	b = binary.LittleEndian.AppendUint32(b, maskedCRC(b[len(b)-8:]))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, maskedCRC(data))
}

// Flush writes buffered events to the file so TensorBoard can see them.
func (ew *EventWriter) Flush() error {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if ew.w == nil {
		return nil
	}
	if err := ew.w.Flush(); err != nil {
		return fmt.Errorf("tensorboard: flush %s: %w", ew.path, err)
	}
	return nil
}

// Close flushes and closes the file. Closing twice is not an error.
func (ew *EventWriter) Close() error {
	err := ew.Flush()
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if ew.w == nil {
		return err
	}
	ew.w = nil
	return errors.Join(err, ew.f.Close())
}
