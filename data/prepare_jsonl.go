package data

// Corpus files as JSON lines: which files are read as one {"text": ...}
// document a line, the lines and their documents, and ReadCorpusFile, which
// reads any corpus file a piece at a time.

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
	"strings"
	"unicode/utf8"
)

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
