package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Task files hold labeled examples for finetuning: GLUE-style TSV, CSV
// (RFC 4180, quoted fields) or JSON Lines. A TaskFormat says how to read
// one; every column of the file that matters is mapped to a role:
//
//	text, premise, hypothesis, a, b, context, question   inputs, kept in Example.Fields
//	option0 .. optionN                                    multiple-choice candidates, Example.Options
//	label                                                 a class, or the right option
//	score                                                 a regression target (a number)
//
// The task kind follows from the roles: score means regression, options mean
// multiple choice, label alone means classification. Example configs:
//
//	sst2:       {header: true, columns: {text: sentence, label: label}, labels: ["0", "1"]}
//	rte:        {header: true, columns: {premise: sentence1, hypothesis: sentence2, label: label}, labels: ["0", "1"]}
//	stsb:       {header: true, columns: {a: sentence1, b: sentence2, score: score}}
//	storycloze: {header: true, label_base: 1, columns: {context: "InputSentence1+InputSentence2+InputSentence3+InputSentence4",
//	             option0: RandomFifthSentenceQuiz1, option1: RandomFifthSentenceQuiz2, label: AnswerRightEnding}}
//
// A column is a header name (header: true), a 0-based index (header: false)
// or, in JSONL, a key, or a dotted path into nested objects and lists
// ("question.stem", "endings.0"; a key containing a dot is matched whole
// first). "x+y" names several columns whose values are joined with one
// space (a header name containing "+" is matched whole first; a JSON key
// cannot contain one). E.g.
//
//	hellaswag:  {columns: {context: ctx, option0: endings.0, option1: endings.1,
//	             option2: endings.2, option3: endings.3, label: label}}
//	arc:        {columns: {question: question.stem, option0: question.choices.0.text, ...,
//	             option4: question.choices.4.text, label: answerKey}, labels: [A, B, C, D, E], min_options: 3}
//
// Reading is forgiving about layout and strict about content: a UTF-8 BOM,
// CRLF line ends and blank lines are accepted; a row with the wrong number of
// columns, a missing field, a label outside labels or a score that is not a
// number is an error naming path:line and the column, unless skip_bad_rows
// is set, in which case the row is counted in TaskData.Skipped. A blank input
// is a missing one, except that one of context and question is enough.

// TaskFormat says how to read a task file. It is meant to sit in a YAML
// config under the keys shown.
type TaskFormat struct {
	// Format is "tsv", "csv" or "jsonl"; "" picks it from the extension
	// (.tsv, .csv, .jsonl or .json).
	Format string `yaml:"format" json:"format"`
	// Header: the first row of a tsv/csv file names the columns.
	Header bool `yaml:"header" json:"header"`
	// Columns maps each role to a column; see above.
	Columns map[string]string `yaml:"columns" json:"columns"`
	// Labels lists the label values as written in the file, in class order:
	// the value Labels[i] becomes class (or option) i. Cells are read without
	// the spaces around them, so a label may not be blank or have any. When
	// empty, the label must be an integer n and becomes n - LabelBase.
	Labels []string `yaml:"labels" json:"labels"`
	// LabelBase is the integer label of class (or option) 0 when Labels is
	// empty, e.g. 1 for Story Cloze's AnswerRightEnding in {1, 2}.
	LabelBase int `yaml:"label_base" json:"label_base"`
	// MinOptions lets a multiple-choice row have fewer options than there
	// are option columns (ARC's 3 to 5 choices, say): options from
	// option<MinOptions> on may be missing or empty, the row's options are
	// those before the first missing one, and its label must name one of
	// them; those before option<MinOptions> must not be blank. 0: every
	// option is required and, in a labeled file, not blank (read for
	// predictions, a blank option is scored as it is).
	MinOptions int `yaml:"min_options" json:"min_options,omitempty"`
	// SkipBadRows counts bad rows in TaskData.Skipped instead of failing.
	SkipBadRows bool `yaml:"skip_bad_rows" json:"skip_bad_rows"`
	// Unreadable, when set, says why the model cannot read any of an
	// input's text ("" when it can): such an input is as blank as an
	// empty one (a char-level vocabulary may lack all its characters).
	// Not a config key: set by the caller that knows the model.
	Unreadable func(text string) string `yaml:"-" json:"-"`
	// LabelHint says, after a label outside the labels, where they come
	// from: "" for "set labels: in the task config", the finetune's;
	// reading for a finetuned model, its own.
	LabelHint string `yaml:"-" json:"-"`
}

// Example is one row of a task file.
type Example struct {
	Fields   map[string]string // input role ("text", "premise", ...) -> text
	Options  []string          // option0..optionN (fewer where MinOptions allows); nil unless multiple choice
	Label    int               // class index, or index into Options
	Score    float64           // regression target
	HasLabel bool              // Label (or Score, for regression) was read
	Line     int               // 1-based line where the row starts
}

// TaskData is the content of one task file.
type TaskData struct {
	Path     string
	Examples []Example   // nil where TaskSource.Scan passed them on
	Count    int         // examples read
	Skipped  int         // bad rows skipped because of SkipBadRows
	Skips    []*RowError // the first maxTaskSkips of them, for a log and a finetune's list
}

// maxTaskSkips bounds TaskData.Skips (and so the memory of a file of bad
// rows).
const maxTaskSkips = 100_000

// RowError is a problem with the content of a task file, at Line (0 when
// it is about the whole file). Callers treat it as a user error.
type RowError struct {
	Path   string
	Line   int
	Column string // the column or field involved, "" if none
	Msg    string
}

func (e *RowError) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Msg
	}
	return e.Path + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// ReadTaskFile reads the task file at path. needLabel=false (prediction)
// does not read the label or score column at all: the file may lack it, a
// row is read whatever it holds there, every example has HasLabel false,
// and a file without rows gives no examples rather than an error. Content
// problems are *RowError; a file that cannot be read or a
// bad TaskFormat give a plain error.
func ReadTaskFile(path string, f TaskFormat, needLabel bool) (*TaskData, error) {
	if path == Stdin {
		src, err := stdinSource()
		if err != nil {
			return nil, err
		}
		return src.parse(f, needLabel)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("task file: %w", err)
	}
	return ParseTaskFile(b, path, f, needLabel)
}

// stdinSource is standard input as a TaskSource, read into memory.
func stdinSource() (*TaskSource, error) {
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		return nil, fmt.Errorf("task file: %s: %w", stdinName, err)
	}
	return &TaskSource{Path: stdinName, b: b, inMemory: true, stdin: true}, nil
}

// Stdin is the path that names standard input, which is read into memory
// and named stdinName in messages. Having no extension, it is read in the
// format that TaskFormat.Format (or the caller) says.
const Stdin = "-"

const stdinName = "stdin"

// ParseTaskFile is ReadTaskFile on the bytes of a file; path is used to pick
// the format (when f.Format is "") and in errors.
func ParseTaskFile(b []byte, path string, f TaskFormat, needLabel bool) (*TaskData, error) {
	return (&TaskSource{Path: path, b: b, inMemory: true}).parse(f, needLabel)
}

// parse reads the examples of s into memory.
func (s *TaskSource) parse(f TaskFormat, needLabel bool) (*TaskData, error) {
	var exs []Example
	td, err := s.Scan(f, needLabel, func(ex Example) error {
		exs = append(exs, ex)
		return nil
	})
	if err != nil {
		return nil, err
	}
	td.Examples = exs
	return td, nil
}

// TaskSource is a task file that can be read more than once, the first
// time to check it and the second to use its examples a few at a time,
// whatever its size: a regular file is opened again for each read;
// anything else (a pipe, standard input) is read into memory once.
type TaskSource struct {
	Path     string
	b        []byte
	inMemory bool
	stdin    bool // standard input ("-"), named stdinName
}

// OpenTaskSource opens the task file at path; "-" (Stdin) is standard
// input, read into memory.
func OpenTaskSource(path string) (*TaskSource, error) {
	if path == Stdin {
		return stdinSource()
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("task file: %w", err)
	}
	if fi.Mode().IsRegular() {
		return &TaskSource{Path: path}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("task file: %w", err)
	}
	return &TaskSource{Path: path, b: b, inMemory: true}, nil
}

// Scan reads the file as ReadTaskFile does, but passes each example to fn,
// in file order, instead of keeping it: the TaskData it returns has no
// Examples. An error from fn stops the reading and is returned as it is.
func (s *TaskSource) Scan(f TaskFormat, needLabel bool, fn func(Example) error) (*TaskData, error) {
	path := s.Path
	if s.stdin { // named stdinName, which FileFormat would take for a file
		path = Stdin
	}
	format, err := f.FileFormat(path)
	if err != nil {
		return nil, err
	}
	if err := f.validate(format); err != nil {
		return nil, fmt.Errorf("task %s: %w", s.Path, err)
	}
	p := newTaskParser(s.Path, f, format, needLabel)
	p.emit = fn
	if format != "jsonl" && !f.Header {
		p.counting = true
		if err := s.read(p); err != nil {
			return nil, err
		}
		p.counting = false
		p.pickWidth()
	}
	if err := s.read(p); err != nil {
		return nil, err
	}
	// A file of no rows is nothing to predict (a batch job's empty day),
	// but no data to train or evaluate on.
	if p.data.Count == 0 && (needLabel || len(p.data.Skips) > 0) {
		msg := "no examples"
		if len(p.data.Skips) > 0 {
			msg = fmt.Sprintf("no examples: all %d rows were bad, the first: %v", p.data.Skipped, p.data.Skips[0])
		}
		return nil, &RowError{Path: s.Path, Msg: msg}
	}
	return p.data, nil
}

// read makes one pass of p over the file.
func (s *TaskSource) read(p *taskParser) error {
	var r io.Reader = bytes.NewReader(s.b)
	if !s.inMemory {
		f, err := os.Open(s.Path)
		if err != nil {
			return fmt.Errorf("task file: %w", err)
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64) // byte order marks, and the first characters of a file in UTF-16 without one
	if note := WideNote(head); note != "" {
		return &RowError{Path: s.Path, Msg: note}
	}
	if bytes.HasPrefix(head, bom) {
		br.Discard(len(bom))
	}
	if head, _ := br.Peek(br.Size()); crLineEnds(head) {
		return &RowError{Path: s.Path, Msg: `the file has CR line endings (as an old Mac file has), which are not row ends here: convert them to LF, e.g. tr '\r' '\n' < FILE > NEW`}
	}
	switch p.format {
	case "tsv":
		return p.readTSV(br)
	case "csv":
		return p.readCSV(br)
	}
	return p.readJSONL(br)
}

// crLineEnds reports whether head, the first bytes of a file, has CR line
// endings (an old Mac file): a \r with text after it, and no \n at all. In
// a file with LF or CRLF line ends, the TSV and CSV readers refuse a stray
// \r (strayCR); to JSON a raw \r between values is white space.
func crLineEnds(head []byte) bool {
	if bytes.IndexByte(head, '\n') >= 0 {
		return false
	}
	i := bytes.IndexByte(head, '\r')
	return i >= 0 && i < len(head)-1 // a last \r may be the first half of a \r\n
}

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
			add("columns: unknown role %q (want one of %s, option0..optionN, label, score)", role, strings.Join(inputRoles, ", "))
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
		add("labels: given but columns has no label")
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
