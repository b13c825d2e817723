package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// taskDataPath is a file under shared/data (GPTCTL_DATA_DIR overrides).
func taskDataPath(t *testing.T, rel string) string {
	dir := os.Getenv("GPTCTL_DATA_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	path := filepath.Join(dir, rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found (set GPTCTL_DATA_DIR): %v", path, err)
	}
	return path
}

var (
	sst2Format  = TaskFormat{Header: true, Columns: map[string]string{"text": "sentence", "label": "label"}, Labels: []string{"0", "1"}}
	rteFormat   = TaskFormat{Header: true, Columns: map[string]string{"premise": "sentence1", "hypothesis": "sentence2", "label": "label"}, Labels: []string{"0", "1"}}
	stsbFormat  = TaskFormat{Header: true, Columns: map[string]string{"a": "sentence1", "b": "sentence2", "score": "score"}}
	clozeFormat = TaskFormat{Header: true, LabelBase: 1, Columns: map[string]string{
		"context": "InputSentence1+InputSentence2+InputSentence3+InputSentence4",
		"option0": "RandomFifthSentenceQuiz1", "option1": "RandomFifthSentenceQuiz2", "label": "AnswerRightEnding"}}
)

func TestReadTaskFileShipped(t *testing.T) {
	cases := []struct {
		file  string
		f     TaskFormat
		n     int
		check func(t *testing.T, e Example)
	}{
		{"tasks/sst2/train.tsv", sst2Format, 60614, func(t *testing.T, e Example) {
			if e.Fields["text"] != "when are bears bears and " || e.Label != 1 || e.Line != 2 {
				t.Errorf("first sst2 example = %+v", e)
			}
		}},
		{"tasks/rte/train.tsv", rteFormat, 2490, func(t *testing.T, e Example) {
			if e.Fields["hypothesis"] != "Weapons of Mass Destruction Found in Iraq." || e.Label != 1 {
				t.Errorf("first rte example = %+v", e)
			}
		}},
		{"tasks/stsb/train.tsv", stsbFormat, 5749, func(t *testing.T, e Example) {
			if e.Fields["a"] != "A plane is taking off." || e.Score != 5 || !e.HasLabel {
				t.Errorf("first stsb example = %+v", e)
			}
		}},
		{"tasks/storycloze/train.csv", clozeFormat, 1571, func(t *testing.T, e Example) {
			if !strings.HasPrefix(e.Fields["context"], "Rick grew up in a troubled household. He never found good support in family, and turned to gangs. It") ||
				!reflect.DeepEqual(e.Options, []string{"He is happy now.", "He joined a gang."}) || e.Label != 0 {
				t.Errorf("first storycloze example = %+v", e)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			d, err := ReadTaskFile(taskDataPath(t, c.file), c.f, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Examples) != c.n || d.Skipped != 0 {
				t.Fatalf("%d examples, %d skipped; want %d, 0", len(d.Examples), d.Skipped, c.n)
			}
			c.check(t, d.Examples[0])
			classes := map[int]int{}
			for _, e := range d.Examples {
				if !e.HasLabel || e.Score < 0 || e.Score > 5 {
					t.Fatalf("line %d: bad target %+v", e.Line, e)
				}
				classes[e.Label]++
			}
			t.Logf("%d examples, class counts %v", len(d.Examples), classes)
		})
	}
}

func TestReadTaskFileLayout(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cases := []struct {
		name, content string
		f             TaskFormat
		need          bool
		want          []Example
	}{
		{"bom_crlf.tsv", "\ufeffsentence\tlabel\r\n\r\nfine film\tpos\r\n \r\nbad\tneg\r\n", TaskFormat{Header: true,
			Columns: map[string]string{"text": "sentence", "label": "label"}, Labels: []string{"neg", "pos"}}, true,
			[]Example{{Fields: map[string]string{"text": "fine film"}, Label: 1, HasLabel: true, Line: 3},
				{Fields: map[string]string{"text": "bad"}, Label: 0, HasLabel: true, Line: 5}}},
		{"quoted.csv", "\ufeffq,\"a,b\",s\r\n\"say \"\"hi\"\", ok\",\"two\r\nlines\",1.5\r\n\r\nplain,x,\n", TaskFormat{Header: true,
			Columns: map[string]string{"question": "q", "text": "a,b", "score": "s"}}, false,
			[]Example{{Fields: map[string]string{"question": "say \"hi\", ok", "text": "two\nlines"}, Line: 2}, // the score is not read unless needed
				{Fields: map[string]string{"question": "plain", "text": "x"}, Line: 5}}},
		{"noheader.tsv", "x\ty\t2\n\nu\tv\t1\n", TaskFormat{LabelBase: 1,
			Columns: map[string]string{"context": "0", "option0": "0", "option1": "1", "label": "2"}}, true,
			[]Example{{Fields: map[string]string{"context": "x"}, Options: []string{"x", "y"}, Label: 1, HasLabel: true, Line: 1},
				{Fields: map[string]string{"context": "u"}, Options: []string{"u", "v"}, Label: 0, HasLabel: true, Line: 3}}},
		{"join.tsv", "p1\tp2\th\n", TaskFormat{Columns: map[string]string{"premise": "0+1", "hypothesis": "2"}}, true,
			[]Example{{Fields: map[string]string{"premise": "p1 p2", "hypothesis": "h"}, Line: 1}}},
		{"unlabeled.tsv", "sentence\nno label column\n", sst2Format, false,
			[]Example{{Fields: map[string]string{"text": "no label column"}, Line: 2}}},
		{"emptylabel.tsv", "sentence\tlabel\nblank label\t \n", sst2Format, false,
			[]Example{{Fields: map[string]string{"text": "blank label"}, Line: 2}}},
		{"data.jsonl", "{\"t\": \"a\", \"y\": 1}\r\n\n  \n{\"t\": \"b\", \"y\": \"0\", \"extra\": [1]}\n{\"t\": 3, \"y\": null}\n",
			TaskFormat{Columns: map[string]string{"text": "t", "label": "y"}, Labels: []string{"0", "1"}}, false,
			[]Example{{Fields: map[string]string{"text": "a"}, Line: 1},
				{Fields: map[string]string{"text": "b"}, Line: 4},
				{Fields: map[string]string{"text": "3"}, Line: 5}}},
		{"hellaswag.jsonl", "{\"ctx\": \"He sat.\", \"endings\": [\"a\", \"b\", \"c\"], \"label\": 2, \"meta\": {\"src\": \"x\"}}\n" +
			"{\"ctx\": \"She ran.\", \"endings\": [\"d\", \"e\", 7], \"label\": \"0\", \"meta\": {\"src\": \"y\"}, \"v.1\": \"dotted key\"}\n",
			TaskFormat{Columns: map[string]string{"context": "ctx", "question": "meta.src", "option0": "endings.0", "option1": "endings.1",
				"option2": "endings.2", "label": "label"}}, true,
			[]Example{{Fields: map[string]string{"context": "He sat.", "question": "x"}, Options: []string{"a", "b", "c"}, Label: 2, HasLabel: true, Line: 1},
				{Fields: map[string]string{"context": "She ran.", "question": "y"}, Options: []string{"d", "e", "7"}, Label: 0, HasLabel: true, Line: 2}}},
		{"csqa.jsonl", "{\"question\": {\"stem\": \"Where?\", \"choices\": [{\"label\": \"A\", \"text\": \"here\"}, {\"label\": \"B\", \"text\": \"there\"}]}, \"answerKey\": \"B\", \"v.1\": \"k\"}\n",
			TaskFormat{Columns: map[string]string{"context": "v.1", "question": "question.stem", "option0": "question.choices.0.text",
				"option1": "question.choices.1.text", "label": "answerKey"}, Labels: []string{"A", "B"}}, true,
			[]Example{{Fields: map[string]string{"context": "k", "question": "Where?"}, Options: []string{"here", "there"}, Label: 1, HasLabel: true, Line: 1}}},
		// A CR within a quoted field is text, also where the file's start
		// holds no LF to tell its line ends by.
		{"cr_quoted.csv", "\"a\rb\",pos", TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"neg", "pos"}}, true,
			[]Example{{Fields: map[string]string{"text": "a\rb"}, Label: 1, HasLabel: true, Line: 1}}},
		{"cr_quoted_long.csv", "\"a\r" + strings.Repeat("b", 70000) + "\",pos\nok,neg\n", TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"neg", "pos"}}, true,
			[]Example{{Fields: map[string]string{"text": "a\r" + strings.Repeat("b", 70000)}, Label: 1, HasLabel: true, Line: 1},
				{Fields: map[string]string{"text": "ok"}, Label: 0, HasLabel: true, Line: 2}}},
		{"bool.json", "{\"q\":\"is it?\",\"answer\":true}\n", TaskFormat{Columns: map[string]string{"question": "q", "label": "answer"},
			Labels: []string{"false", "true"}}, true,
			[]Example{{Fields: map[string]string{"question": "is it?"}, Label: 1, HasLabel: true, Line: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ReadTaskFile(write(c.name, c.content), c.f, c.need)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Examples, c.want) {
				t.Errorf("got  %+v\nwant %+v", d.Examples, c.want)
			}
		})
	}
}

// ARC-style multiple choice: 2 to 4 options per row, letters for labels.
var (
	arcTSV = TaskFormat{MinOptions: 2, Labels: []string{"A", "B", "C", "D"},
		Columns: map[string]string{"question": "0", "option0": "1", "option1": "2", "option2": "3", "option3": "4", "label": "5"}}
	arcJSONL = TaskFormat{MinOptions: 2, Labels: []string{"A", "B", "C", "D"},
		Columns: map[string]string{"question": "q", "option0": "c.0.t", "option1": "c.1.t", "option2": "c.2.t", "option3": "c.3.t", "label": "k"}}
)

// TestReadTaskFileMinOptions: with min_options, rows may stop after any
// option from that one on (a missing JSONL field or an empty cell); the
// row keeps the options before the gap.
func TestReadTaskFileMinOptions(t *testing.T) {
	for _, c := range []struct {
		path, content string
		f             TaskFormat
	}{
		{"arc.tsv", "why\tx\ty\t\t\tB\nhow\tx\ty\tz\t\tC\nwho\tx\ty\tz\tw\tD\n", arcTSV},
		{"arc.jsonl", `{"q": "why", "c": [{"t": "x"}, {"t": "y"}], "k": "B"}` + "\n" +
			`{"q": "how", "c": [{"t": "x"}, {"t": "y"}, {"t": "z"}], "k": "C"}` + "\n" +
			`{"q": "who", "c": [{"t": "x"}, {"t": "y"}, {"t": "z"}, {"t": "w"}], "k": "D"}` + "\n", arcJSONL},
	} {
		d, err := ParseTaskFile([]byte(c.content), c.path, c.f, true)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		var got [][]string
		var labels []int
		for _, ex := range d.Examples {
			got, labels = append(got, ex.Options), append(labels, ex.Label)
		}
		want := [][]string{{"x", "y"}, {"x", "y", "z"}, {"x", "y", "z", "w"}}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(labels, []int{1, 2, 3}) {
			t.Errorf("%s: options %q, labels %v; want %q, [1 2 3]", c.path, got, labels, want)
		}
	}
	// Without min_options every option is required, and not blank.
	f := arcTSV
	f.MinOptions = 0
	if _, err := ParseTaskFile([]byte("why\tx\ty\t\t\tB\n"), "arc.tsv", f, true); err == nil ||
		!strings.Contains(err.Error(), `missing column 3 (option2): it is blank (for rows with fewer options, set min_options)`) {
		t.Errorf("empty options without min_options: %v", err)
	}
	f = arcJSONL
	f.MinOptions = 0
	if _, err := ParseTaskFile([]byte(`{"q": "why", "c": [{"t": "x"}, {"t": "y"}], "k": "B"}`+"\n"), "arc.jsonl", f, true); err == nil ||
		!strings.Contains(err.Error(), `missing field "c.2.t" (option2)`) {
		t.Errorf("a missing option without min_options: %v", err)
	}
}

func TestReadTaskFileErrors(t *testing.T) {
	labels01 := []string{"0", "1"}
	cases := []struct {
		name, path, content string
		f                   TaskFormat
		need                bool
		line                int
		want                string
	}{
		{"unknown label", "rte/train.tsv", "sentence1\tsentence2\tlabel\na\tb\t0\nc\td\tmaybe\n", rteFormat, true, 3,
			`rte/train.tsv:3: label "maybe" is not one of ["0", "1"] (set labels: in the task config)`},
		{"unknown label with a space", "n.tsv", "p\th\tl\na\tb\tnot  entailment\n", TaskFormat{Header: true,
			Columns: map[string]string{"premise": "p", "hypothesis": "h", "label": "l"}, Labels: []string{"not entailment", "entailment"}}, true, 2,
			`label "not  entailment" is not one of ["not entailment", "entailment"]`},
		{"stray tab", "t.tsv", "sentence\tlabel\na\tb\t1\n", sst2Format, true, 2, "has 3 columns, the header has 2"},
		{"short row", "t.tsv", "sentence\tlabel\nab\n", sst2Format, true, 2, "has 1 columns, the header has 2"},
		{"no header column", "t.tsv", "text\tlabel\na\t1\n", sst2Format, true, 1, `no column "sentence" (text) in the header ["text" "label"]`},
		{"no label column", "t.tsv", "sentence\ty\na\t1\n", sst2Format, true, 1, `no column "label" (label)`},
		{"duplicate column", "t.tsv", "sentence\tsentence\tlabel\na\tb\t1\n", sst2Format, true, 1, "appears twice"},
		{"score not a number", "s.tsv", "sentence1\tsentence2\tscore\na\tb\thigh\n", stsbFormat, true, 2, `score "high" in column "score" is not a number`},
		{"score nan", "s.tsv", "sentence1\tsentence2\tscore\na\tb\tNaN\n", stsbFormat, true, 2, `score "NaN" in column "score" is not a number`},
		{"missing label", "t.tsv", "sentence\tlabel\na\t\n", sst2Format, true, 2, `missing label in column "label"`},
		{"label not integer", "t.tsv", "a\tb\n", TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}}, true, 1,
			`label "b" is not an integer (set labels: in the task config)`},
		{"label below base", "c.csv", "s,x,y,0\n", TaskFormat{LabelBase: 1, Columns: map[string]string{"context": "0", "option0": "1", "option1": "2", "label": "3"}}, true, 1,
			"label 0 is below label_base 1"},
		{"label past options", "c.csv", "s,x,y,3\n", TaskFormat{LabelBase: 1, Columns: map[string]string{"context": "0", "option0": "1", "option1": "2", "label": "3"}}, true, 1,
			"label 3 names option2, but the task maps 2 option columns, option0 to option1 (label_base 1)"},
		{"headerless short row", "n.tsv", "a\tb\t1\nc\t1\n", TaskFormat{Columns: map[string]string{"premise": "0", "hypothesis": "1", "label": "2"}, Labels: labels01}, true, 2,
			"has 2 columns, where most rows have 3"},
		// The width most rows have is the file's: a stray tab in the first
		// row makes that row bad, not every other one.
		{"headerless stray tab first", "n.tsv", "a\tb\t1\t\nc\td\t1\ne\tf\t0\n", TaskFormat{Columns: map[string]string{"premise": "0", "hypothesis": "1", "label": "2"}, Labels: labels01}, true, 1,
			"has 4 columns, where most rows have 3"},
		{"headerless csv short first", "n.csv", "a,1\nc,d,1\ne,f,0\n", TaskFormat{Columns: map[string]string{"premise": "0", "hypothesis": "1", "label": "2"}, Labels: labels01}, true, 1,
			"has 2 columns, where most rows have 3"},
		{"missing index column", "n.tsv", "a\n", TaskFormat{Columns: map[string]string{"premise": "0", "hypothesis": "1"}}, true, 1, "missing column 1 (hypothesis)"},
		{"csv text after a closing quote", "q.csv", "q,label\n\"say\" hi,1\n", TaskFormat{Header: true, SkipBadRows: true, Columns: map[string]string{"text": "q", "label": "label"}, Labels: labels01}, true, 2,
			"csv syntax error"},
		{"csv unterminated quote", "q.csv", "q,label\n\"open,1\n", TaskFormat{Header: true, Columns: map[string]string{"text": "q"}}, true, 2, "csv syntax error"},
		{"csv quote open to the end", "c7.csv", "sentence,label\nok,0\n\"unterminated,1\n" + strings.Repeat("row,0\n", 50), sst2Format, true, 3,
			`c7.csv:3: csv syntax error in the row that starts here: extraneous or missing " in quoted-field, found at line 53, column`},
		{"csv quote closed rows later", "c.csv", "sentence,label\n\"two\nlines\"x,1\nok,0\n", sst2Format, true, 2, "found at line 3, column 6"},
		{"jsonl missing field", "d.jsonl", "{\"t\":\"a\",\"y\":1}\n{\"y\":1}\n", TaskFormat{Columns: map[string]string{"text": "t", "label": "y"}}, true, 2, `missing field "t" (text)`},
		{"jsonl joined field null", "d.jsonl", "{\"a\":\"x\",\"b\":null,\"y\":1}\n", TaskFormat{Columns: map[string]string{"text": "a+b", "label": "y"}}, true, 1, `missing field "b" of field "a+b" (text)`},
		{"jsonl option joined field absent", "d.jsonl", "{\"q\":\"x\",\"o\":\"a\",\"y\":0}\n", TaskFormat{Columns: map[string]string{"context": "q", "option0": "o", "option1": "o+p", "label": "y"}}, true, 1, `missing field "p" of field "o+p" (option1)`},
		{"jsonl bad json", "d.jsonl", "{\"t\":\"a\"\n", TaskFormat{Columns: map[string]string{"text": "t"}}, true, 1, "invalid json line"},
		{"jsonl line an array", "d.jsonl", "{\"t\":\"a\"}\n[\"b\"]\n", TaskFormat{Columns: map[string]string{"text": "t"}}, true, 2,
			"invalid json line: an array where an object is wanted (want one object per line)"},
		{"jsonl two objects", "d.jsonl", "{\"t\":\"a\"} {\"t\":\"b\"}\n", TaskFormat{Columns: map[string]string{"text": "t"}}, true, 1, "more after the object"},
		{"jsonl array field", "d.jsonl", "{\"t\":[\"a\"]}\n", TaskFormat{Columns: map[string]string{"text": "t"}}, true, 1, `field "t" is a list of 1, want a string or number (name one element: t.0)`},
		{"jsonl object field", "d.jsonl", "{\"q\":{\"stem\":\"a\"}}\n", TaskFormat{Columns: map[string]string{"text": "q"}}, true, 1, `field "q" is an object, want a string or number (name one of its fields: q.NAME)`},
		{"jsonl path past list", "d.jsonl", "{\"o\":[\"a\",\"b\"],\"t\":\"c\"}\n", TaskFormat{Columns: map[string]string{"context": "t", "option0": "o.0", "option1": "o.2"}}, true, 1,
			`missing field "o.2" (option1)`},
		{"jsonl fewer options than the columns", "d.jsonl", "{\"q\":\"x\",\"o\":[\"a\",\"b\"],\"y\":0}\n", TaskFormat{Columns: map[string]string{"context": "q", "option0": "o.0", "option1": "o.1", "option2": "o.2", "label": "y"}}, true, 1,
			`missing field "o.2" (option2) (for rows with fewer options, set min_options)`},
		{"jsonl path through a string", "d.jsonl", "{\"t\":\"c\"}\n", TaskFormat{Columns: map[string]string{"text": "t.0"}}, true, 1, `missing field "t.0" (text)`},
		{"json array", "d.json", "\n[\n  {\"t\": \"a\"}\n]\n", TaskFormat{SkipBadRows: true, Columns: map[string]string{"text": "t"}}, true, 2, "the file is a JSON array; a task file in JSONL holds one JSON object per line"},
		{"jsonl array on one line", "d.jsonl", `[{"t": "a"}, {"t": "b"}]` + "\n", TaskFormat{Columns: map[string]string{"text": "t"}}, true, 1, "jq -c"},
		{"jsonl missing label", "d.jsonl", "{\"t\":\"a\"}\n", TaskFormat{Columns: map[string]string{"text": "t", "label": "y"}}, true, 1, `missing label in field "y"`},
		{"option gap", "arc.tsv", "q\ta\tb\t\td\tA\n", arcTSV, true, 1, "has option3 but not option2 before it"},
		{"label past the row's options", "arc.tsv", "q\ta\tb\tc\t\tD\n", arcTSV, true, 1, `label "D" names option3, but the row has 3 options`},
		{"required option empty", "arc.jsonl", `{"q": "why", "c": [{"t": "a"}], "k": "A"}` + "\n", arcJSONL, true, 1, `missing field "c.1.t" (option1)`},
		{"header only", "t.tsv", "sentence\tlabel\n\n", sst2Format, true, 0, "t.tsv: no examples"},
		// CR line endings (an old Mac file) are one line to a reader of
		// lines: refused whole, with the conversion, not as a bad header.
		{"cr line ends tsv", "cr.tsv", "sentence\tlabel\rfine\t1\rbad\t0\r", TaskFormat{SkipBadRows: true, Header: true, Columns: sst2Format.Columns, Labels: labels01}, true, 0,
			`cr.tsv: the file has CR line endings (as an old Mac file has), which are not row ends here: convert them to LF, e.g. tr '\r' '\n' < FILE > NEW`},
		{"cr line ends csv", "cr.csv", "\ufeffsentence,label\rfine,1\r", sst2Format, true, 0, "the file has CR line endings"},
		{"cr line ends jsonl", "cr.jsonl", `{"t": "a"}` + "\r" + `{"t": "b"}` + "\r", TaskFormat{Columns: map[string]string{"text": "t"}}, false, 0, "the file has CR line endings"},
		{"cr line ends headerless", "cr.tsv", "a\t1\rb\t0", TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: labels01}, true, 0, "the file has CR line endings"},
		// A CR inside a line of a file with LF line ends is a row end to
		// other readers: refused, not read as text that joins two rows
		// (a one-column file had no other sign of it).
		{"stray cr tsv", "p.tsv", "text\none\rtwo\nthree\n", TaskFormat{SkipBadRows: true, Header: true, Columns: map[string]string{"text": "text"}}, false, 2,
			"p.tsv:2: a carriage return (CR) inside the line, not before its line feed"},
		{"stray cr csv", "p.csv", "text,label\r\nok,1\r\none\rtwo,0\r\n", TaskFormat{Header: true, Columns: map[string]string{"text": "text", "label": "label"}, Labels: labels01}, true, 3,
			"a carriage return (CR) inside the line"},
		{"stray cr csv on a record's second line", "p.csv", "text,n\n\"two\nlines\",1\rx\n", TaskFormat{Header: true, Columns: map[string]string{"text": "text"}}, false, 3,
			"p.csv:3: a carriage return (CR) inside the line"},
		{"stray cr csv bare quote", "p.csv", "text\nsay \"hi\"\rthere\n", TaskFormat{Header: true, Columns: map[string]string{"text": "text"}}, false, 2,
			"a carriage return (CR) inside the line"},
		// Predict (no label read) takes a row that lacks trailing cells it
		// does not read, but not one that lacks an input or has one too many.
		{"predict short row lacks an input", "p.tsv", "id\tsentence\tlabel\n1\n", TaskFormat{Header: true, Columns: sst2Format.Columns}, false, 2,
			"has 1 columns, the header has 3"},
		{"predict long row", "p.tsv", "id\tsentence\tlabel\n1\ta\t0\tx\n", TaskFormat{Header: true, Columns: sst2Format.Columns}, false, 2,
			"has 4 columns, the header has 3"},
		{"eval short row lacks the label", "p.tsv", "id\tsentence\tlabel\n1\ta\n", TaskFormat{Header: true, Columns: sst2Format.Columns, Labels: labels01}, true, 2,
			"has 2 columns, the header has 3"},
		{"all rows bad", "t.tsv", "sentence\tlabel\na\tx\n", TaskFormat{Header: true, SkipBadRows: true, Columns: sst2Format.Columns, Labels: labels01}, true, 0,
			"no examples: all 1 rows were bad, the first: t.tsv:2: label"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseTaskFile([]byte(c.content), c.path, c.f, c.need)
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("got %v (%T), %+v; want a *RowError", err, err, d)
			}
			if re.Line != c.line || re.Path != c.path || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q (line %d)\nwant it at line %d to contain %q", err, re.Line, c.line, c.want)
			}
		})
	}
}

func TestTaskFormatValidate(t *testing.T) {
	cases := []struct {
		f    TaskFormat
		want string
	}{
		{TaskFormat{Format: "xlsx", Columns: map[string]string{"text": "a"}}, `format "xlsx" is not tsv, csv or jsonl`},
		{TaskFormat{Columns: map[string]string{"txt": "a"}}, `unknown role "txt" (did you mean text? want one of text, premise,`},
		{TaskFormat{Columns: map[string]string{"text": "a", "lable": "b"}}, `unknown role "lable" (did you mean label? want`},
		{TaskFormat{Columns: map[string]string{"text": "a", "sentence": "b"}}, `unknown role "sentence" (want one of`},
		{TaskFormat{Columns: map[string]string{"label": "a"}}, "no input role"},
		{TaskFormat{Columns: map[string]string{"text": "a", "label": "b", "score": "c"}}, "not both"},
		{TaskFormat{Columns: map[string]string{"option0": "a", "option2": "b"}}, "no gap"},
		{TaskFormat{Columns: map[string]string{"option0": "a"}}, "columns: multiple choice needs at least option0 and option1"},
		{TaskFormat{Columns: map[string]string{"option0": "a", "option1": "b", "score": "c"}}, "does not go with options"},
		{TaskFormat{Columns: map[string]string{"text": "a"}, Labels: []string{"0"}}, "labels: given but columns has no label: name the label column in columns (label: NAME) or leave labels out"},
		{TaskFormat{Columns: map[string]string{"option0": "a", "option1": "b", "label": "c"}, Labels: []string{"a", "b", "c"}}, "3 values for 2 options"},
		{TaskFormat{Columns: map[string]string{"text": "a", "label": "b"}, Labels: []string{"x", "x"}}, `"x" appears twice`},
		{TaskFormat{Columns: map[string]string{"text": "a", "label": "b"}, Labels: []string{"pos ", "neg"}}, `labels: "pos " has spaces around it, which cells are read without: write "pos"`},
		{TaskFormat{Columns: map[string]string{"text": "a", "label": "b"}, Labels: []string{"", "x"}}, `labels: "" is blank`},
		{TaskFormat{Columns: map[string]string{"text": "a", "label": "b"}, Labels: []string{" ", "x"}}, `labels: " " is blank`},
		{TaskFormat{Format: "tsv", Columns: map[string]string{"text": "sentence"}},
			`columns: text: "sentence" is not a 0-based index (header is false; set header: true if the first row names the columns)`},
		{TaskFormat{Format: "csv", Columns: map[string]string{"premise": "p", "hypothesis": "h", "label": "2"}},
			`columns: hypothesis: "h", premise: "p" are not 0-based indexes (header is false; set header: true if the first row names the columns)`},
		{TaskFormat{Columns: map[string]string{"text": " "}}, "empty column name"},
		{TaskFormat{MinOptions: 1, Columns: map[string]string{"option0": "a", "option1": "b"}}, "min_options 1 is not in [2, 2]"},
		{TaskFormat{MinOptions: 2, Columns: map[string]string{"text": "a"}},
			"min_options 2 applies only to multiple choice, whose options are the option0..optionN columns: leave it out"},
		{TaskFormat{MinOptions: 5, Columns: map[string]string{"context": "c", "option0": "a", "option1": "b"}}, "min_options 5 is not in [2, 2]"},
	}
	for _, c := range cases {
		err := c.f.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.f, err, c.want)
		}
	}
	for _, f := range []TaskFormat{sst2Format, rteFormat, stsbFormat, clozeFormat, arcTSV, arcJSONL} {
		if err := f.Validate(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if _, err := ParseTaskFile([]byte("a\n"), "data.txt", TaskFormat{Columns: map[string]string{"text": "0"}}, true); err == nil ||
		!strings.Contains(err.Error(), "cannot tell the format") {
		t.Errorf("unknown extension: %v", err)
	}
	if _, err := ReadTaskFile(filepath.Join(t.TempDir(), "none.tsv"), sst2Format, true); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadTaskFileSkipBadRows(t *testing.T) {
	f := sst2Format
	f.SkipBadRows = true
	d, err := ParseTaskFile([]byte("sentence\tlabel\ngood\t1\nbad\tx\ntab\tbed\t0\nfine\t0\n"), "t.tsv", f, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := exampleLines(d.Examples); !reflect.DeepEqual(got, []int{2, 5}) || d.Skipped != 2 || len(d.Skips) != 2 || d.Skips[1].Line != 4 {
		t.Errorf("lines %v, skipped %d, skips %v", got, d.Skipped, d.Skips)
	}
}

func FuzzReadTaskFile(f *testing.F) {
	f.Add([]byte("sentence\tlabel\nfine\t1\n\"q\"\t0\r\n"), uint8(0), true, false, true)
	f.Add([]byte("a,b,c,1\n\"x,\"\"y\"\"\",b,c,2\n"), uint8(1), false, false, true)
	f.Add([]byte("{\"t\":\"a\",\"o0\":\"x\",\"o1\":2,\"y\":1}\n{\"t\":null}\n"), uint8(2), false, true, false)
	f.Add([]byte("\ufeffs\tx\n\n\t\n"), uint8(3), true, true, true)
	formats := []TaskFormat{
		{Format: "tsv", Columns: map[string]string{"text": "sentence", "label": "label"}, Labels: []string{"0", "1"}},
		{Format: "csv", LabelBase: 1, Columns: map[string]string{"context": "0+1", "option0": "1", "option1": "2", "label": "3"}},
		{Format: "jsonl", Columns: map[string]string{"text": "t", "option0": "o0", "option1": "o1", "label": "y"}},
		{Format: "tsv", Columns: map[string]string{"a": "s", "b": "x+s", "score": "1"}},
	}
	f.Fuzz(func(t *testing.T, b []byte, kind uint8, header, skip, need bool) {
		tf := formats[int(kind)%len(formats)]
		tf.Header, tf.SkipBadRows = header, skip
		d, err := ParseTaskFile(b, "fuzz", tf, need)
		if err != nil {
			return
		}
		nOpt := tf.numOptions()
		for k, e := range d.Examples {
			if e.Line < 1 || k > 0 && e.Line <= d.Examples[k-1].Line || len(e.Options) != nOpt ||
				e.Label < 0 || nOpt > 0 && e.Label >= nOpt || need && !e.HasLabel {
				t.Fatalf("bad example %d: %+v", k, e)
			}
		}
	})
}

// TestParseScore: a score is a plain decimal number that fits in float32,
// the type it is trained on; anything else is a bad row.
func TestParseScore(t *testing.T) {
	for v, want := range map[string]float64{"5": 5, "-2.5": -2.5, "+.5": 0.5, "3.": 3, "1e3": 1000, "-2E-3": -0.002, "3.4e38": 3.4e38, "1e-50": 1e-50} {
		if got, msg := parseScore(v, "column 2"); msg != "" || got != want {
			t.Errorf("score %q = %v, %q; want %v", v, got, msg, want)
		}
	}
	for v, want := range map[string]string{"1e39": "out of range", "-1e300": "out of range", "1e400": "out of range",
		"1_000": "not a number", "0x1p2": "not a number", "Inf": "not a number", "nan": "not a number", "1e": "not a number", ".": "not a number", "1.2.3": "not a number"} {
		if _, msg := parseScore(v, "column 2"); !strings.Contains(msg, want) {
			t.Errorf("score %q: %q, want it %s", v, msg, want)
		}
	}
	_, err := ParseTaskFile([]byte("sentence1\tsentence2\tscore\na\tb\t1\nc\td\t1e39\n"), "s.tsv", stsbFormat, true)
	var re *RowError
	if !errors.As(err, &re) || re.Line != 3 || re.Column != "score" || !strings.Contains(err.Error(), `s.tsv:3: score "1e39" in column "score" is out of range`) {
		t.Errorf("a score beyond float32: %v (%+v)", err, re)
	}
}

// TestReadTaskFileUnlabeled: prediction (needLabel false) reads every row
// whose inputs are fine, whatever its label or score column holds, and
// without that column; eval (needLabel true) refuses the same rows.
func TestReadTaskFileUnlabeled(t *testing.T) {
	jsonl := TaskFormat{Columns: map[string]string{"text": "t", "label": "y"}, Labels: []string{"0", "1"}}
	for _, c := range []struct {
		path, content string
		f             TaskFormat
		rows          int
	}{
		{"d.jsonl", `{"t": "a", "y": 1.0}` + "\n" + `{"t": "b", "y": true}` + "\n" + `{"t": "c", "y": [1]}` + "\n" + `{"t": "d", "y": {"v": 1}}` + "\n", jsonl, 4},
		{"s.tsv", "sentence1\tsentence2\tscore\na\tb\tnan\nc\td\t1e39\ne\tf\t0x1p2\n", stsbFormat, 3},
		{"t.tsv", "sentence\tlabel\tlabel\na\t2\t0\n", sst2Format, 1},
		{"n.csv", "a,maybe\nb,\n", TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"0", "1"}}, 2},
	} {
		d, err := ParseTaskFile([]byte(c.content), c.path, c.f, false)
		if err != nil || len(d.Examples) != c.rows || d.Skipped != 0 {
			t.Errorf("%s: %v, %+v; want %d examples", c.path, err, d, c.rows)
			continue
		}
		for _, ex := range d.Examples {
			if ex.HasLabel || ex.Label != 0 || ex.Score != 0 {
				t.Errorf("%s: %+v has a target", c.path, ex)
			}
		}
		if _, err := ParseTaskFile([]byte(c.content), c.path, c.f, true); err == nil {
			t.Errorf("%s: read with labels needed, want an error", c.path)
		}
	}
}

// TestReadTaskFileBlankInput: a blank input is a missing one, except that a
// multiple-choice row needs only one of context and question; and options
// (up to min_options, where it is set) must not be blank.
func TestReadTaskFileBlankInput(t *testing.T) {
	mc := TaskFormat{Header: true, Columns: map[string]string{"context": "c1+c2", "question": "q", "option0": "o0", "option1": "o1", "label": "y"}}
	for _, c := range []struct {
		name, path, content string
		f                   TaskFormat
		need                bool
		line                int
		want                string // "" : read fine
	}{
		{"blank text", "t.tsv", "sentence\tlabel\nok\t1\n \t1\n", sst2Format, true, 3, `t.tsv:3: missing column "sentence" (text): it is blank`},
		{"blank text, read for predictions", "t.tsv", "sentence\tlabel\n\t1\n", sst2Format, false, 0, ""},
		// A row whose cells are all blank is a row, not a blank line.
		{"blank row", "t.tsv", "sentence\tlabel\nok\t1\n\t\n", sst2Format, true, 3, `t.tsv:3: missing column "sentence" (text): it is blank`},
		{"blank row, read for predictions", "t.tsv", "sentence\tlabel\n\t\n", sst2Format, false, 0, ""},
		{"quoted empty field of a one-column csv, read for predictions", "o.csv", "sentence\n\n\"\"\n", sst2Format, false, 0, ""},
		{"blank csv row, read for predictions", "r.csv", "sentence1,sentence2,label\n\"\",,\n", rteFormat, false, 0, ""},
		{"whitespace line, read for predictions", "t.tsv", "sentence\tlabel\n  \nok\t\n", sst2Format, false, 0, ""},
		{"blank hypothesis", "r.csv", "sentence1,sentence2,label\na,\"\",0\n", rteFormat, true, 2, `missing column "sentence2" (hypothesis): it is blank`},
		{"blank premise jsonl", "r.jsonl", `{"p": " ", "h": "b", "y": 0}` + "\n", TaskFormat{Columns: map[string]string{"premise": "p", "hypothesis": "h", "label": "y"}, Labels: []string{"0", "1"}}, true, 1,
			`missing field "p" (premise): it is blank`},
		{"blank premise jsonl, read for predictions", "r.jsonl", `{"p": " ", "h": "b"}` + "\n", TaskFormat{Columns: map[string]string{"premise": "p", "hypothesis": "h", "label": "y"}, Labels: []string{"0", "1"}}, false, 0, ""},
		{"blank a", "s.tsv", "sentence1\tsentence2\tscore\n\tb\t1\n", stsbFormat, true, 2, `missing column "sentence1" (a): it is blank`},
		{"blank joined context, no question", "c.csv", "c1,c2,o0,o1,y\n, ,x,y,1\n", TaskFormat{Header: true, LabelBase: 1,
			Columns: map[string]string{"context": "c1+c2", "option0": "o0", "option1": "o1", "label": "y"}}, true, 2, `missing column "c1+c2" (context): it is blank`},
		{"blank context and question", "c.csv", "c1,c2,q,o0,o1,y\n,, ,x,y,1\n", mc, true, 2,
			`missing column "c1+c2" (context): it is blank, and so is column "q" (question)`},
		{"blank context, a question", "c.csv", "c1,c2,q,o0,o1,y\n,,why?,x,y,1\n", mc, true, 0, ""},
		{"a context, blank question", "c.csv", "c1,c2,q,o0,o1,y\nonce,,,x,y,1\n", mc, true, 0, ""},
		{"blank required option", "arc.tsv", "why\tx\t \tz\t\tB\n", arcTSV, true, 1, `missing column 2 (option1): it is blank, and min_options is 2`},
		{"blank required option jsonl", "arc.jsonl", `{"q": "why", "c": [{"t": ""}, {"t": "y"}], "k": "B"}` + "\n", arcJSONL, true, 1,
			`missing field "c.0.t" (option0): it is blank, and min_options is 2`},
		{"blank option, min_options 0", "c.csv", "c1,c2,q,o0,o1,y\nonce,,,x, ,1\n", mc, true, 2, `missing column "o1" (option1): it is blank`},
		{"blank option, min_options 0, read for predictions", "c.csv", "c1,c2,q,o0,o1\nonce,,,x, \n", mc, false, 0, ""},
		{"blank required option, read for predictions", "arc.jsonl", `{"q": "why", "c": [{"t": ""}, {"t": "y"}]}` + "\n", arcJSONL, false, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseTaskFile([]byte(c.content), c.path, c.f, c.need)
			if c.want == "" {
				if err != nil || len(d.Examples) != 1 {
					t.Errorf("%v, %+v; want one example", err, d)
				}
				return
			}
			var re *RowError
			if !errors.As(err, &re) || re.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, %+v; want a RowError at line %d with %q", err, d, c.line, c.want)
			}
		})
	}
}

// Skipping bad rows in a headerless file skips the row whose width is not
// most rows', also when it is the first.
func TestHeaderlessSkipsOddFirstRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.tsv")
	os.WriteFile(path, []byte("0\t1\tred cat\t\n1\t0\tblue dog\n2\t1\tgreen cow\n3\t0\tgrey owl\n"), 0o644)
	f := TaskFormat{SkipBadRows: true, Columns: map[string]string{"text": "2", "label": "1"}, Labels: []string{"0", "1"}}
	d, err := ReadTaskFile(path, f, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 3 || d.Skipped != 1 || d.Skips[0].Line != 1 || d.Examples[0].Fields["text"] != "blue dog" {
		t.Errorf("%d examples, %d skipped (%v); want 3, and line 1 skipped", len(d.Examples), d.Skipped, d.Skips)
	}
}

// A UTF-16 task file (Windows tools write it) is refused with what it is
// and how to convert it, not read as text with NULs between the letters;
// so is one without a byte order mark, and UTF-32.
func TestTaskFileRefusesUTF16(t *testing.T) {
	dir := t.TempDir()
	f := TaskFormat{Columns: map[string]string{"text": "0", "label": "1"}, Labels: []string{"0", "1"}}
	for _, enc := range wideEncodings {
		for _, name := range []string{"u.csv", "u.tsv"} {
			path := filepath.Join(dir, name)
			os.WriteFile(path, enc.encode("good film,1\r\nbad film,0\r\n"), 0o644)
			for _, need := range []bool{true, false} {
				_, err := ReadTaskFile(path, f, need)
				if err == nil || !strings.Contains(err.Error(), path+": is "+enc.says) || !strings.Contains(err.Error(), "iconv") {
					t.Errorf("%s in %s (labels needed %v): %v, want it refused as %s", name, enc.name, need, err, enc.says)
				}
			}
		}
		if _, err := JSONLText(string(enc.encode(`{"text": "hi"}`)), "c.jsonl", 1); err == nil || !strings.Contains(err.Error(), "c.jsonl is "+enc.says) {
			t.Errorf("a .jsonl corpus in %s: %v, want it refused as %s", enc.name, err, enc.says)
		}
	}
}

// wideEncodings are the encodings of text a Windows tool may write, which
// gptctl refuses (with a byte order mark, or without one), and what the
// message calls each.
var wideEncodings = []struct {
	name, says string
	encode     func(string) []byte
}{
	{"UTF-16 with a byte order mark", "UTF-16LE (it begins with that byte order mark); gptctl reads UTF-8: convert it, e.g. with iconv -f UTF-16 -t UTF-8",
		func(s string) []byte { return wide(s, []byte{0xFF, 0xFE}, 2, false) }},
	{"UTF-16BE with a byte order mark", "UTF-16BE (it begins with that byte order mark); gptctl reads UTF-8: convert it, e.g. with iconv -f UTF-16 -t UTF-8",
		func(s string) []byte { return wide(s, []byte{0xFE, 0xFF}, 2, true) }},
	{"UTF-32 with a byte order mark", "UTF-32LE (it begins with that byte order mark); gptctl reads UTF-8: convert it, e.g. with iconv -f UTF-32 -t UTF-8",
		func(s string) []byte { return wide(s, []byte{0xFF, 0xFE, 0, 0}, 4, false) }},
	{"UTF-32BE with a byte order mark", "UTF-32BE (it begins with that byte order mark); gptctl reads UTF-8: convert it, e.g. with iconv -f UTF-32 -t UTF-8",
		func(s string) []byte { return wide(s, []byte{0, 0, 0xFE, 0xFF}, 4, true) }},
	{"UTF-16LE", "UTF-16LE without a byte order mark", func(s string) []byte { return wide(s, nil, 2, false) }},
	{"UTF-16BE", "UTF-16BE without a byte order mark", func(s string) []byte { return wide(s, nil, 2, true) }},
	{"UTF-32LE", "UTF-32LE without a byte order mark", func(s string) []byte { return wide(s, nil, 4, false) }},
}

// wide encodes s, whose characters are below U+0100, in size bytes a
// character, after prefix, big-endian or not.
func wide(s string, prefix []byte, size int, big bool) []byte {
	b := slices.Clone(prefix)
	for _, r := range s {
		c := make([]byte, size)
		c[0] = byte(r)
		if big {
			slices.Reverse(c)
		}
		b = append(b, c...)
	}
	return b
}

// UTF-8 text, of any script, is none of them; nor is text too short to
// tell, or NULs alone.
func TestWideEncodingOfUTF8(t *testing.T) {
	lowIDs := make([]byte, 0, 64) // little-endian uint32 ids of a byte tokenizer, as tokenizer encode --binary writes them
	for _, c := range "Hello, world" {
		lowIDs = append(lowIDs, byte(c), 0, 0, 0)
	}
	for _, s := range []string{"good film,1\n", "中文 テキスト 123\n", "a\x00", "a\x00b", "\x00\x00\x00\x00\x00\x00\x00\x00", "caf\u00e9 \u00e9t\u00e9\n", "ab\x00\x00cd",
		strings.Repeat("\x00", 63) + "text after a zero-filled head"} {
		if enc := wideEncoding([]byte(s)); enc != "" {
			t.Errorf("%q: %s, want UTF-8", s, enc)
		}
	}
	// Text of a few characters past U+00FF (curly quotes, the euro sign)
	// among Latin ones is found; uint32 ids below 256 look as UTF-32 does.
	for _, c := range []struct{ s, want string }{
		{"\u201cHello\u201d, she said, \u201cit costs 5\u20ac.\u201d", "UTF-16LE"},
		{string(lowIDs), "UTF-32LE"},
	} {
		b := []byte(c.s)
		if c.want == "UTF-16LE" {
			b = nil
			for _, r := range c.s {
				b = append(b, byte(r), byte(r>>8))
			}
		}
		if enc := wideEncoding(b); enc != c.want {
			t.Errorf("%q: %q, want %s", c.s, enc, c.want)
		}
	}
}

// In JSONL an absent or null field is missing, and a missing input is as bad
// as a blank one: a multiple-choice row with a question and a null (or
// absent) context is as good as one whose context is "".
func TestChoiceNullContextIsBlank(t *testing.T) {
	f := TaskFormat{Columns: map[string]string{"context": "passage", "question": "q",
		"option0": "o.0", "option1": "o.1", "label": "y"}}
	b := []byte(`{"passage": "", "q": "why?", "o": ["a", "b"], "y": 1}
{"passage": null, "q": "why?", "o": ["a", "b"], "y": 0}
{"q": "why?", "o": ["a", "b"], "y": 0}
`)
	td, err := ParseTaskFile(b, "x.jsonl", f, true)
	if err != nil || len(td.Examples) != 3 {
		t.Fatalf("got %v, %v; want 3 examples", td, err)
	}
	// Both missing is still a bad row.
	if _, err := ParseTaskFile([]byte(`{"o": ["a", "b"], "y": 0}`+"\n"), "x.jsonl", f, true); err == nil {
		t.Error("a row with neither context nor question was read")
	}
}

// A context or question column that no row has is misnamed, not blank in
// every row.
func TestChoiceMisnamedContextColumn(t *testing.T) {
	f := TaskFormat{Columns: map[string]string{"context": "pasage", "question": "q",
		"option0": "o.0", "option1": "o.1", "label": "y"}}
	b := []byte(`{"passage": "long story", "q": "why?", "o": ["a", "b"], "y": 1}` + "\n")
	if _, err := ParseTaskFile(b, "x.jsonl", f, true); err == nil || !strings.Contains(err.Error(), `field "pasage" (context)`) {
		t.Errorf("a misnamed context column: %v", err)
	}
}

// A JSONL context (or question) joined from several keys takes the keys a
// row has: an absent or null one is as blank as "", so a row lacking one
// sentence keeps the other three, without a doubled space, and the join is
// blank only when every key is. Other roles still refuse a row that lacks
// one of their keys, and a key that no row has is misnamed.
func TestChoiceJoinedContextTakesPresentKeys(t *testing.T) {
	f := TaskFormat{Columns: map[string]string{"context": "s.0+s.1+s.2+s.3", "question": "q",
		"option0": "o.0", "option1": "o.1", "label": "y"}}
	b := []byte(`{"s": ["A.", "B.", "C.", "D."], "q": "?", "o": ["x", "y"], "y": 0}
{"s": ["A.", "B.", "C."], "q": "", "o": ["x", "y"], "y": 1}
{"s": ["A.", null, "C.", "D."], "q": "?", "o": ["x", "y"], "y": 0}
{"s": ["A.", "", "C.", "D."], "q": "?", "o": ["x", "y"], "y": 0}
{"s": [], "q": "?", "o": ["x", "y"], "y": 0}
`)
	td, err := ParseTaskFile(b, "x.jsonl", f, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ex := range td.Examples {
		got = append(got, ex.Fields["context"])
	}
	if want := []string{"A. B. C. D.", "A. B. C.", "A. C. D.", "A. C. D.", ""}; !slices.Equal(got, want) {
		t.Errorf("contexts %q, want %q", got, want)
	}
	for _, c := range []struct{ name, body, want string }{
		{"every key absent, blank question", `{"s": [null], "q": "", "o": ["x", "y"], "y": 0}` + "\n" + `{"s": ["A.", "B.", "C.", "D."], "q": "?", "o": ["x", "y"], "y": 0}`,
			`x.jsonl:1: missing field "s.0+s.1+s.2+s.3" (context): it is blank (each of its fields is blank, absent or null); field "q" (question): it is blank`},
		{"a key no row has", `{"s": ["A.", "B.", "C."], "q": "?", "o": ["x", "y"], "y": 0}`,
			`no row has field "s.3" of field "s.0+s.1+s.2+s.3" (context), absent or null in all of them`},
	} {
		if _, err := ParseTaskFile([]byte(c.body+"\n"), "x.jsonl", f, true); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Other roles: a row that lacks a joined key is a bad row.
	g := TaskFormat{Columns: map[string]string{"premise": "p.0+p.1", "hypothesis": "h", "label": "y"}, Labels: []string{"0", "1"}}
	if _, err := ParseTaskFile([]byte(`{"p": ["A."], "h": "B.", "y": "0"}`+"\n"), "x.jsonl", g, true); err == nil ||
		!strings.Contains(err.Error(), `missing field "p.1" of field "p.0+p.1" (premise)`) {
		t.Errorf("a premise lacking a joined key: %v", err)
	}
}

// A cell of a column the task reads that is not UTF-8 (a Latin-1 file) is
// a bad row naming its line, in every format and whether or not labels
// are read; one in a column it does not read is left alone. Skipped rows
// are counted.
func TestTaskFileNotUTF8(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		f             TaskFormat
		line          int
	}{
		{"a.tsv", "text\tlabel\tnote\ngood\t1\tcaf\xe9\ncaf\xe9 ok\t0\tx\nfine\t1\tx\n", TaskFormat{Header: true, Columns: map[string]string{"text": "text", "label": "label"}, Labels: []string{"0", "1"}}, 3},
		{"a.csv", "text,label\ngood,1\n\"caf\xe9, ok\",0\nfine,1\n", TaskFormat{Header: true, Columns: map[string]string{"text": "text", "label": "label"}, Labels: []string{"0", "1"}}, 3},
		{"a.jsonl", "{\"text\": \"good\", \"label\": 1}\n{\"text\": \"caf\xe9\", \"label\": 0}\n{\"text\": \"fine\", \"label\": 1}\n", TaskFormat{Columns: map[string]string{"text": "text", "label": "label"}, Labels: []string{"0", "1"}}, 2},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, needLabel := range []bool{true, false} {
			_, err := ReadTaskFile(path, c.f, needLabel)
			var re *RowError
			if !errors.As(err, &re) || re.Line != c.line || !strings.Contains(err.Error(), "is not valid UTF-8") {
				t.Errorf("%s (labels read: %v): %v, want a row error at line %d saying it is not UTF-8", c.name, needLabel, err, c.line)
			}
			f := c.f
			f.SkipBadRows = true
			td, err := ReadTaskFile(path, f, needLabel)
			if err != nil || td.Count != 2 || td.Skipped != 1 {
				t.Errorf("%s, skip_bad_rows: %+v, %v; want 2 rows read, 1 skipped", c.name, td, err)
			}
		}
	}
}

// Unreadable makes an input the model cannot read any of (a char
// vocabulary without its characters) as blank as an empty one: a bad row
// where labels are read, naming why; a row read for predictions keeps it.
// A context the model cannot read is enough when the question can be
// read; an unreadable option is a bad row too.
func TestTaskFileUnreadableInput(t *testing.T) {
	tok := NewCharTokenizer("abcdefgh .")
	dir := t.TempDir()
	cls := filepath.Join(dir, "c.tsv")
	os.WriteFile(cls, []byte("text\tlabel\nabc\t1\n日本語\t0\n 💡 🙂 \t1\nbad 日本\t0\n"), 0o644)
	f := TaskFormat{Header: true, Columns: map[string]string{"text": "text", "label": "label"}, Labels: []string{"0", "1"}, Unreadable: NoCharsKnown(tok)}
	_, err := ReadTaskFile(cls, f, true)
	if err == nil || !strings.HasPrefix(err.Error(), cls+":3: missing column \"text\" (text): none of its characters \"日本語\" is in the model's vocabulary (char, 10 tokens)") {
		t.Errorf("a text of unknown characters: %v", err)
	}
	f.SkipBadRows = true
	if td, err := ReadTaskFile(cls, f, true); err != nil || td.Count != 2 || td.Skipped != 2 {
		t.Errorf("skip_bad_rows: %+v, %v; want lines 2 and 5 read, 3 and 4 skipped", td, err)
	}
	f.SkipBadRows = false
	if td, err := ReadTaskFile(cls, f, false); err != nil || td.Count != 4 {
		t.Errorf("read for predictions: %+v, %v; want every row", td, err)
	}
	mc := filepath.Join(dir, "m.jsonl")
	os.WriteFile(mc, []byte(`{"c": "日本", "q": "abc", "o": ["a", "b"], "y": 0}`+"\n"+`{"c": "abc", "q": "", "o": ["a", "123"], "y": 0}`+"\n"), 0o644)
	mf := TaskFormat{Columns: map[string]string{"context": "c", "question": "q", "option0": "o.0", "option1": "o.1", "label": "y"}, Unreadable: NoCharsKnown(tok)}
	_, err = ReadTaskFile(mc, mf, true)
	if err == nil || !strings.HasPrefix(err.Error(), mc+":2: missing field \"o.1\" (option1): none of its characters \"123\" is in the model's vocabulary") {
		t.Errorf("an option of unknown characters: %v", err)
	}
	os.WriteFile(mc, []byte(`{"c": "日本", "q": " ", "o": ["a", "b"], "y": 0}`+"\n"), 0o644)
	_, err = ReadTaskFile(mc, mf, true)
	if err == nil || !strings.HasSuffix(err.Error(), `: missing field "c" (context): none of its characters "日本" is in the model's vocabulary (char, 10 tokens); field "q" (question): it is blank`) {
		t.Errorf("a context of unknown characters and a blank question: %v", err)
	}
	if NoCharsKnown(ByteTokenizer{}) != nil {
		t.Error("a byte tokenizer reads any text, yet has an Unreadable")
	}
}

// A mistake in the option roles is reported once, in one wording.
func TestTaskFormatOptionMistakeOnce(t *testing.T) {
	for _, c := range []struct {
		cols        map[string]string
		want, avoid string
	}{
		{map[string]string{"context": "c", "option0": "a", "label": "y"}, "multiple choice needs at least option0 and option1", "no gap"},
		{map[string]string{"context": "c", "option0": "a", "option2": "b", "label": "y"}, "options must be option0..optionN with no gap", "at least option0"},
		{map[string]string{"option1": "a", "option2": "b", "label": "y"}, "options must be option0..optionN with no gap", "no input role"},
	} {
		err := TaskFormat{MinOptions: 2, Columns: c.cols}.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.avoid) || strings.Contains(err.Error(), "min_options") {
			t.Errorf("%v: error %v, want %q alone", c.cols, err, c.want)
		}
	}
}

// A file read for predictions (no label) may lack the trailing cells of
// columns it does not read, such as a label column at the end; one read
// for training or eval may not.
func TestReadTaskFileUnlabeledShortRows(t *testing.T) {
	for _, c := range []struct {
		name, content string
		f             TaskFormat
		rows          int
	}{
		{"header.tsv", "id\tsentence\tlabel\n1\tgood\t1\n2\tbad\n", TaskFormat{Header: true, Columns: sst2Format.Columns, Labels: []string{"0", "1"}}, 2},
		{"header.csv", "id,sentence,label\n1,good\n2,bad,0\n", TaskFormat{Header: true, Columns: sst2Format.Columns, Labels: []string{"0", "1"}}, 2},
		{"headerless.tsv", "1\tgood\t1\n2\tbad\n3\tso so\t0\n", TaskFormat{Columns: map[string]string{"text": "1", "label": "2"}, Labels: []string{"0", "1"}}, 3},
	} {
		d, err := ParseTaskFile([]byte(c.content), c.name, c.f, false)
		if err != nil || d.Count != c.rows {
			t.Errorf("%s, read for predictions: %v, %+v", c.name, err, d)
		}
		if _, err := ParseTaskFile([]byte(c.content), c.name, c.f, true); err == nil || !strings.Contains(err.Error(), "has 2 columns") {
			t.Errorf("%s, read with labels: %v, want a row of 2 columns refused", c.name, err)
		}
	}
}

// A quote inside a CSV field that does not begin with one is text, as
// Python's csv module and pandas read it (Go's reader refuses it): rows
// keep their cells and lines, quoted fields around them included, CRLF
// too; a bad row among them is still named by its line.
func TestCSVQuoteInsideField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.csv")
	body := "label,text,note\r\n1,he said \"hi\" there,x\r\n0,\"two\r\nlines\",5\" tall\r\n1,\"a, \"\"b\"\"\",\r\n0,ok,y\r\n\r\n\n\"1\",\"x, y\",6\" long\r\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	f := TaskFormat{Header: true, Columns: map[string]string{"text": "text", "label": "label"}, Labels: []string{"0", "1"}}
	td, err := ReadTaskFile(path, f, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ex := range td.Examples {
		got = append(got, fmt.Sprintf("%d:%d:%s", ex.Line, ex.Label, ex.Fields["text"]))
	}
	want := []string{`2:1:he said "hi" there`, "3:0:two\nlines", `5:1:a, "b"`, "6:0:ok", "9:1:x, y"}
	if !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	f.Labels = []string{"0", "2"}
	if _, err := ReadTaskFile(path, f, true); err == nil || !strings.HasPrefix(err.Error(), path+":2: label \"1\"") {
		t.Errorf("an unknown label on the row with the quote: %v, want it named at line 2", err)
	}
}

// A CR inside a quoted CSV field is text, and a CRLF line end is a line
// end, and so is a CR that ends the file: none is a stray CR.
func TestCSVQuotedCRIsText(t *testing.T) {
	for _, name := range []string{"e.csv", "e.tsv"} {
		for _, body := range []string{"text\nfoo\r", "text\r\nfoo\r", "\n\ntext\n\nfoo\r"} {
			d, err := ParseTaskFile([]byte(body), name, TaskFormat{Header: true, Columns: map[string]string{"text": "text"}}, false)
			if err != nil || len(d.Examples) != 1 || d.Examples[0].Fields["text"] != "foo" {
				t.Errorf("%s %q: %v, %+v; want the one row foo", name, body, err, d)
			}
		}
	}
	f := TaskFormat{Header: true, Columns: map[string]string{"text": "text"}}
	d, err := ParseTaskFile([]byte("text\r\n\"one\rtwo\"\r\n\"a \"\"q\"\"\r\"\r\n"), "q.csv", f, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Examples) != 2 || d.Examples[0].Fields["text"] != "one\rtwo" || d.Examples[1].Fields["text"] != "a \"q\"\r" {
		t.Errorf("examples %+v, want the texts \"one\\rtwo\" and \"a \\\"q\\\"\\r\"", d.Examples)
	}
}
