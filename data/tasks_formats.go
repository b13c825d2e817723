package data

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// readTSV reads tab-separated rows, GLUE style: no quoting at all, a
// trailing \r is dropped, blank lines are skipped.
func (p *taskParser) readTSV(b []byte) error {
	needHeader := p.f.Header
	if !needHeader {
		p.bindIndexes()
	}
	s, line := string(b), 0
	for len(s) > 0 {
		var ln string
		ln, s, _ = strings.Cut(s, "\n")
		line++
		cells := strings.Split(strings.TrimSuffix(ln, "\r"), "\t")
		if err := p.row(line, cells, false, &needHeader); err != nil {
			return err
		}
	}
	return p.addHeaderless()
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
	case !p.f.Header:
		p.rows = append(p.rows, pendingRow{line, cells})
		return nil
	}
	return p.add(line, cells, nil)
}

// readCSV reads RFC 4180 CSV: quoted fields may hold commas, newlines and
// doubled quotes. A syntax error (such as a stray quote) is always fatal:
// past it, the reader cannot tell where rows start.
func (p *taskParser) readCSV(b []byte) error {
	needHeader := p.f.Header
	if !needHeader {
		p.bindIndexes()
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1 // counted by example, with a clearer message
	for {
		start := r.InputOffset()
		cells, err := r.Read()
		if err == io.EOF {
			return p.addHeaderless()
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return csvSyntaxError(p.path, pe)
		}
		if err != nil {
			return fmt.Errorf("task %s: %w", p.path, err)
		}
		line, _ := r.FieldPos(0)
		quoted := bytes.IndexByte(b[start:r.InputOffset()], '"') >= 0
		if err := p.row(line, cells, quoted, &needHeader); err != nil {
			return err
		}
	}
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

// readJSONL reads one JSON object per line; the columns are keys whose
// values are strings, numbers or booleans (null counts as missing).
func (p *taskParser) readJSONL(b []byte) error {
	p.bindKeys()
	s, line, seen := string(b), 0, false
	for len(s) > 0 {
		var ln string
		ln, s, _ = strings.Cut(s, "\n")
		line++
		if strings.TrimSpace(ln) == "" {
			continue
		}
		if !seen && strings.HasPrefix(strings.TrimSpace(ln), "[") {
			// The whole file is wrong, not this row: no skip_bad_rows.
			return &RowError{Path: p.path, Line: line, Msg: "the file is a JSON array; a task file in JSONL holds one JSON object per line (write each element on a line of its own, e.g. jq -c '.[]' FILE)"}
		}
		seen = true
		cells, have, err := p.jsonCells(ln)
		if err != "" {
			if err := p.bad(&RowError{Path: p.path, Line: line, Msg: err}); err != nil {
				return err
			}
			continue
		}
		if err := p.add(line, cells, have); err != nil {
			return err
		}
	}
	for _, role := range p.roles {
		if (role == "context" || role == "question") && len(p.data.Examples) > 0 && !p.present[role] {
			return &RowError{Path: p.path, Msg: fmt.Sprintf("no row has %s (%s), absent or null in all of them: is the column name right? (leave %s out of columns if the file has none)", p.colDesc(role), role, role)}
		}
	}
	return nil
}

// jsonCells decodes one JSONL line into the cells of the bound keys, or
// returns a message saying what is wrong with it.
func (p *taskParser) jsonCells(ln string) (cells []string, have []bool, msg string) {
	dec := json.NewDecoder(strings.NewReader(ln))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, nil, fmt.Sprintf("invalid json line: %v (want one object per line)", JSONError(err))
	}
	if obj == nil {
		return nil, nil, "invalid json line: null (want one object per line)"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, "invalid json line: more after the object (one object per line)"
	}
	cells, have = make([]string, len(p.names)), make([]bool, len(p.names))
	for i, key := range p.names {
		switch v := jsonPath(obj, key).(type) {
		case nil: // absent or null
		case string:
			cells[i], have[i] = v, true
		case json.Number:
			cells[i], have[i] = v.String(), true
		case bool:
			cells[i], have[i] = fmt.Sprint(v), true
		case []any:
			return nil, nil, fmt.Sprintf("field %q is a list of %d, want a string or number (name one element: %s.0)", key, len(v), key)
		default:
			return nil, nil, fmt.Sprintf("field %q is an object, want a string or number (name one of its fields: %s.NAME)", key, key)
		}
	}
	return cells, have, ""
}

// jsonPath looks key up in obj: a key of obj itself, or else a dotted path
// through nested objects and lists, "question.stem" or "endings.2"
// (0-based). Whatever does not resolve is nil, as an absent field is.
func jsonPath(obj map[string]any, key string) any {
	if v, ok := obj[key]; ok || !strings.Contains(key, ".") {
		return v
	}
	var cur any = obj
	for part := range strings.SplitSeq(key, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}
