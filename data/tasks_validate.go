package data

// A TaskFormat's checks, made before any file is read: its columns, the
// roles they are mapped to and the labels, and the format a file's
// extension picks.

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Validate checks the format on its own, before any file is read, and
// reports every problem at once.
func (f TaskFormat) Validate() error { return f.validate(f.Format) }

var optionRole = regexp.MustCompile(`^option(0|[1-9][0-9]{0,3})$`)

// inputRoles are the roles that end up in Example.Fields.
var inputRoles = []string{"text", "premise", "hypothesis", "a", "b", "context", "question"}

// validate reports every problem of the format at once, for a file read
// in format ("" when it is not known yet).
func (f TaskFormat) validate(format string) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch format {
	case "", "tsv", "csv", "jsonl":
	default:
		add("format %q is not tsv, csv or jsonl", format)
	}
	inputs := f.validateColumns(format, add)
	f.validateRoles(inputs, add)
	f.validateLabels(add)
	return errors.Join(errs...)
}

// validateColumns checks each role and its column, passing each problem to
// add, and returns the number of input roles.
func (f TaskFormat) validateColumns(format string, add func(format string, args ...any)) (inputs int) {
	var named []string // role: "column" where a column is a name, not an index, and there is no header
	for _, role := range slices.Sorted(maps.Keys(f.Columns)) {
		col := f.Columns[role]
		switch {
		case slices.Contains(inputRoles, role):
			inputs++
		case optionRole.MatchString(role), role == "label", role == "score":
		default:
			add("columns: unknown role %q (%swant one of %s, option0..optionN, label, score)", role, nearRole(role), strings.Join(inputRoles, ", "))
		}
		if strings.TrimSpace(col) == "" {
			add("columns: %s has an empty column name", role)
		} else if (format == "tsv" || format == "csv") && !f.Header {
			if _, err := columnIndexes(col); err != nil {
				named = append(named, fmt.Sprintf("%s: %q", role, col))
			}
		}
	}
	const fix = "(header is false; set header: true if the first row names the columns)"
	switch {
	case len(named) == 1:
		add("columns: %s is not a 0-based index %s", named[0], fix)
	case len(named) > 1:
		add("columns: %s are not 0-based indexes %s", strings.Join(named, ", "), fix)
	}
	return inputs
}

// validateRoles checks that the roles make one kind of task: the inputs
// and options, min_options, and label or score; each problem goes to add.
func (f TaskFormat) validateRoles(inputs int, add func(format string, args ...any)) {
	nOpt, mapped := f.numOptions(), countOptions(f.Columns)
	switch { // one message for one mistake
	case mapped != nOpt:
		add("columns: options must be option0..optionN with no gap")
	case nOpt == 1:
		add("columns: multiple choice needs at least option0 and option1")
	}
	if inputs+mapped == 0 {
		add("columns: no input role (text, premise, hypothesis, a, b, context, question or option0..)")
	}
	switch {
	case f.MinOptions == 0:
	case mapped == 0:
		add("min_options %d applies only to multiple choice, whose options are the option0..optionN columns: leave it out", f.MinOptions)
	case mapped == nOpt && nOpt >= 2 && (f.MinOptions < 2 || f.MinOptions > nOpt):
		add("min_options %d is not in [2, %d] (the option columns), or 0 for all", f.MinOptions, nOpt)
	}
	_, hasLabel := f.Columns["label"]
	_, hasScore := f.Columns["score"]
	switch {
	case hasLabel && hasScore:
		add("columns: set label (classification, multiple choice) or score (regression), not both")
	case hasScore && nOpt > 0:
		add("columns: score (regression) does not go with options")
	case len(f.Labels) > 0 && !hasLabel:
		add("labels: given but columns has no label: name the label column in columns (label: NAME) or leave labels out")
	case len(f.Labels) > 0 && nOpt > 0 && len(f.Labels) != nOpt:
		add("labels: %d values for %d options", len(f.Labels), nOpt)
	}
}

// validateLabels checks the label values as cells are read: not blank, no
// spaces around them, no repeats; each problem goes to add.
func (f TaskFormat) validateLabels(add func(format string, args ...any)) {
	seen := map[string]bool{}
	for _, l := range f.Labels {
		switch t := strings.TrimSpace(l); {
		case t == "":
			add("labels: %q is blank, and a blank label cell is a missing label", l)
		case t != l:
			add("labels: %q has spaces around it, which cells are read without: write %q", l, t)
		case seen[l]:
			add("labels: %q appears twice", l)
		}
		seen[l] = true
	}
}

// numOptions is the number of contiguous option roles from option0.
func (f TaskFormat) numOptions() int {
	n := 0
	for {
		if _, ok := f.Columns["option"+strconv.Itoa(n)]; !ok {
			return n
		}
		n++
	}
}

func countOptions(cols map[string]string) int {
	n := 0
	for role := range cols {
		if optionRole.MatchString(role) {
			n++
		}
	}
	return n
}

// FileFormat is the format the file at path is read in: Format when set,
// else the one its extension names (.tsv, .csv, .jsonl or .json).
func (f TaskFormat) FileFormat(path string) (string, error) {
	if f.Format != "" {
		return f.Format, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".tsv":
		return "tsv", nil
	case ".csv":
		return "csv", nil
	case ".jsonl", ".json":
		return "jsonl", nil
	}
	if path == Stdin {
		return "", fmt.Errorf("task %s: standard input has no extension to tell the format by (set format: tsv, csv or jsonl)", stdinName)
	}
	return "", fmt.Errorf("task %s: cannot tell the format from the extension (set format: tsv, csv or jsonl)", path)
}

// columnIndexes parses "3" or "0+1+2" as 0-based column indexes.
func columnIndexes(col string) ([]int, error) {
	var idx []int
	for _, part := range strings.Split(col, "+") {
		i, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || i < 0 || i > 1<<20 {
			return nil, fmt.Errorf("column %q is not a 0-based index", col)
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// nearRole is the "did you mean" of an unknown role, "" where no role is
// within an edit or two of it (case aside).
func nearRole(role string) string {
	role = strings.ToLower(role)
	best, near := min(len(role)/4+1, 2)+1, ""
	for _, r := range append(slices.Clone(inputRoles), "label", "score", "option0") {
		if d := EditDistance(role, r); d < best {
			best, near = d, r
		}
	}
	if near == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %s? ", near)
}
