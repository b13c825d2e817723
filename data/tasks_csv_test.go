package data

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// csvRecords reads text with csvReader: its records and their lines.
func csvRecords(text string) (recs [][]string, lines []int, err error) {
	r := &csvReader{r: bufio.NewReaderSize(strings.NewReader(text), 16), path: "t.csv"}
	for {
		rec, err := r.read()
		if err == io.EOF {
			return recs, lines, nil
		}
		if err != nil {
			return recs, lines, err
		}
		recs, lines = append(recs, rec.cells), append(lines, rec.line)
	}
}

// TestCSVReadsAsPython reads the texts of testdata/csv_python.json (made
// by csv_python.py) and finds the records, and their lines, that Python's
// csv module finds in them, but for the documented differences: a CRLF in
// a quoted field reads as LF, and a text Python's strict mode refuses
// (text after a closing quote, a quote never closed) is refused. The
// reader's small buffer makes lines longer than it.
func TestCSVReadsAsPython(t *testing.T) {
	b, err := os.ReadFile("testdata/csv_python.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		In      string
		Records [][]string
		Lines   []int
		Refused bool
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		recs, lines, err := csvRecords(c.In)
		if c.Refused {
			var re *RowError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "csv syntax error") {
				t.Errorf("%q: %q, %v; want a csv syntax error", c.In, recs, err)
			}
			continue
		}
		for _, rec := range c.Records {
			for i := range rec {
				rec[i] = strings.ReplaceAll(rec[i], "\r\n", "\n")
			}
		}
		if err != nil || !reflect.DeepEqual(recs, c.Records) && len(recs)+len(c.Records) > 0 || !slices.Equal(lines, c.Lines) {
			t.Errorf("%q: %q at lines %v, %v; want %q at lines %v", c.In, recs, lines, err, c.Records, c.Lines)
		}
	}
}

// A quote inside a field that does not begin with one, then a quoted field
// holding a newline on the same row: the row is read whole, at its first
// line, and the rows after it keep their lines.
func TestCSVBareQuoteThenMultiline(t *testing.T) {
	f := TaskFormat{Header: true, Columns: map[string]string{"premise": "s1", "hypothesis": "s2", "label": "para"}, Labels: []string{"no", "yes"}}
	body := "id,s1,s2,para\n99,he said \"hi\",b,yes\n98,he said \"hi\",\"multi\nline\",yes\n5,x,y,no\n"
	d, err := ParseTaskFile([]byte(body), "c.csv", f, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ex := range d.Examples {
		got = append(got, fmt.Sprintf("%d|%s|%s", ex.Line, ex.Fields["premise"], ex.Fields["hypothesis"]))
	}
	if want := []string{`2|he said "hi"|b`, "3|he said \"hi\"|multi\nline", "5|x|y"}; !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}

// A CR inside a line, outside a quoted field, is refused at its line,
// after a bare quote too; inside a quoted field it is text.
func TestCSVStrayCRLine(t *testing.T) {
	for text, line := range map[string]int{"a,b\nc\rd,e\n": 2, "a,b\nx\"y\",z\rw\n": 2, "a,\"b\nc\"\r,d\n": 2, "a,\"b\nc\",d\re\n": 2} {
		var re *RowError
		if _, _, err := csvRecords(text); !errors.As(err, &re) || re.Line != line || !strings.Contains(err.Error(), "carriage return") {
			t.Errorf("%q: %v; want a stray CR at line %d", text, err, line)
		}
	}
}
