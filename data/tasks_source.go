package data

// A task file as a TaskSource, to be read more than once: opened again for
// each pass, or read into memory once (a pipe, standard input), and one
// pass of the parser over it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// readAll reads what open opens to its end, unless ctx ends first: then
// the reading, which may sit in a read of a pipe through which nothing
// comes (or in the open of a FIFO without a writer), is left to end with
// the process, and the error is ErrStopped with ctx's cause.
func readAll(ctx context.Context, open func() (io.ReadCloser, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := open()
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%v)", ErrStopped, context.Cause(ctx))
	}
}

// ErrStopped is the error of a read that a context ended.
var ErrStopped = errors.New("reading stopped")

// stdinSource is standard input as a TaskSource, read into memory.
func stdinSource(ctx context.Context) (*TaskSource, error) {
	b, err := readAll(ctx, func() (io.ReadCloser, error) { return io.NopCloser(os.Stdin), nil })
	if err != nil {
		return nil, fmt.Errorf("task file: %s: %w", stdinName, err)
	}
	return &TaskSource{Path: stdinName, b: b, inMemory: true, stdin: true}, nil
}

// Stdin is the path that names standard input, which is read into memory
// and named stdinName in messages. Having no extension, it is read in the
// format that TaskFormat.Format (or the caller) says.
const Stdin = "-"

const stdinName = "stdin"

// parse reads the examples of s into memory.
func (s *TaskSource) parse(f TaskFormat, needLabel bool) (*TaskData, error) {
	var exs []Example
	td, err := s.Scan(f, needLabel, func(ex Example) error {
		exs = append(exs, ex)
		return nil
	})
	if err != nil {
		return nil, err
	}
	td.Examples = exs
	return td, nil
}

// TaskSource is a task file that can be read more than once, the first
// time to check it and the second to use its examples a few at a time,
// whatever its size: a regular file is opened again for each read;
// anything else (a pipe, standard input) is read into memory once.
type TaskSource struct {
	Path     string
	b        []byte
	inMemory bool
	stdin    bool // standard input ("-"), named stdinName
}

// OpenTaskSource opens the task file at path; "-" (Stdin) is standard
// input, read into memory, as is a pipe: a read that ctx ends returns an
// error that wraps ErrStopped.
func OpenTaskSource(ctx context.Context, path string) (*TaskSource, error) {
	if path == Stdin {
		return stdinSource(ctx)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("task file: %w", err)
	}
	if fi.Mode().IsRegular() {
		return &TaskSource{Path: path}, nil
	}
	b, err := readAll(ctx, func() (io.ReadCloser, error) { return os.Open(path) })
	if errors.Is(err, ErrStopped) {
		return nil, fmt.Errorf("task file: %s: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("task file: %w", err) // the path in it
	}
	return &TaskSource{Path: path, b: b, inMemory: true}, nil
}

// Scan reads the file as ReadTaskFile does, but passes each example to fn,
// in file order, instead of keeping it: the TaskData it returns has no
// Examples. An error from fn stops the reading and is returned as it is.
func (s *TaskSource) Scan(f TaskFormat, needLabel bool, fn func(Example) error) (*TaskData, error) {
	path := s.Path
	if s.stdin { // named stdinName, which FileFormat would take for a file
		path = Stdin
	}
	format, err := f.FileFormat(path)
	if err != nil {
		return nil, err
	}
	if err := f.validate(format); err != nil {
		return nil, fmt.Errorf("task %s: %w", s.Path, err)
	}
	p := newTaskParser(s.Path, f, format, needLabel)
	p.emit = fn
	if format != "jsonl" && !f.Header {
		p.counting = true
		if err := s.read(p); err != nil {
			return nil, err
		}
		p.counting = false
		p.pickWidth()
	}
	if err := s.read(p); err != nil {
		return nil, err
	}
	// A file of no rows is nothing to predict (a batch job's empty day),
	// but no data to train or evaluate on.
	if p.data.Count == 0 && (needLabel || len(p.data.Skips) > 0) {
		msg := "no examples"
		if len(p.data.Skips) > 0 {
			msg = fmt.Sprintf("no examples: all %d rows were bad, the first: %v", p.data.Skipped, p.data.Skips[0])
		}
		return nil, &RowError{Path: s.Path, Msg: msg}
	}
	return p.data, nil
}

// read makes one pass of p over the file.
func (s *TaskSource) read(p *taskParser) error {
	var r io.Reader = bytes.NewReader(s.b)
	if !s.inMemory {
		f, err := os.Open(s.Path)
		if err != nil {
			return fmt.Errorf("task file: %w", err)
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64) // byte order marks, and the first characters of a file in UTF-16 without one
	if note := WideNote(head); note != "" {
		return &RowError{Path: s.Path, Msg: note}
	}
	if bytes.HasPrefix(head, bom) {
		br.Discard(len(bom))
	}
	if head, _ := br.Peek(br.Size()); crLineEnds(head, p.format == "csv") {
		return &RowError{Path: s.Path, Msg: `the file has CR line endings (as an old Mac file has), which are not row ends here: convert them to LF, e.g. tr '\r' '\n' < FILE > NEW`}
	}
	switch p.format {
	case "tsv":
		return p.readTSV(br)
	case "csv":
		return p.readCSV(br)
	}
	return p.readJSONL(br)
}

// crLineEnds reports whether head, the first bytes of a file, has CR line
// endings (an old Mac file): a \r with text after it, and no \n at all. In
// a file with LF or CRLF line ends, the TSV and CSV readers refuse a stray
// \r (strayCR); to JSON a raw \r between values is white space. In a CSV
// (csv) a \r within a quoted field is text, not a line end.
func crLineEnds(head []byte, csv bool) bool {
	if bytes.IndexByte(head, '\n') >= 0 {
		return false
	}
	quoted := false
	for i, b := range head {
		switch {
		case b == '"' && csv: // "" within a quoted field toggles twice
			quoted = !quoted
		case b == '\r' && !quoted:
			return i < len(head)-1 // a last \r may be the first half of a \r\n
		}
	}
	return false
}
