package data

// A row's values as the task reads them: its inputs, options and label or
// score, each taken from the row's cells and checked, and the words a
// problem with one names its column in.

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

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
		why := p.blankRole(r, fields[r])
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
		return blank[0], p.blankRole(blank[0], fields[blank[0]])
	}
	ctx, q := p.blankRole("context", fields["context"]), p.blankRole("question", fields["question"])
	if ctx == q {
		return "context", fmt.Sprintf("%s, and so is %s (question)", ctx, p.colDesc("question"))
	}
	return "context", fmt.Sprintf("%s; %s (question): %s", ctx, p.colDesc("question"), q)
}

// blankRole is blank for the input v of role, saying of joined JSONL keys
// that every one of them is blank, absent or null (value leaves those a
// row lacks out).
func (p *taskParser) blankRole(role, v string) string {
	why := p.blank(v)
	if len(p.cols[role]) > 1 && p.format == "jsonl" && strings.TrimSpace(v) == "" {
		return why + " (each of its fields is blank, absent or null)"
	}
	return why
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
// Joined cells ("a+b") are trimmed and joined with a space, blank ones
// left out. A JSONL context or question (partial) takes the joined keys a
// row has: an absent or null one is as blank as "", and ok is false only
// when none is there.
func (p *taskParser) value(role string, cells []string, have []bool) (v string, ok bool) {
	idx, ok := p.cols[role]
	if !ok {
		return "", false
	}
	partial := have != nil && (role == "context" || role == "question")
	var parts []string
	found := false
	for _, i := range idx {
		if i >= len(cells) || have != nil && !have[i] {
			if !partial {
				return "", false
			}
			continue
		}
		if len(idx) == 1 {
			return cells[i], true
		}
		found = true
		if s := strings.TrimSpace(cells[i]); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " "), found
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
