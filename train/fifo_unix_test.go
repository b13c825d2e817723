//go:build unix

package train

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The char tokenizer reads its corpus twice (its characters, then its ids):
// a pipe is refused by name (the second read found it empty and said "the
// file is empty").
func TestCharVocabularyRefusesPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "corpus")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	go func() { // a writer for each read, so that a run that reads it does not wait forever
		for range 2 {
			if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				f.WriteString(strings.Repeat("some text of a corpus. ", 100))
				f.Close()
			}
		}
	}()
	_, err := Pretrain(context.Background(), tinyConfig(t, "tokenizer=char", "data="+fifo), Options{OutDir: filepath.Join(t.TempDir(), "run"), Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "tokenizer char reads the corpus twice") {
		t.Errorf("char vocabulary of a pipe: %v", err)
	}
}
