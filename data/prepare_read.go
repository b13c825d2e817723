package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// prepUnit is one piece of text for Prepare: a chunk of a text file or one
// document (line) of a .jsonl file. Units are numbered in input order; that
// number alone decides whether a unit goes to the validation split.
type prepUnit struct {
	text string // the text, or the raw JSON line when jsonl is set
	val  bool
	eot  bool // a document ends after this unit
	// trainEOT: the document ends in train too, after its train text
	// before this unit (which, the last, went to val)
	trainEOT bool
	json     bool
	file     string
	line     int
}

// prepJob is a batch of units for one worker.
type prepJob struct {
	seq   int64
	units []prepUnit
	bytes int64
}

const prepJobBytes = 1 << 20

// InputError is a problem with the input a job was given (a path that does
// not exist, a pattern that matches nothing, a directory, a JSONL line that
// is not a document; in package train also a corpus or model directory that
// does not fit): the user's to fix, not a failure of the run.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// ExpandInputs resolves the glob patterns among inputs (a pattern that
// matches nothing is an error; a file of the pattern's own name is that
// file) and checks that every file exists and is not
// a directory. Its errors are *InputError.
func ExpandInputs(inputs []string) ([]string, error) {
	files, _, err := expandInputs(inputs)
	return files, err
}

// expandInputs is ExpandInputs, with the files' total size.
// A file named twice (by two patterns, or a pattern and its name) is read
// once: twice, its text would be trained on twice, and a share of it held
// out for validation in one copy would be trained on in the other.
func expandInputs(inputs []string) ([]string, int64, error) {
	var files []string
	var total int64
	seen := map[string]bool{}
	for _, in := range inputs {
		matches := []string{in}
		if _, err := os.Lstat(in); err != nil && strings.ContainsAny(in, "*?[") { // a name such as x[1].txt is itself first
			m, err := filepath.Glob(in)
			if err != nil {
				return nil, 0, &InputError{fmt.Errorf("input %q: bad pattern: %w", in, err)}
			}
			visible := slices.DeleteFunc(slices.Clone(m), func(f string) bool { return hiddenMatch(in, f) })
			if len(visible) == 0 {
				if len(m) > 0 {
					return nil, 0, &InputError{fmt.Errorf("input %q: only hidden files match (%s): a wildcard skips names that begin with '.', as the shell's does; begin the pattern's name with '.' to take them", in, m[0])}
				}
				return nil, 0, &InputError{fmt.Errorf("input %q: no files match", in)}
			}
			matches = visible
		}
		for _, f := range matches {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, 0, &InputError{fmt.Errorf("input: %w", err)}
			}
			if fi.IsDir() {
				return nil, 0, &InputError{fmt.Errorf("input %s is a directory (pass its files, e.g. %s)", f, filepath.Join(f, "*.txt"))}
			}
			id, err := fileID(f, fi)
			if err != nil {
				return nil, 0, &InputError{fmt.Errorf("input %s: %w", f, err)}
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			files = append(files, f)
			total += fi.Size()
		}
	}
	if len(files) == 0 {
		return nil, 0, &InputError{errors.New("no input files")}
	}
	return files, total, nil
}

// hiddenMatch reports whether the pattern's match f takes a hidden name
// (one that begins with '.': an editor's backup, macOS's ._ resource
// forks, a .git directory) by a wildcard, where the pattern's own part
// does not begin with '.': the shell's * and ? skip such names, and a
// corpus of *.txt is not meant to take ._notes.txt.
func hiddenMatch(pattern, f string) bool {
	sep := string(filepath.Separator)
	ps := strings.Split(filepath.Clean(pattern), sep)
	fs := strings.Split(filepath.Clean(f), sep)
	if len(ps) != len(fs) {
		return false
	}
	for i, p := range ps {
		dot := strings.HasPrefix(p, ".") || strings.HasPrefix(p, `\.`) // \. is an escaped '.'
		if strings.ContainsAny(p, "*?[") && !dot && strings.HasPrefix(fs[i], ".") {
			return true
		}
	}
	return false
}

// unitBytes is the size of the text-file units: small enough that a corpus
// of total bytes gets about eight units in its smaller split (val, or
// train at a fraction above one half), between 256 bytes and 1 MiB (so
// that a small corpus gets near its share too).
func unitBytes(total int64, valFraction float64) int {
	if !(valFraction > 0) {
		return 1 << 20
	}
	return int(min(max(float64(total)*min(valFraction, 1-valFraction)/8, 256), 1<<20))
}

// sizesKnown reports whether every file's size is known before it is
// read: a regular file's, not a pipe's or a device's.
func sizesKnown(files []string) bool {
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// prepReader cuts the input files into units and batches them into jobs.
type prepReader struct {
	valFraction float64
	unitSize    int
	cuts        Cuts  // where the tokenizer's text may be cut
	bytes, val  int64 // bytes of the units so far, and of those for validation
	pieces      int64 // units so far
	largest     int64 // bytes of the largest unit
	growing     bool  // the inputs' size is unknown: units grow with the bytes read (unit)
	docTrains   bool  // a unit of the document being read went to train
	seq         int64
	job         prepJob
	send        func(prepJob) error
}

// isVal reports whether the next unit, of n bytes, is a validation unit:
// a chunk of a text file (of about the unit size, shorter where a file
// ends) or a whole document (a .jsonl line, of any length).
//
// A unit is taken when its middle byte falls in the middle f of a period
// of the input's bytes (the unit size over the smaller share, about eight
// periods in a corpus): its length does not change its chance, so the
// validation units are a sample of the units, long and short alike, and a
// share f of the bytes on average. Units more than twice the unit size
// (runs without a cut point) and the units of an input of unknown size go
// by the running share instead (below). Two rules that did not hold: one that
// kept the share so far just below f, with half the unit counted in, took
// short units far more readily than long ones (61% of .jsonl documents of
// 100 bytes against 7% of those of 1,900 at 0.1; in a corpus of books, the
// short last chunks of the files made 75% of the validation bytes), and
// counting units instead of bytes gave a text cut into alternately long
// and short pieces 12.5% for 10%.
func (r *prepReader) isVal(n int) bool {
	f, size := r.valFraction, int64(n)
	mid := float64(r.bytes) + float64(size)/2
	r.bytes += size
	if !(f > 0) {
		return false
	}
	var val bool
	if r.growing || n > 2*r.unitSize {
		// A unit far longer than the others (text without cut points), or
		// any where the input's size is unknown: taken while the share so
		// far, with half the unit counted in, stays below f. A long unit
		// in a window would be most of the split (93% of it at 0.1).
		val = float64(r.val)+float64(size)/2 < f*float64(r.bytes)
	} else {
		period := float64(max(r.unitSize, 1)) / min(f, 1-f)
		x := math.Mod(mid, period) // a window in the middle: a corpus of one unit trains
		val = x >= (1-f)*period/2 && x < (1+f)*period/2
	}
	if val {
		r.val += size
	}
	return val
}

// unit is the size of the next text units: the unit size, or, where the
// inputs' size is unknown (a pipe), the one unitBytes gives the bytes read
// so far, growing with them: a small piped corpus gets small units and a
// validation split, a large one large units.
func (r *prepReader) unit() int {
	if r.growing {
		return unitBytes(r.bytes, r.valFraction)
	}
	return r.unitSize
}

func (r *prepReader) add(u prepUnit) error {
	u.val = r.isVal(len(u.text))
	r.pieces, r.largest = r.pieces+1, max(r.largest, int64(len(u.text)))
	if !u.val {
		r.docTrains = true
	}
	if u.eot {
		// A document whose last unit is val ends in train too, where its
		// train text ends: the next document's does not run into it.
		u.trainEOT, r.docTrains = u.val && r.docTrains, false
	}
	r.job.units = append(r.job.units, u)
	r.job.bytes += int64(len(u.text))
	if r.job.bytes >= prepJobBytes {
		return r.flush()
	}
	return nil
}

func (r *prepReader) flush() error {
	if len(r.job.units) == 0 {
		return nil
	}
	r.job.seq = r.seq
	r.seq++
	job := r.job
	r.job = prepJob{}
	return r.send(job)
}

// readFile adds the units of one input file.
func (r *prepReader) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &InputError{fmt.Errorf("input: %w", err)}
	}
	defer f.Close()
	jsonl, err := CorpusJSONL(f, path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return &InputError{fmt.Errorf("input: %w", err)}
	}
	size := int64(-1) // unknown: a pipe, or a file of the kernel's that says 0
	if fi.Mode().IsRegular() && fi.Size() > 0 {
		size = fi.Size()
	}
	return r.readFrom(f, size, path, jsonl)
}

// readFrom adds the units of one input, read from f, which holds size bytes
// (-1: unknown) of text or, if jsonl, JSON lines; an input that turns out to hold another number of bytes
// changed while it was read (a file still being written, or truncated) and
// is refused.
func (r *prepReader) readFrom(f io.Reader, size int64, path string, jsonl bool) error {
	cr := &countingReader{r: f}
	var err error
	if jsonl {
		err = r.readJSONL(cr, path)
	} else {
		err = r.readText(cr, path)
	}
	var ie *InputError
	switch {
	case errors.As(err, &ie): // names the file and line itself
		return err
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	if size >= 0 && cr.n != size {
		return &InputError{fmt.Errorf("input %s changed while it was read (%d bytes when opened, %d read): prepare it again once it is complete", path, size, cr.n)}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readText adds a text file, one document, as units of about unitSize.
// It reads chunks of at least 4 KiB (ReadChunks cuts them where
// tokenization does not change, where it can), and cuts chunks into smaller
// units only at such points.
func (r *prepReader) readText(f io.Reader, path string) error {
	var prev *prepUnit
	read := max(r.unitSize, 4<<10)
	if r.growing {
		read = 1 << 20 // room for the largest unit
	}
	err := ReadChunks(f, read, r.cuts, func(chunk string) error {
		for len(chunk) > 0 {
			n := nextUnit(chunk, r.unit(), r.cuts) // a growing unit's size as of the bytes so far
			if prev != nil {
				if err := r.add(*prev); err != nil {
					return err
				}
			}
			prev, chunk = &prepUnit{text: chunk[:n], file: path}, chunk[n:]
		}
		return nil
	})
	if err != nil || prev == nil {
		return err
	}
	prev.eot = true
	return r.add(*prev)
}

// nextUnit is the length of the first piece of about size bytes that s is
// cut into, only where cuts allows: with no such point before size, the
// piece runs on to the next one.
func nextUnit(s string, size int, cuts Cuts) int {
	if len(s) <= size {
		return len(s)
	}
	p := cuts.Last(s, size)
	if p < size/2 { // none near size: the first one after it
		p = 0
		for q := size + 1; q < len(s)-1; q++ {
			if cuts.At(s, q) {
				p = q
				break
			}
		}
		if p == 0 {
			return len(s)
		}
	}
	return p
}

// readJSONL adds every non-blank line of a .jsonl file as a document,
// decoded later by the encoding workers.
func (r *prepReader) readJSONL(f io.Reader, path string) error {
	return jsonlLines(f, path, func(s string, line int) error {
		return r.add(prepUnit{text: s, json: true, eot: true, file: path, line: line})
	})
}

// jsonlLines calls fn with every non-blank line of a .jsonl stream (path,
// for errors) and its 1-based number; a byte order mark before the first
// is dropped. A long line that does not begin with '{' is refused before
// it is read: a .jsonl name on a minified JSON array or a text file would
// be read whole, a line of gigabytes, only to be refused at its first byte.
func jsonlLines(f io.Reader, path string, fn func(s string, line int) error) error {
	br := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		if err := jsonlLineStart(br, path, line); err != nil {
			return err
		}
		s, err := br.ReadString('\n')
		if line == 1 {
			s = string(TrimBOM([]byte(s)))
		}
		if strings.TrimSpace(s) != "" {
			if err := fn(s, line); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// jsonlLineStart looks at the start of the next line in br and refuses
// one longer than 64 KiB whose first byte past spaces and a byte order
// mark is not '{' (a shorter one gets JSONLText's account of what it is).
func jsonlLineStart(br *bufio.Reader, path string, line int) error {
	const look = 64 << 10
	head, _ := br.Peek(look)
	rest := head
	if line == 1 {
		rest = TrimBOM(rest)
	}
	rest = bytes.TrimLeft(rest, " \t\r\f\v")
	switch {
	case len(head) < look || bytes.IndexByte(head, '\n') >= 0:
		return nil
	case len(rest) == 0 || rest[0] == '{':
		return nil
	case WideNote(head) != "" && line == 1:
		return &InputError{fmt.Errorf("%s %s", path, WideNote(head))}
	case rest[0] == '[':
		return &InputError{fmt.Errorf("%s:%d: want a JSON object {\"text\": ...}: the line begins a JSON array; a .jsonl corpus holds one object a line (write each element on a line of its own, e.g. jq -c '.[]' FILE)", path, line)}
	case rest[0] == '"':
		return &InputError{fmt.Errorf("%s:%d: want a JSON object {\"text\": ...}: the line begins a JSON string (write each document as {\"text\": STRING})", path, line)}
	}
	r, _ := utf8.DecodeRune(rest)
	return &InputError{fmt.Errorf("%s:%d: want a JSON object {\"text\": ...}: the line begins with %q (a text file is read as text under another name than .jsonl)", path, line, r)}
}

// JSONLText returns the document of one line of a .jsonl corpus, the
// string in {"text": ...}; other fields are ignored. A line that is not such
// an object is an *InputError naming file and line.
func JSONLText(line, file string, n int) (string, error) {
	if note := WideNote([]byte(line)); n == 1 && note != "" {
		return "", &InputError{fmt.Errorf("%s %s", file, note)}
	}
	if !utf8.ValidString(line) { // JSON is UTF-8: the decoder would put U+FFFD for the bytes
		return "", &InputError{fmt.Errorf("%s:%d: the line is not valid UTF-8, as JSON must be (a text file of other bytes can be read with tokenizer byte)", file, n)}
	}
	// The key "text" exactly, as JSON readers elsewhere take it (a struct
	// field would also match "Text" or "TEXT", the last of them winning).
	var fields map[string]json.RawMessage
	err := json.Unmarshal([]byte(line), &fields)
	var msg string
	var te *json.UnmarshalTypeError
	switch raw, ok := fields["text"]; {
	case errors.As(err, &te) || err == nil && fields == nil: // an array, a string, a number, null
		msg = "the line is JSON null"
		if te != nil {
			msg = fmt.Sprintf("the line is a JSON %s", te.Value)
		}
	case err != nil:
		msg = strings.TrimPrefix(err.Error(), "json: ")
	case !ok:
		msg = "no \"text\" field"
	default:
		var text *string
		err := json.Unmarshal(raw, &text)
		switch {
		case err == nil && text != nil:
			return *text, nil
		case errors.As(err, &te):
			msg = fmt.Sprintf("\"text\" holds %s, not a string", article(te.Value))
		default:
			msg = "\"text\" is null, not a string"
		}
	}
	return "", &InputError{fmt.Errorf("%s:%d: want a JSON object {\"text\": ...}: %s", file, n, msg)}
}

// article puts "a" or "an" before a JSON type's name.
func article(name string) string {
	if name != "" && strings.ContainsRune("aeiou", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// jsonSniffMax bounds how much of a .json file is read to find its first
// line.
const jsonSniffMax = 64 << 20

// CorpusJSONL checks that the open corpus file f at path holds text (see
// CheckText) and reports whether it is read as JSON lines of documents, one
// {"text": ...} a line: a .jsonl file, or a .json file whose first non-blank
// line is an object with the key "text", as the JSON lines that dataset
// tools' to_json write under that name (a "text" that is not a string is
// then an error naming the line). Any other .json file is text (the files of a code
// corpus), except a JSON array of {"text": ...} objects, which is refused
// with the way to convert it. A .json stream that cannot be read twice (a
// pipe) is text.
func CorpusJSONL(f *os.File, path string) (bool, error) {
	if err := CheckText(f, path); err != nil {
		return false, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl":
		return true, nil
	case ".json":
		return sniffJSON(f, path)
	}
	return false, nil
}

// sniffJSON is CorpusJSONL for a .json file.
func sniffJSON(f *os.File, path string) (bool, error) {
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	br := bufio.NewReader(io.LimitReader(io.NewSectionReader(f, 0, math.MaxInt64), jsonSniffMax))
	var first []byte
	var read int
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		read += len(b)
		if line == 1 {
			b = TrimBOM(b)
		}
		if first = bytes.TrimSpace(b); len(first) > 0 || err != nil {
			if err == io.EOF && read >= jsonSniffMax && len(first) > 0 && first[0] == '{' {
				// A first line longer than jsonSniffMax (a long document):
				// JSON lines if its start is an object whose "text" is a string.
				return textKeyFirst(first), nil
			}
			if err != nil && err != io.EOF {
				return false, nil
			}
			break
		}
	}
	switch {
	case len(first) == 0:
		return false, nil
	case first[0] == '{':
		var fields map[string]json.RawMessage
		if json.Unmarshal(first, &fields) != nil {
			return false, nil // an object over several lines, or not JSON
		}
		_, ok := fields["text"] // JSON lines; a "text" that is no string is named with its line
		return ok, nil
	case first[0] == '[':
		var head [3]byte
		n, _ := f.ReadAt(head[:], 0)
		off := int64(len(head[:n]) - len(TrimBOM(head[:n])))
		dec := json.NewDecoder(io.NewSectionReader(f, off, math.MaxInt64))
		var elem map[string]json.RawMessage
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') || dec.Decode(&elem) != nil {
			return false, nil
		}
		if text := elem["text"]; len(text) > 0 && text[0] == '"' {
			return false, &InputError{fmt.Errorf("%s is a JSON array of {\"text\": ...} objects: a corpus takes them as JSON lines, one object a line, in a .jsonl file (to_json(..., lines=True) of a dataset library writes them)", path)}
		}
	}
	return false, nil
}

// textKeyFirst reports whether b, the start of a JSON object, has the key
// "text" before b ends.
func textKeyFirst(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		if key == "text" {
			return true
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// ReadCorpusFile reads a corpus file a piece at a time: fn gets every
// document of a JSON lines file ({"text": ...}, see CorpusJSONL) whole, and
// any other file (without a leading byte order mark) in chunks of about 1
// MiB cut where cuts allows (ReadChunks), so that tokenizing the chunks one
// by one gives the ids of the whole. doc says that a piece begins a
// document.
func ReadCorpusFile(path string, cuts Cuts, fn func(text string, doc bool) error) error {
	f, jsonl, err := openCorpusFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if jsonl {
		return JSONLDocuments(f, path, func(doc string) error { return fn(doc, true) })
	}
	first := true
	return ReadChunks(f, 1<<20, cuts, func(chunk string) error {
		doc := first
		first = false
		return fn(chunk, doc)
	})
}

// openCorpusFile opens the corpus file at path and reports whether it is
// read as JSON lines (CorpusJSONL); the file is closed on error.
func openCorpusFile(path string) (*os.File, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	jsonl, err := CorpusJSONL(f, path)
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, jsonl, nil
}

// JSONLDocuments calls fn with each document of the JSON lines f holds
// (path names it in errors).
func JSONLDocuments(f io.Reader, path string, fn func(doc string) error) error {
	var docErr error // the last error of a line or of fn, returned as it is
	err := jsonlLines(f, path, func(s string, line int) error {
		doc, err := JSONLText(s, path, line)
		if err == nil {
			err = fn(doc)
		}
		docErr = err
		return err
	})
	var ie *InputError
	if err != nil && err != docErr && !errors.As(err, &ie) { // an InputError names file and line
		return fmt.Errorf("read %s: %w", path, err)
	}
	return err
}
