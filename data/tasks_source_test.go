package data

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// scanAll reads path with a TaskSource, keeping the examples Scan passes on.
func scanAll(t *testing.T, path string, f TaskFormat, needLabel bool) (*TaskData, error) {
	t.Helper()
	src, err := OpenTaskSource(context.Background(), path)
	if err != nil {
		return nil, err
	}
	var exs []Example
	td, err := src.Scan(f, needLabel, func(ex Example) error {
		exs = append(exs, ex)
		return nil
	})
	if td != nil {
		if td.Examples != nil {
			t.Errorf("Scan kept its examples in TaskData")
		}
		td.Examples = exs
	}
	return td, err
}

// TestTaskSourceMatchesParse reads files of every layout the parser knows
// (headers or not, a stray first row, BOM, CRLF, quoted CSV fields with
// newlines and commas, blank lines, bad rows skipped, a last line without
// its newline) from disk with Scan and from bytes with ParseTaskFile: the
// examples, their lines and the skips must be the same.
func TestTaskSourceMatchesParse(t *testing.T) {
	pair := TaskFormat{Header: true, Columns: map[string]string{"premise": "p", "hypothesis": "h", "label": "y"}, Labels: []string{"no", "yes"}}
	cases := []struct {
		name, file, text string
		f                TaskFormat
		needLabel        bool
	}{
		{"tsv header CRLF BOM", "a.tsv", "\xEF\xBB\xBFp\th\ty\r\nA cat.\tAn animal.\tyes\r\n\r\nA dog.\tA cat.\tno\r\n", pair, true},
		{"tsv no final newline", "a.tsv", "p\th\ty\nA\tB\tyes\nC\tD\tno", pair, true},
		{"tsv headerless stray first row", "a.tsv", "x\ty\tz\tw\nA\tyes\nB\tno\nC\tyes\n",
			TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"no", "yes"}, SkipBadRows: true}, true},
		{"tsv headerless tie goes to the first", "a.tsv", "A\tyes\textra\nB\tno\nC\tyes\textra\nD\tno\n",
			TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"no", "yes"}, SkipBadRows: true}, true},
		{"csv quoted", "a.csv", "p,h,y\r\n\"A, quoted\nfield\",\"He said \"\"hi\"\"\",yes\n\nB,C,no\n", pair, true},
		{"csv one column blank and quoted rows", "a.csv", "t\nA\n\"\"\n   \nB\n",
			TaskFormat{Header: true, Columns: map[string]string{"text": "t"}}, false},
		{"csv headerless", "a.csv", "\"a,b\",1\nc,0\n\"d\ne\",1\n",
			TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}}, true},
		{"jsonl nested and bad rows", "a.jsonl", "{\"q\":{\"s\":\"Why?\"},\"o\":[\"a\",\"b\"],\"y\":1}\n\nnot json\r\n{\"q\":{\"s\":\"How?\"},\"o\":[\"c\",\"d\"],\"y\":0}",
			TaskFormat{Columns: map[string]string{"question": "q.s", "option0": "o.0", "option1": "o.1", "label": "y"}, SkipBadRows: true}, true},
		{"long lines", "a.tsv", "p\th\ty\n" + strings.Repeat("word ", 40000) + "\t" + strings.Repeat("x", 100000) + "\tyes\n", pair, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := ParseTaskFile([]byte(c.text), path, c.f, c.needLabel)
			if err != nil {
				t.Fatal(err)
			}
			if want.Count != len(want.Examples) || want.Count == 0 {
				t.Fatalf("ParseTaskFile: Count %d for %d examples", want.Count, len(want.Examples))
			}
			got, err := scanAll(t, path, c.f, c.needLabel)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Scan = %+v\nParseTaskFile = %+v", got, want)
			}
		})
	}
}

// TestTaskSourceErrorsMatchParse: a file Scan refuses gets the error
// ParseTaskFile gives, found before any example of a headerless file is
// passed on.
func TestTaskSourceErrorsMatchParse(t *testing.T) {
	cases := []struct{ name, file, text string }{
		{"bad label", "a.tsv", "t\ty\nA\tyes\nB\tmaybe\n"},
		{"wrong width", "a.tsv", "t\ty\nA\tyes\nB\tno\textra\n"},
		{"csv stray quote", "a.csv", "t,y\nA,yes\n\"B\"x,no\n"},
		{"utf-16", "a.tsv", "\xFF\xFEt\x00"},
		{"utf-32 big endian", "a.tsv", "\x00\x00\xFE\xFFt"},
		{"json array", "a.jsonl", "[{\"t\":\"A\",\"y\":\"yes\"}]\n"},
		{"no rows", "a.tsv", "t\ty\n"},
	}
	f := TaskFormat{Header: true, Columns: map[string]string{"text": "t", "label": "y"}, Labels: []string{"no", "yes"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, want := ParseTaskFile([]byte(c.text), path, f, true)
			_, got := scanAll(t, path, f, true)
			if want == nil || got == nil || got.Error() != want.Error() {
				t.Errorf("Scan: %v\nParseTaskFile: %v", got, want)
			}
		})
	}
	// Headerless: the bad row is found in the second pass, after the
	// width is known, and the rows before it are passed on.
	path := filepath.Join(t.TempDir(), "h.tsv")
	os.WriteFile(path, []byte("A\tyes\nB\tmaybe\nC\tno\n"), 0o644)
	src, err := OpenTaskSource(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_, err = src.Scan(TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"no", "yes"}}, true,
		func(Example) error { n++; return nil })
	var re *RowError
	if !errors.As(err, &re) || re.Line != 2 || n != 1 {
		t.Errorf("headerless bad row: err %v after %d examples, want line 2 after 1", err, n)
	}
}

// TestTaskSourceStopsOnFnError: an error from fn ends the scan and comes
// back as it is.
func TestTaskSourceStopsOnFnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.tsv")
	os.WriteFile(path, []byte("t\nA\nB\nC\n"), 0o644)
	src, err := OpenTaskSource(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	stop, n := errors.New("disk full"), 0
	_, err = src.Scan(TaskFormat{Header: true, Columns: map[string]string{"text": "t"}}, false, func(Example) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("err %v after %d examples, want %v after 2", err, n, stop)
	}
}

// TestTaskSourceReadsAgain: a source is read once per Scan, a regular
// file from disk each time (a pipe, held in memory, is in fifo_unix_test).
func TestTaskSourceReadsAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.tsv")
	os.WriteFile(path, []byte("t\nA\nB\n"), 0o644)
	src, err := OpenTaskSource(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	f := TaskFormat{Header: true, Columns: map[string]string{"text": "t"}}
	for i := range 2 {
		td, err := src.Scan(f, false, func(Example) error { return nil })
		if err != nil || td.Count != 2 {
			t.Fatalf("scan %d: %v, %d examples", i, err, td.Count)
		}
	}
	if _, err := OpenTaskSource(context.Background(), filepath.Join(t.TempDir(), "missing.tsv")); err == nil || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("missing file: %v", err)
	}
}

// TestTaskSourceMemory: scanning a file holds a few rows, not the file:
// the heap after reading 40 MB of rows, each example dropped, stays far
// below the file's size.
func TestTaskSourceMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MB")
	}
	path := filepath.Join(t.TempDir(), "big.csv")
	row := "\"" + strings.Repeat("a sentence, with a comma and \"\"quotes\"\" ", 10) + "\",yes\n"
	text := "t,y\n" + strings.Repeat(row, 40<<20/len(row))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	n := len(text)
	text = ""
	src, err := OpenTaskSource(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	var ms runtime.MemStats
	rows := 0
	_, err = src.Scan(TaskFormat{Header: true, Columns: map[string]string{"text": "t", "label": "y"}, Labels: []string{"no", "yes"}}, true,
		func(Example) error {
			if rows++; rows%20000 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if peak == 0 || peak > uint64(n)/4 {
		t.Errorf("heap reached %d bytes while scanning %d bytes of rows", peak, n)
	}
}

// failAfter reads r, then fails with err (a disk that fails mid-file).
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestTaskReadErrorIsNotABadRow: a read that fails in the middle of a row
// is that error, not a row of too few columns, counted or not.
func TestTaskReadErrorIsNotABadRow(t *testing.T) {
	eio := errors.New("input/output error")
	for _, format := range []string{"tsv", "jsonl"} {
		for _, skip := range []bool{false, true} {
			text := "t\ty\nA\tyes\nha"
			f := TaskFormat{Header: true, Columns: map[string]string{"text": "t", "label": "y"}, Labels: []string{"no", "yes"}, SkipBadRows: skip}
			if format == "jsonl" {
				text, f.Header = "{\"t\":\"A\",\"y\":\"yes\"}\n{\"t\":", false
			}
			p := newTaskParser("x."+format, f, format, true)
			p.emit = func(Example) error { return nil }
			r := bufio.NewReader(&failAfter{strings.NewReader(text), eio})
			var err error
			if format == "tsv" {
				err = p.readTSV(r)
			} else {
				err = p.readJSONL(r)
			}
			if !errors.Is(err, eio) || p.data.Skipped != 0 || p.data.Count != 1 {
				t.Errorf("%s, skip %v: %v after %d examples, %d skipped; want the read error after 1, none skipped", format, skip, err, p.data.Count, p.data.Skipped)
			}
		}
	}
}

// withStdin runs fn with standard input reading text.
func withStdin(t *testing.T, text string, fn func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	was := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = was }()
	fn()
}

// "-" is standard input, read into memory (so it can be scanned twice) and
// named stdin in messages; having no extension, it takes the format the
// TaskFormat says.
func TestTaskSourceStdin(t *testing.T) {
	f := TaskFormat{Format: "tsv", Header: true, Columns: map[string]string{"text": "t", "label": "y"}, Labels: []string{"no", "yes"}}
	withStdin(t, "t\ty\nA\tyes\nB\tmaybe\n", func() {
		src, err := OpenTaskSource(context.Background(), "-")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // read again from memory
			td, err := src.Scan(f, false, func(Example) error { return nil })
			if err != nil || td.Count != 2 {
				t.Fatalf("scan of stdin: %v, %+v", err, td)
			}
		}
		if _, err := src.Scan(f, true, func(Example) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), `stdin:3: label "maybe"`) {
			t.Errorf("a bad row of stdin: %v, want it named stdin:3", err)
		}
		noFormat := f
		noFormat.Format = ""
		if _, err := src.Scan(noFormat, false, func(Example) error { return nil }); err == nil || !strings.Contains(err.Error(), "task stdin: standard input has no extension to tell the format by") {
			t.Errorf("stdin without a format: %v, want it said that standard input has no extension", err)
		}
	})
	withStdin(t, "{\"t\": \"A\", \"y\": \"yes\"}\n", func() {
		d, err := ReadTaskFile("-", TaskFormat{Format: "jsonl", Columns: f.Columns, Labels: f.Labels}, true)
		if err != nil || len(d.Examples) != 1 || d.Path != "stdin" {
			t.Errorf("ReadTaskFile of stdin: %v, %+v", err, d)
		}
	})
}

// A file named stdin is a file like any other: only "-" is standard input.
func TestFileNamedStdin(t *testing.T) {
	_, err := (TaskFormat{}).FileFormat("stdin")
	if err == nil || !strings.Contains(err.Error(), "task stdin: cannot tell the format from the extension") {
		t.Errorf("a file named stdin: %v, want the message for a name without an extension", err)
	}
}
