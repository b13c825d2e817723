package data

import (
	"context"
	"fmt"
	"os"
	"strconv"
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
		src, err := stdinSource(context.Background())
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

// ParseTaskFile is ReadTaskFile on the bytes of a file; path is used to pick
// the format (when f.Format is "") and in errors.
func ParseTaskFile(b []byte, path string, f TaskFormat, needLabel bool) (*TaskData, error) {
	return (&TaskSource{Path: path, b: b, inMemory: true}).parse(f, needLabel)
}
