package data

import (
	"bufio"
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

// readCSV reads CSV as Python's csv module and pandas read it: quoted
// fields may hold commas, newlines and doubled quotes; a quote in a field
// that does not begin with one is text (csvReader). Text after a quoted
// field's closing quote, or a quote never closed, is always fatal: past
// it, the reader cannot tell where rows start.
func (p *taskParser) readCSV(br *bufio.Reader) error {
	needHeader := p.f.Header
	if !needHeader {
		p.bindIndexes()
	}
	r := &csvReader{r: br, path: p.path}
	for {
		rec, err := r.read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := p.row(rec.line, rec.cells, rec.quoted, &needHeader); err != nil {
			return err
		}
	}
}

// strayCRError is the error of a line with a carriage return that does not
// end it.
func strayCRError(path string, line int) error {
	return &RowError{Path: path, Line: line, Msg: `a carriage return (CR) inside the line, not before its line feed: the file mixes CR and LF line endings, and other readers end the row there; convert the CRs to LF (tr '\r' '\n' < FILE > NEW), or remove them if they are text`}
}
