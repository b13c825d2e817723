package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readTSV reads tab-separated rows, GLUE style: no quoting at all, a
// trailing \r is dropped (another \r is refused), blank lines are skipped.
func (p *taskParser) readTSV(r *bufio.Reader) error {
	needHeader := p.f.Header
	if !needHeader {
		p.bindIndexes()
	}
	for line := 1; ; line++ {
		ln, err := r.ReadString('\n')
		if err != nil && err != io.EOF { // not a short last row
			return fmt.Errorf("task %s: %w", p.path, err)
		}
		if ln != "" {
			text := strings.TrimSuffix(strings.TrimSuffix(ln, "\n"), "\r")
			if strings.IndexByte(text, '\r') >= 0 {
				return strayCRError(p.path, line)
			}
			cells := strings.Split(text, "\t")
			if err := p.row(line, cells, false, &needHeader); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// row takes one row of a TSV or CSV file: blank lines are skipped (quoted
// says the line held a quoted field, "" in a one-column CSV: a row), and
// the first other row is the header when one is still needed.
func (p *taskParser) row(line int, cells []string, quoted bool, needHeader *bool) error {
	switch {
	case blankLine(cells) && !quoted:
		return nil
	case *needHeader:
		*needHeader = false
		return p.bindHeader(cells, line)
	case p.counting:
		p.countWidth(cells)
		return nil
	}
	return p.add(line, cells, nil)
}

// readCSV reads RFC 4180 CSV: quoted fields may hold commas, newlines and
// doubled quotes; a quote in a field that does not begin with one is text,
// as Python's csv module reads it (lenientRecord). Any other syntax error
// (a stray quote after a quoted field, one never closed) is always fatal:
// past it, the reader cannot tell where rows start.
func (p *taskParser) readCSV(br *bufio.Reader) error {
	needHeader := p.f.Header
	if !needHeader {
		p.bindIndexes()
	}
	rec := &recorder{r: br}
	r := csv.NewReader(rec)
	r.FieldsPerRecord = -1 // counted by example, with a clearer message
	for {
		start := r.InputOffset()
		cells, err := r.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrBareQuote) {
			// A quote inside a field that does not begin with one: the
			// reader has skipped to the end of its line, the record's end.
			raw := rec.take(start, r.InputOffset())
			if cells, ok := lenientRecord(raw); ok {
				if at, ok := strayCR(raw); ok {
					return strayCRError(p.path, pe.StartLine+at)
				}
				if err := p.row(pe.StartLine, cells, true, &needHeader); err != nil {
					return err
				}
				continue
			}
		}
		if errors.As(err, &pe) {
			return csvSyntaxError(p.path, pe)
		}
		if err != nil {
			return fmt.Errorf("task %s: %w", p.path, err)
		}
		line, _ := r.FieldPos(0)
		raw := rec.take(start, r.InputOffset())
		if at, ok := strayCR(raw); ok {
			return strayCRError(p.path, line+at)
		}
		quoted := bytes.IndexByte(raw, '"') >= 0
		if err := p.row(line, cells, quoted, &needHeader); err != nil {
			return err
		}
	}
}

// strayCR finds a carriage return in the raw text of a CSV record, outside
// its quoted fields, that does not end a line (before a line feed, or at
// the end of the input): a row end of a file that mixes CR and LF line
// endings, where other readers (Python's csv module, pandas) end the row
// and the csv reader does not. A quoted field's CR is text. line is the
// CR's line counted from the record's first (0), past the blank lines raw
// may begin with.
func strayCR(raw []byte) (line int, found bool) {
	raw = skipBlankLines(raw)
	fieldStart, quoted := true, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\n' {
			line++
		}
		if quoted {
			if c == '"' {
				if i+1 < len(raw) && raw[i+1] == '"' {
					i++
				} else {
					quoted = false
				}
			}
			continue
		}
		switch c {
		case '"':
			quoted, fieldStart = fieldStart, false // a quote inside a field is text
		case ',', '\n':
			fieldStart = true
		case '\r':
			if i+1 < len(raw) && raw[i+1] != '\n' {
				return line, true
			}
		default:
			fieldStart = false
		}
	}
	return 0, false
}

// skipBlankLines drops the blank lines (LF or CRLF) the csv reader passed
// over before a record, which the raw text of the record begins with.
func skipBlankLines[T string | []byte](s T) T {
	for {
		switch {
		case len(s) > 0 && s[0] == '\n':
			s = s[1:]
		case len(s) > 1 && s[0] == '\r' && s[1] == '\n':
			s = s[2:]
		default:
			return s
		}
	}
}

// strayCRError is the error of a line with a carriage return that does not
// end it.
func strayCRError(path string, line int) error {
	return &RowError{Path: path, Line: line, Msg: `a carriage return (CR) inside the line, not before its line feed: the file mixes CR and LF line endings, and other readers end the row there; convert the CRs to LF (tr '\r' '\n' < FILE > NEW), or remove them if they are text`}
}

// lenientRecord splits the raw text of one CSV record that has a quote in
// a field that does not begin with one, as Python's csv module and pandas
// read it: in such a field a quote is text; a field that begins with a
// quote is quoted (doubled quotes inside, ending at a quote before a comma
// or the record's end). ok is false where a quoted field is malformed too.
func lenientRecord(raw []byte) (cells []string, ok bool) {
	s := skipBlankLines(strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r"))
	for {
		if !strings.HasPrefix(s, `"`) {
			j := strings.IndexByte(s, ',')
			if j < 0 {
				return append(cells, s), true
			}
			cells, s = append(cells, s[:j]), s[j+1:]
			continue
		}
		var b strings.Builder
		i := 1
		for {
			j := strings.IndexByte(s[i:], '"')
			if j < 0 {
				return nil, false // not closed
			}
			b.WriteString(s[i : i+j])
			if i += j + 1; i < len(s) && s[i] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			break
		}
		cells = append(cells, strings.ReplaceAll(b.String(), "\r\n", "\n"))
		switch {
		case i == len(s):
			return cells, true
		case s[i] != ',':
			return nil, false // text after the closing quote
		}
		s = s[i+1:]
	}
}

// recorder keeps the bytes read through it, from base on, so that the raw
// text of a CSV record can be looked at after the csv reader parsed it.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // the offset of buf[0] in the input
}

func (rc *recorder) Read(b []byte) (int, error) {
	n, err := rc.r.Read(b)
	rc.buf = append(rc.buf, b[:n]...)
	return n, err
}

// take returns the input from offset start to end and forgets what comes
// before end: the reader reads ahead, so more may be held.
func (rc *recorder) take(start, end int64) []byte {
	b := rc.buf[start-rc.base : end-rc.base]
	rc.buf, rc.base = rc.buf[end-rc.base:], end
	return b
}

// csvSyntaxError reports a CSV syntax error at the line where its row
// starts: a quote left open swallows the lines after it, so the reader
// notices only further down (at the end of the file, for one never closed).
func csvSyntaxError(path string, pe *csv.ParseError) *RowError {
	const hint = "quote fields that hold quotes, and double the quotes inside"
	if pe.Line == pe.StartLine {
		return &RowError{Path: path, Line: pe.Line,
			Msg: fmt.Sprintf("csv syntax error at column %d: %v (%s)", pe.Column, pe.Err, hint)}
	}
	return &RowError{Path: path, Line: pe.StartLine,
		Msg: fmt.Sprintf("csv syntax error in the row that starts here: %v, found at line %d, column %d (a quoted field runs on from this row; %s)",
			pe.Err, pe.Line, pe.Column, hint)}
}
