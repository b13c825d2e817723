//go:build unix

package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
