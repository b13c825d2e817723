package data

// CSV task files, read as Python's csv module reads them (the default
// dialect, strict=False: a comma between fields, a field that begins with
// a quote is quoted, doubled quotes inside it, and a quote in a field that
// begins otherwise is text), except where gptctl refuses what that module
// guesses at: text after a quoted field's closing quote, a quote never
// closed, and a CR inside a line outside a quoted field.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// csvState is where the reader is within a record.
type csvState int

const (
	csvStartRecord  csvState = iota
	csvStartField            // after a comma, or at a record's start
	csvInField               // in a field that does not begin with a quote
	csvInQuoted              // in a quoted field
	csvQuoteInQuote          // after a quote in a quoted field
)

// csvReader reads the records of a CSV file one at a time. A quoted field
// runs on over physical lines until its closing quote; a CRLF inside it
// reads as LF (as Go's encoding/csv reads it), a lone CR is text. Blank
// lines between records are skipped.
type csvReader struct {
	r     *bufio.Reader
	path  string
	line  int    // the physical line last read, from 1
	long  []byte // a line longer than the reader's buffer
	field []byte
}

// csvRecord is one record: its cells, the line it begins on and whether
// its text holds a quote (a quoted "" in a one-column file is a row, not a
// blank line).
type csvRecord struct {
	cells  []string
	line   int
	quoted bool
}

// readLine reads a physical line: its text without the line end, and
// whether it had one (LF, CRLF, or a CR that ends the input).
func (c *csvReader) readLine() (body []byte, eol bool, err error) {
	ln, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], ln...)
		for err == bufio.ErrBufferFull {
			ln, err = c.r.ReadSlice('\n')
			c.long = append(c.long, ln...)
		}
		ln = c.long
	}
	if len(ln) == 0 {
		if err == io.EOF {
			err = nil
		}
		return nil, false, err // (nil, false, nil): the end of the input
	}
	c.line++
	if n := len(ln); ln[n-1] == '\n' {
		ln, eol = ln[:n-1], true
	}
	if n := len(ln); n > 0 && ln[n-1] == '\r' && (eol || err == io.EOF) {
		ln, eol = ln[:n-1], true
	}
	if err == io.EOF {
		err = nil
	}
	return ln, eol, err
}

// read reads the next record; io.EOF at the end of the input.
func (c *csvReader) read() (csvRecord, error) {
	var rec csvRecord
	state, last := csvStartRecord, 0 // last: the length of the last line read
	c.field = c.field[:0]
	for {
		body, eol, err := c.readLine()
		if err != nil {
			return rec, fmt.Errorf("task %s: %w", c.path, err)
		}
		if body == nil && !eol { // the end of the input
			if state == csvStartRecord {
				return rec, io.EOF
			}
			return rec, c.syntaxError(rec.line, c.line, last+1)
		}
		last = len(body)
		if state == csvStartRecord {
			if len(body) == 0 {
				continue // a blank line
			}
			rec.line, state = c.line, csvStartField
		}
		if state, err = c.scan(&rec, body, state); err != nil {
			return rec, err
		}
		if state == csvInQuoted {
			if eol {
				c.field = append(c.field, '\n')
			}
			continue
		}
		rec.cells = append(rec.cells, string(c.field))
		return rec, nil
	}
}

// scan reads the text of one physical line from state into rec, and
// returns the state at its end.
func (c *csvReader) scan(rec *csvRecord, body []byte, state csvState) (csvState, error) {
	for i := 0; i < len(body); {
		switch state {
		case csvStartField:
			if body[i] == '"' {
				state, rec.quoted = csvInQuoted, true
				i++
				continue
			}
			state = csvInField
		case csvInField:
			j := i
			for j < len(body) && body[j] != ',' && body[j] != '\r' {
				if body[j] == '"' {
					rec.quoted = true // text: the field does not begin with it
				}
				j++
			}
			c.field = append(c.field, body[i:j]...)
			if i = j; i < len(body) {
				if body[i] == '\r' {
					return state, strayCRError(c.path, c.line)
				}
				rec.cells = append(rec.cells, string(c.field))
				c.field, state = c.field[:0], csvStartField
				i++
			}
		case csvInQuoted:
			j := bytes.IndexByte(body[i:], '"')
			if j < 0 {
				c.field = append(c.field, body[i:]...)
				return state, nil
			}
			c.field = append(c.field, body[i:i+j]...)
			i, state = i+j+1, csvQuoteInQuote
		case csvQuoteInQuote:
			switch body[i] {
			case '"':
				c.field, state = append(c.field, '"'), csvInQuoted
			case ',':
				rec.cells = append(rec.cells, string(c.field))
				c.field, state = c.field[:0], csvStartField
			case '\r':
				return state, strayCRError(c.path, c.line)
			default: // text after the closing quote, at column i
				return state, c.syntaxError(rec.line, c.line, i)
			}
			i++
		}
	}
	return state, nil
}

// syntaxError reports a quote that is not closed, or text after a closing
// quote, found at line and column (1-based, in bytes), at the line where
// its row starts: a quote left open swallows the lines after it, so it
// shows only further down (at the end of the file, for one never closed).
func (c *csvReader) syntaxError(start, line, col int) *RowError {
	const what = `extraneous or missing " in quoted-field`
	const hint = "quote fields that hold quotes, and double the quotes inside"
	if line == start {
		return &RowError{Path: c.path, Line: line,
			Msg: fmt.Sprintf("csv syntax error at column %d: %s (%s)", col, what, hint)}
	}
	return &RowError{Path: c.path, Line: start,
		Msg: fmt.Sprintf("csv syntax error in the row that starts here: %s, found at line %d, column %d (a quoted field runs on from this row; %s)",
			what, line, col, hint)}
}
