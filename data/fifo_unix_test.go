//go:build unix

package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gptctl/internal/testpipe"
)

// data prepare --tokenizer char reads its inputs twice: a pipe is refused
// by name (it was read empty the second time: "the inputs hold no text").
func TestCharTokenizerOfPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "in")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	go func() { // the reader's open waits for a writer
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString("some text\n")
			f.Close()
		}
	}()
	_, err := CharTokenizerOf([]string{fifo})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "tokenizer char reads the inputs twice") {
		t.Errorf("char vocabulary of a pipe: %v", err)
	}
}

// A piped corpus (zcat's), whose size is unknown until read, gets units
// that grow with the bytes read: its validation split is a hundred or so
// runs of text, not thousands of 256-byte fragments spliced into train,
// and a small piped corpus gets one too.
func TestPrepareOfPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	var text strings.Builder
	for i := 0; text.Len() < 2<<20; i++ {
		fmt.Fprintf(&text, "line %07d\n", i)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString(text.String())
			f.Close()
		}
	}()
	out := filepath.Join(dir, "out")
	if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{fifo}, OutDir: out, ValFraction: 0.1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	var val strings.Builder
	for _, id := range readSplit(t, out, "val") {
		val.WriteByte(byte(id))
	}
	runs, last := 0, -2
	for _, line := range strings.Split(val.String(), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "line %d", &n); err != nil || n != last+1 {
			runs++
		}
		last = n
	}
	if share := float64(val.Len()) / float64(text.Len()); runs > 150 || share < 0.08 || share > 0.12 {
		t.Errorf("2 MiB piped at 0.1: val share %.3f in %d runs of text", share, runs)
	}
	small := filepath.Join(dir, "small")
	if err := syscall.Mkfifo(small, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if f, err := os.OpenFile(small, os.O_WRONLY, 0); err == nil {
			f.WriteString(text.String()[:1<<20])
			f.Close()
		}
	}()
	st, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{small}, OutDir: filepath.Join(dir, "small-out"), ValFraction: 0.005, Workers: 1})
	if err != nil || st.ValTokens < 2500 || st.ValTokens > 8000 {
		t.Errorf("1 MiB piped at 0.005: %d val tokens (%v), want about 5,200", st.ValTokens, err)
	}
	if !st.SizeUnknown { // the progress line then shows no total (a pipe's size is 0)
		t.Errorf("a piped input's size is known: %+v", st)
	}
}

// A task file from a pipe is read into memory once and scanned from there:
// a headerless one, read twice, gets all its rows.
func TestTaskSourceOfPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "in.tsv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString("A\tyes\nB\tno\nC\tyes\n")
			f.Close()
		}
	}()
	src, err := OpenTaskSource(context.Background(), fifo)
	if err != nil {
		t.Fatal(err)
	}
	f := TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"no", "yes"}}
	for i := range 2 {
		var texts []string
		td, err := src.Scan(f, true, func(ex Example) error {
			texts = append(texts, ex.Fields["text"])
			return nil
		})
		if err != nil || td.Count != 3 || strings.Join(texts, "") != "ABC" {
			t.Fatalf("scan %d of a pipe: %v, %v", i, err, texts)
		}
	}
}

// OpenSafetensors reads a file it cannot map, a pipe, into memory.
func TestOpenSafetensorsOfPipe(t *testing.T) {
	dir := t.TempDir()
	file, fifo := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "pipe")
	if err := WriteSafetensors(file, []Tensor{F32Tensor("w", []int{2}, []float32{1.5, -3})}, nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	b, _ := os.ReadFile(file)
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Write(b)
			f.Close()
		}
	}()
	st, closeFile, err := OpenSafetensors(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile()
	if got, err := st.Tensors["w"].Float32(); err != nil || fmt.Sprint(got) != "[1.5 -3]" {
		t.Errorf("w from a pipe = %v, %v", got, err)
	}
}

// A mapped file that another program cuts short while its tensors are
// decoded gives an error naming the tensor, not a crash.
func TestOpenSafetensorsCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	big := make([]float32, 1<<20) // 4 MB: pages past the cut
	if err := WriteSafetensors(path, []Tensor{F32Tensor("w", []int{len(big)}, big)}, nil); err != nil {
		t.Fatal(err)
	}
	st, closeFile, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile()
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	err = st.Tensors["w"].Float32Into(big)
	if err == nil || !strings.Contains(err.Error(), `tensor "w": its file was cut short`) {
		t.Errorf("decoding a file cut short: %v", err)
	}
}

// A prepare whose input is a pipe that stays open with nothing in it (a
// stalled link) stops when its context ends: it does not wait on the read,
// and leaves nothing behind.
func TestPrepareOfIdlePipeStops(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in")
	testpipe.Idle(t, fifo, "some text, then nothing ")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(errors.New("terminated")) })
	out := filepath.Join(dir, "out")
	done := make(chan error, 1)
	go func() {
		_, err := Prepare(PrepareOptions{Context: ctx, Tokenizer: ByteTokenizer{}, Inputs: []string{fifo}, OutDir: out, ValFraction: 0.1, Workers: 1})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "terminated") {
			t.Errorf("prepare of an idle pipe, stopped: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("prepare of an idle pipe did not stop with its context")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 { // the FIFO alone
		t.Errorf("left behind: %v", entries)
	}
}
