package data

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// taskParser turns rows of cells into Examples. Every format is reduced to
// rows of cells: tsv/csv rows as they are, JSONL objects as the values of
// the keys the columns name.
type taskParser struct {
	path   string
	f      TaskFormat
	format string
	target string           // "label", "score" or "" (none, or not needed)
	roles  []string         // input roles in use, in inputRoles order
	nOpt   int              // number of options (0: not multiple choice)
	cols   map[string][]int // role -> cell indexes of the roles read
	names  []string         // cell index -> column name, where known
	width  int              // cells in every tsv/csv row; 0 until known
	data   *TaskData
	emit   func(Example) error // takes each example read
	// A headerless tsv/csv file is read twice: the first pass (counting)
	// counts the rows of each width, as the width most of them have is the
	// file's, not the first row's (a stray separator there would make every
	// other row bad); the second reads the rows.
	counting bool
	widths   map[int]int // width -> rows
	firstOf  map[int]int // width -> index of its first row
	nRows    int         // rows counted
	// present records the keys of the context and question some JSONL row
	// has (not absent, not null), by cell index: one no row has is a
	// misnamed column.
	present map[int]bool
}

func newTaskParser(path string, f TaskFormat, format string, needLabel bool) *taskParser {
	p := &taskParser{path: path, f: f, format: format,
		nOpt: f.numOptions(), cols: map[string][]int{}, data: &TaskData{Path: path}}
	if _, ok := f.Columns["score"]; ok && needLabel {
		p.target = "score"
	} else if _, ok := f.Columns["label"]; ok && needLabel {
		p.target = "label"
	}
	for _, r := range inputRoles {
		if _, ok := f.Columns[r]; ok {
			p.roles = append(p.roles, r)
		}
	}
	return p
}

// reads reports whether the parser reads role: not the label or score
// when it is not needed, so that predict reads every row whatever that
// column holds.
func (p *taskParser) reads(role string) bool {
	return role != "label" && role != "score" || p.target != ""
}

// bindIndexes binds columns given as 0-based indexes (tsv/csv, no header).
func (p *taskParser) bindIndexes() {
	for role, col := range p.f.Columns {
		if p.reads(role) {
			p.cols[role], _ = columnIndexes(col) // validated already
		}
	}
}

// bindKeys binds columns given as JSON keys; "a+b" names two keys.
func (p *taskParser) bindKeys() {
	for _, role := range slices.Sorted(maps.Keys(p.f.Columns)) {
		if !p.reads(role) {
			continue
		}
		for _, key := range strings.Split(p.f.Columns[role], "+") {
			key = strings.TrimSpace(key)
			i := slices.Index(p.names, key)
			if i < 0 {
				i = len(p.names)
				p.names = append(p.names, key)
			}
			p.cols[role] = append(p.cols[role], i)
		}
	}
}

// bindHeader binds columns by name to the header row found at line.
func (p *taskParser) bindHeader(header []string, line int) error {
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	p.names, p.width = header, len(header)
	for _, role := range slices.Sorted(maps.Keys(p.f.Columns)) {
		if !p.reads(role) {
			continue
		}
		col := p.f.Columns[role]
		parts := []string{col}
		if !slices.Contains(header, col) {
			parts = strings.Split(col, "+")
		}
		for _, name := range parts {
			name = strings.TrimSpace(name)
			i := slices.Index(header, name)
			if i < 0 {
				return &RowError{Path: p.path, Line: line, Column: name,
					Msg: fmt.Sprintf("no column %q (%s) in the header %q", name, role, header)}
			}
			if slices.Contains(header[i+1:], name) {
				return &RowError{Path: p.path, Line: line, Column: name,
					Msg: fmt.Sprintf("column %q (%s) appears twice in the header", name, role)}
			}
			p.cols[role] = append(p.cols[role], i)
		}
	}
	return nil
}

// add turns one row into an Example, or records why it cannot.
func (p *taskParser) add(line int, cells []string, have []bool) error {
	ex, err := p.example(line, cells, have)
	if err != nil {
		return p.bad(err)
	}
	p.data.Count++
	return p.emit(ex)
}

// bad fails on a bad row, or counts it when SkipBadRows is set.
func (p *taskParser) bad(e *RowError) error {
	if !p.f.SkipBadRows {
		return e
	}
	p.data.Skipped++
	if len(p.data.Skips) < maxTaskSkips {
		p.data.Skips = append(p.data.Skips, e)
	}
	return nil
}

// example reads the row at line as an Example: its cells, and for a JSONL
// row which of them it has (have; nil: all).
func (p *taskParser) example(line int, cells []string, have []bool) (Example, *RowError) {
	if err := p.checkWidth(line, cells); err != nil {
		return Example{}, err
	}
	if have == nil { // (a JSONL line is checked whole)
		for _, role := range slices.Sorted(maps.Keys(p.cols)) {
			for _, i := range p.cols[role] {
				if i < len(cells) && !utf8.ValidString(cells[i]) {
					return Example{}, p.rowErr(line, role, "%s (%s) %s", p.colDesc(role), role, notUTF8)
				}
			}
		}
	}
	ex := Example{Line: line, Fields: make(map[string]string, len(p.roles))}
	for _, role := range p.roles {
		v, ok := p.value(role, cells, have)
		if have != nil && (role == "context" || role == "question") {
			p.notePresent(role, have)
			// A JSON field that is absent or null is as blank as "": one
			// of context and question is enough (blankInput).
			ok = true
		}
		if !ok {
			return Example{}, p.rowErr(line, role, "missing %s (%s)", p.missingDesc(role, cells, have), role)
		}
		ex.Fields[role] = v
	}
	// A blank input is a bad row in a file read to train on or to score;
	// one read for predictions (no target) gets a prediction for every row.
	if role, msg := p.blankInput(ex.Fields); msg != "" && p.target != "" {
		return Example{}, p.rowErr(line, role, "missing %s (%s): %s", p.colDesc(role), role, msg)
	}
	var err *RowError
	if ex.Options, err = p.options(line, cells, have); err != nil {
		return Example{}, err
	}
	if p.target == "" {
		return ex, nil
	}
	if err := p.readTarget(&ex, cells, have); err != nil {
		return Example{}, err
	}
	ex.HasLabel = true
	return ex, nil
}

// rowErr is a RowError at line in the column of role.
func (p *taskParser) rowErr(line int, role, format string, args ...any) *RowError {
	return &RowError{Path: p.path, Line: line, Column: p.f.Columns[role], Msg: fmt.Sprintf(format, args...)}
}

// checkWidth refuses a tsv or csv row with another number of cells than
// the header, or most rows, have. A row read for predictions (no target)
// may lack trailing cells of columns the task does not read, such as a
// label column at the end.
func (p *taskParser) checkWidth(line int, cells []string) *RowError {
	if p.format == "jsonl" {
		return nil
	}
	if len(cells) < p.width && p.target == "" && !p.readsFrom(len(cells)) {
		return nil
	}
	if len(cells) != p.width {
		if p.f.Header {
			return p.rowErr(line, "", "has %d columns, the header has %d (a stray tab or separator?)", len(cells), p.width)
		}
		return p.rowErr(line, "", "has %d columns, where most rows have %d (a stray tab or separator?)", len(cells), p.width)
	}
	return nil
}

// readsFrom reports whether a column the parser reads has an index of at
// least i.
func (p *taskParser) readsFrom(i int) bool {
	for _, idx := range p.cols {
		for _, j := range idx {
			if j >= i {
				return true
			}
		}
	}
	return false
}

// countWidth counts a row of a headerless tsv/csv file in the first pass.
func (p *taskParser) countWidth(cells []string) {
	if p.widths == nil {
		p.widths, p.firstOf = map[int]int{}, map[int]int{}
	}
	if p.widths[len(cells)]++; p.widths[len(cells)] == 1 {
		p.firstOf[len(cells)] = p.nRows
	}
	p.nRows++
}

// pickWidth makes the width most rows counted have (the first of those
// tied) the file's.
func (p *taskParser) pickWidth() {
	for w, n := range p.widths {
		if p.width == 0 || n > p.widths[p.width] || n == p.widths[p.width] && p.firstOf[w] < p.firstOf[p.width] {
			p.width = w
		}
	}
}

// blankLine reports whether cells come from a blank line (nothing but
// spaces, no separator): such lines are skipped. A row of blank cells is a
// row: predict gives it a prediction, training and eval report it.
func blankLine(cells []string) bool {
	return len(cells) == 1 && strings.TrimSpace(cells[0]) == ""
}
