package report

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMaskedCRC(t *testing.T) {
	// CRC32C("123456789") is the standard check value 0xe3069283.
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xe3069283 {
		t.Fatalf("crc32c = %#x, want 0xe3069283", c)
	}
	c := uint32(0xe3069283)
	if got, want := maskedCRC([]byte("123456789")), (c>>15|c<<17)+0xa282ead8; got != want {
		t.Fatalf("masked = %#x, want %#x", got, want)
	}
}

func TestEventWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tb")
	ew, err := NewEventWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(ew.Path()), "events.out.tfevents.") {
		t.Errorf("file name %q", ew.Path())
	}
	wall := time.Unix(1700000000, 250_000_000)
	steps := []map[string]float64{
		{"train/loss": 4.25, "lr": 6e-4, "val/loss": 4.5},
		{"train/loss": 2.125, "lr": 3e-4},
	}
	for i, v := range steps {
		if err := ew.WriteScalars(int64(i+1)*100, wall, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := ew.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := ew.WriteScalars(1, wall, nil); err == nil {
		t.Error("WriteScalars after Close succeeded")
	}
	events, err := ReadEvents(ew.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	if events[0].FileVersion != "brain.Event:2" || events[0].WallTime < 1e9 {
		t.Errorf("first event %+v, want file_version brain.Event:2 and a wall time", events[0])
	}
	for i, v := range steps {
		ev := events[i+1]
		if ev.Step != int64(i+1)*100 || ev.WallTime != 1700000000.25 {
			t.Errorf("event %d: step %d wall %v", i+1, ev.Step, ev.WallTime)
		}
		if len(ev.Scalars) != len(v) {
			t.Fatalf("event %d: %d scalars, want %d", i+1, len(ev.Scalars), len(v))
		}
		for j, s := range ev.Scalars {
			if j > 0 && ev.Scalars[j-1].Tag >= s.Tag {
				t.Errorf("tags not sorted: %q before %q", ev.Scalars[j-1].Tag, s.Tag)
			}
			if want := float32(v[s.Tag]); s.Value != want {
				t.Errorf("%s = %v, want %v", s.Tag, s.Value, want)
			}
		}
	}
}

// TestEventBytes pins the wire encoding of one small event.
func TestEventBytes(t *testing.T) {
	got := lastEvent(t, func(ew *EventWriter) error { return ew.WriteScalars(3, time.Unix(2, 0), map[string]float64{"a": 1}) })
	want := []byte{
		0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, // wall_time = 2.0
		0x10, 0x03, // step = 3
		0x2a, 0x0a, 0x0a, 0x08, // summary { value {
		0x0a, 0x01, 'a', // tag = "a"
		0x15, 0, 0, 0x80, 0x3f, // simple_value = 1.0
	}
	if !bytes.Equal(got, want) {
		t.Errorf("event bytes\n got % x\nwant % x", got, want)
	}
	if math.Float64frombits(binary.LittleEndian.Uint64(want[1:])) != 2 {
		t.Fatal("bad test vector")
	}
}

// TestSessionStartBytes pins a session start: SessionLog is the Event's
// field 7 (6 is the deprecated log_message, which TensorBoard's loader
// reads as a log line and so never drops the steps a killed run wrote).
func TestSessionStartBytes(t *testing.T) {
	got := lastEvent(t, func(ew *EventWriter) error { return ew.WriteSessionStart(201, time.Unix(2, 0)) })
	want := []byte{
		0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, // wall_time = 2.0
		0x10, 0xc9, 0x01, // step = 201
		0x3a, 0x02, 0x08, 0x01, // session_log { status: START }
	}
	if !bytes.Equal(got, want) {
		t.Errorf("event bytes\n got % x\nwant % x", got, want)
	}
}

// lastEvent writes one event with write into a new event file and returns
// the serialized Event of its record (the one after file_version's).
func lastEvent(t *testing.T, write func(*EventWriter) error) []byte {
	t.Helper()
	ew, err := NewEventWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := write(ew); err != nil {
		t.Fatal(err)
	}
	ew.Close()
	raw, err := os.ReadFile(ew.Path())
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	last := raw[12+n+4:]
	return last[12 : len(last)-4]
}

func TestReadEventsDetectsCorruption(t *testing.T) {
	ew, err := NewEventWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ew.WriteScalars(1, time.Now(), map[string]float64{"loss": 1})
	ew.Close()
	raw, _ := os.ReadFile(ew.Path())
	raw[len(raw)-6] ^= 0xff
	os.WriteFile(ew.Path(), raw, 0o644)
	if _, err := ReadEvents(ew.Path()); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("corrupted file: err = %v, want a CRC mismatch", err)
	}
}

// TrimEvents drops the events past a step and a torn end, and leaves the
// rest readable; a file with nothing to drop is not rewritten.
func TestTrimEvents(t *testing.T) {
	ew, err := NewEventWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for step := int64(1); step <= 6; step++ {
		if err := ew.WriteScalars(step, time.Now(), map[string]float64{"loss": float64(step)}); err != nil {
			t.Fatal(err)
		}
	}
	ew.Close()
	if !IsOwnEventFile(filepath.Base(ew.Path())) || IsOwnEventFile("events.out.tfevents.1600000000.host.12345.0.v2") {
		t.Errorf("IsOwnEventFile: %s is ours, TensorFlow's .v2 not", filepath.Base(ew.Path()))
	}
	f, _ := os.OpenFile(ew.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{40, 0, 0, 0, 0, 0, 0, 0, 1, 2}) // a kill's torn record
	f.Close()
	if err := TrimEvents(ew.Path(), 4); err != nil {
		t.Fatal(err)
	}
	events, err := ReadEvents(ew.Path())
	var steps []int64
	for _, ev := range events {
		steps = append(steps, ev.Step)
	}
	if err != nil || !slices.Equal(steps, []int64{0, 1, 2, 3, 4}) || events[0].FileVersion == "" {
		t.Errorf("after TrimEvents(4): steps %v, %v", steps, err)
	}
	before, _ := os.Stat(ew.Path())
	if err := TrimEvents(ew.Path(), 10); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(ew.Path()); !after.ModTime().Equal(before.ModTime()) {
		t.Error("a file with nothing to drop was rewritten")
	}
}
