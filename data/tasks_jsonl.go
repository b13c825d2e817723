package data

// Task files in JSONL: one JSON object per line, its columns keys (or
// dotted paths into nested objects and lists) whose values are strings,
// numbers or booleans.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// readJSONL reads one JSON object per line; the columns are keys whose
// values are strings, numbers or booleans (null counts as missing).
func (p *taskParser) readJSONL(r *bufio.Reader) error {
	p.bindKeys()
	seen := false
	for line := 1; ; line++ {
		ln, rerr := r.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return fmt.Errorf("task %s: %w", p.path, rerr)
		}
		if err := p.jsonLine(line, strings.TrimSuffix(ln, "\n"), &seen); err != nil {
			return err
		}
		if rerr == io.EOF {
			break
		}
	}
	return p.checkPresent()
}

// notePresent records which keys of role the JSONL row (have) has.
func (p *taskParser) notePresent(role string, have []bool) {
	if p.present == nil {
		p.present = map[int]bool{}
	}
	for _, i := range p.cols[role] {
		p.present[i] = p.present[i] || have[i]
	}
}

// checkPresent refuses a context or question key that no row read has
// (absent or null in all of them): a misnamed column, not one blank in
// every row. Of joined keys, each is checked: a misnamed one would
// otherwise leave its part out of every row.
func (p *taskParser) checkPresent() error {
	if p.data.Count == 0 {
		return nil
	}
	for _, role := range p.roles {
		if role != "context" && role != "question" {
			continue
		}
		idx := p.cols[role]
		for _, i := range idx {
			switch {
			case p.present[i]:
			case len(idx) == 1:
				return &RowError{Path: p.path, Msg: fmt.Sprintf("no row has %s (%s), absent or null in all of them: is the column name right? (leave %s out of columns if the file has none)", p.colDesc(role), role, role)}
			default:
				return &RowError{Path: p.path, Msg: fmt.Sprintf("no row has %s of %s (%s), absent or null in all of them: is the key right? (leave it out of the join if the file has none)", p.describe(p.names[i]), p.colDesc(role), role)}
			}
		}
	}
	return nil
}

// jsonLine reads the JSONL line ln at line; seen says an earlier line held
// something.
func (p *taskParser) jsonLine(line int, ln string, seen *bool) error {
	if strings.TrimSpace(ln) == "" {
		return nil
	}
	if !*seen && strings.HasPrefix(strings.TrimSpace(ln), "[") {
		// The whole file is wrong, not this row: no skip_bad_rows.
		return &RowError{Path: p.path, Line: line, Msg: "the file is a JSON array; a task file in JSONL holds one JSON object per line (write each element on a line of its own, e.g. jq -c '.[]' FILE)"}
	}
	*seen = true
	if !utf8.ValidString(ln) {
		return p.bad(&RowError{Path: p.path, Line: line, Msg: "the line " + notUTF8})
	}
	cells, have, msg := p.jsonCells(ln)
	if msg != "" {
		return p.bad(&RowError{Path: p.path, Line: line, Msg: msg})
	}
	return p.add(line, cells, have)
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
