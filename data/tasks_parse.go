package data

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
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
	// present records the context and question roles some JSONL row has
	// (not absent, not null): one no row has is a misnamed column.
	present map[string]bool
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
		if ok && have != nil && (role == "context" || role == "question") {
			if p.present == nil {
				p.present = map[string]bool{}
			}
			p.present[role] = true
		}
		if !ok && have != nil && (role == "context" || role == "question") {
			// A JSON field that is absent or null is as blank as "": one
			// of context and question is enough (blankInput).
			v, ok = "", true
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

// minOptionsHint is the advice for a row that lacks option i where no
// min_options is set: one that could make it optional (min_options is 2 at
// least, and below the number of options).
func (p *taskParser) minOptionsHint(i int) string {
	if p.f.MinOptions == 0 && i >= 2 && p.nOpt > 2 {
		return " (for rows with fewer options, set min_options)"
	}
	return ""
}

// options reads a multiple-choice row's options, those up to the first
// missing optional one (min_options); nil when the task has none.
func (p *taskParser) options(line int, cells []string, have []bool) ([]string, *RowError) {
	var opts []string
	missing := -1 // the first optional option the row lacks
	for i := 0; i < p.nOpt; i++ {
		role := "option" + strconv.Itoa(i)
		v, ok := p.value(role, cells, have)
		optional := p.f.MinOptions > 0 && i >= p.f.MinOptions
		switch {
		case optional && (!ok || strings.TrimSpace(v) == ""):
			if missing < 0 {
				missing = i
			}
		case !ok:
			return nil, p.rowErr(line, role, "missing %s (%s)%s", p.missingDesc(role, cells, have), role, p.minOptionsHint(i))
		case p.target != "" && p.blank(v) != "": // as a blank input
			why := p.minOptionsHint(i)
			if p.f.MinOptions > 0 {
				why = fmt.Sprintf(", and min_options is %d", p.f.MinOptions)
			}
			return nil, p.rowErr(line, role, "missing %s (%s): %s%s", p.colDesc(role), role, p.blank(v), why)
		case missing >= 0:
			return nil, p.rowErr(line, role, "has %s but not option%d before it (options must come first, gaps after them)", role, missing)
		default:
			opts = append(opts, v)
		}
	}
	return opts, nil
}

// readTarget reads the row's label or score into ex, whose options are
// read: a label must name one of them.
func (p *taskParser) readTarget(ex *Example, cells []string, have []bool) *RowError {
	v, ok := p.value(p.target, cells, have)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return p.rowErr(ex.Line, p.target, "missing %s in %s", p.target, p.colDesc(p.target))
	}
	var msg string
	if p.target == "score" {
		ex.Score, msg = parseScore(v, p.colDesc("score"))
	} else {
		ex.Label, msg = p.parseLabel(v)
	}
	if msg == "" && p.nOpt > 0 && ex.Label >= len(ex.Options) {
		msg = fmt.Sprintf("label %q names option%d, but the row has %d options", v, ex.Label, len(ex.Options))
	}
	if msg != "" {
		return p.rowErr(ex.Line, p.target, "%s", msg)
	}
	return nil
}

// blankInput finds a blank input, which is as good as a missing one: any
// role but context and question, or both of these (one is enough, as for a
// question without a story). It returns the role and why.
func (p *taskParser) blankInput(fields map[string]string) (role, msg string) {
	var blank []string // context and question, where mapped and blank
	story := false     // a context or question that is not blank
	for _, r := range p.roles {
		why := p.blank(fields[r])
		switch {
		case r == "context" || r == "question":
			story = story || why == ""
			if why != "" {
				blank = append(blank, r)
			}
		case why != "":
			return r, why
		}
	}
	switch {
	case story || len(blank) == 0:
		return "", ""
	case len(blank) == 1:
		return blank[0], p.blank(fields[blank[0]])
	}
	ctx, q := p.blank(fields["context"]), p.blank(fields["question"])
	if ctx == q {
		return "context", fmt.Sprintf("%s, and so is %s (question)", ctx, p.colDesc("question"))
	}
	return "context", fmt.Sprintf("%s; %s (question): %s", ctx, p.colDesc("question"), q)
}

// blank says why the input v is as good as missing: "it is blank", or
// the model cannot read any of it (TaskFormat.Unreadable); "" when it is
// not.
func (p *taskParser) blank(v string) string {
	switch {
	case strings.TrimSpace(v) == "":
		return "it is blank"
	case p.f.Unreadable != nil:
		return p.f.Unreadable(v)
	}
	return ""
}

// notUTF8 ends the message of a cell or line that is not UTF-8.
const notUTF8 = "is not valid UTF-8: the file is in another encoding (convert it, e.g. iconv -f LATIN1 -t UTF-8 FILE > NEW)"

// value is the text of role in a row; ok is false when a cell is missing.
func (p *taskParser) value(role string, cells []string, have []bool) (v string, ok bool) {
	idx, ok := p.cols[role]
	if !ok {
		return "", false
	}
	for _, i := range idx {
		if i >= len(cells) || have != nil && !have[i] {
			return "", false
		}
	}
	if len(idx) == 1 {
		return cells[idx[0]], true
	}
	parts := make([]string, len(idx))
	for k, i := range idx {
		parts[k] = strings.TrimSpace(cells[i])
	}
	return strings.Join(parts, " "), true
}

// missingDesc names the column of role that a row lacks: of joined
// columns ("a+b"), the first one missing, and the join.
func (p *taskParser) missingDesc(role string, cells []string, have []bool) string {
	if idx := p.cols[role]; len(idx) > 1 {
		for _, i := range idx {
			if i >= len(cells) || have != nil && !have[i] {
				name := strconv.Itoa(i)
				if p.format == "jsonl" || p.f.Header {
					name = p.names[i]
				}
				return p.describe(name) + " of " + p.colDesc(role)
			}
		}
	}
	return p.colDesc(role)
}

// colDesc names the column of role for a message.
func (p *taskParser) colDesc(role string) string { return p.describe(p.f.Columns[role]) }

// describe names a column or field for a message: JSON's field name,
// a header's column name (quoted), or a column index.
func (p *taskParser) describe(col string) string {
	switch {
	case p.format == "jsonl":
		return fmt.Sprintf("field %q", col)
	case p.f.Header:
		return fmt.Sprintf("column %q", col)
	}
	return "column " + col
}

// labelHint is where a task's labels come from, for a message.
func (p *taskParser) labelHint() string {
	return cmp.Or(p.f.LabelHint, "set labels: in the task config")
}

func (p *taskParser) parseLabel(v string) (int, string) {
	if len(p.f.Labels) > 0 {
		if i := slices.Index(p.f.Labels, v); i >= 0 {
			return i, ""
		}
		return 0, fmt.Sprintf("label %q is not one of %s (%s)", v, QuotedList(p.f.Labels), p.labelHint())
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Sprintf("label %q is not an integer (%s)", v, p.labelHint())
	}
	k := n - p.f.LabelBase
	switch {
	case k < 0:
		return 0, fmt.Sprintf("label %d is below label_base %d", n, p.f.LabelBase)
	case p.nOpt > 0 && k >= p.nOpt:
		return 0, fmt.Sprintf("label %d names option%d, but the task maps %d option columns, option0 to option%d (label_base %d)", n, k, p.nOpt, p.nOpt-1, p.f.LabelBase)
	}
	return k, ""
}

// QuotedList writes values for a message as a YAML or JSON list would:
// ["not entailment", "entailment"], so that a space inside a value shows.
func QuotedList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// plainNumber is a decimal number as a spreadsheet writes it: a sign,
// digits with at most one point, an exponent. Go's own syntax (1_000, 0x1p2,
// Inf, NaN) is not a score.
var plainNumber = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// parseScore reads a regression target. Scores are trained on as float32,
// so one beyond its range is refused rather than becoming +Inf.
func parseScore(v, col string) (float64, string) {
	if !plainNumber.MatchString(v) {
		return 0, fmt.Sprintf("score %q in %s is not a number", v, col)
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(float64(float32(x)), 0) {
		return 0, fmt.Sprintf("score %q in %s is out of range (at most %.3g in size)", v, col, math.MaxFloat32)
	}
	return x, ""
}

// blankLine reports whether cells come from a blank line (nothing but
// spaces, no separator): such lines are skipped. A row of blank cells is a
// row: predict gives it a prediction, training and eval report it.
func blankLine(cells []string) bool {
	return len(cells) == 1 && strings.TrimSpace(cells[0]) == ""
}
