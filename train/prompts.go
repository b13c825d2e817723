package train

// The text side of gptctl generate: a prompts file, and the stop strings
// that end a sample.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gptctl/data"
)

// Prompt is one line of a prompts file.
type Prompt struct {
	Line int             // 1-based
	ID   json.RawMessage // the line's "id", if any, given back in its samples
	Text string
}

// ReadPrompts reads a prompts file (name for errors): JSON lines, each an
// object with a string "prompt" (and any other keys, an "id" given back
// with the samples) or a JSON string; blank lines are skipped.
func ReadPrompts(b []byte, name string) ([]Prompt, error) {
	var ps []Prompt
	for i, line := range bytes.Split(data.TrimBOM(b), []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		p := Prompt{Line: i + 1}
		if !utf8.Valid(line) { // JSON decoding would turn the bytes into U+FFFD
			return nil, inputErrorf("%s:%d: the line is not valid UTF-8 (convert the file to UTF-8)", name, p.Line)
		}
		var obj map[string]json.RawMessage // keys matched exactly: Go's struct decoding would take "Prompt"
		switch {
		case line[0] == '"':
			if err := json.Unmarshal(line, &p.Text); err != nil {
				return nil, inputErrorf("%s:%d: %v", name, p.Line, jsonProblem(err))
			}
		case line[0] == '{':
			if err := json.Unmarshal(line, &obj); err != nil {
				return nil, inputErrorf("%s:%d: %v", name, p.Line, jsonProblem(err))
			}
			raw, ok := obj["prompt"]
			if !ok || string(raw) == "null" {
				return nil, inputErrorf("%s:%d: the object has no \"prompt\" string", name, p.Line)
			}
			if err := json.Unmarshal(raw, &p.Text); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) {
					return nil, inputErrorf("%s:%d: \"prompt\" is a JSON %s; it must be a string", name, p.Line, te.Value)
				}
				return nil, inputErrorf("%s:%d: %v", name, p.Line, jsonProblem(err))
			}
			p.ID = obj["id"]
		default:
			return nil, inputErrorf("%s:%d: a line is a JSON object {\"prompt\": \"...\"} or a JSON string, not %.40q", name, p.Line, line)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, inputErrorf("%s: no prompts (JSON lines {\"prompt\": \"...\"})", name)
	}
	return ps, nil
}

// jsonProblem says what is wrong with a prompts line that did not decode:
// a value of the wrong type by its key, else the decoder's message.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%q is a JSON %s; it must be a string", te.Field, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// stopScanner collects a sample's new text and finds the first stop string
// in it as tokens arrive. Text that may be the start of a stop string is
// held back until the next tokens show whether it is.
type stopScanner struct {
	stops   []string
	text    []byte // the new text so far, cut before a stop string once found
	emitted int    // bytes of text handed out to print
}

// add appends a token's text. It returns the text now safe to print and,
// if the text reached a stop string, that string: the one that completes
// first (the text then ends before it; of two that end at the same byte,
// the longer), however the tokens split the text.
func (s *stopScanner) add(piece string) (ready, stop string) {
	longest := 0
	for _, st := range s.stops {
		longest = max(longest, len(st))
	}
	// The text before piece holds no stop string, so one found now ends
	// in piece and starts at most longest-1 bytes before it.
	from := max(s.emitted, len(s.text)-longest+1)
	s.text = append(s.text, piece...)
	cut, end := -1, 0
	for _, st := range s.stops {
		i := bytes.Index(s.text[from:], []byte(st)) // its first end, too
		if i < 0 {
			continue
		}
		if e := from + i + len(st); cut < 0 || e < end || e == end && from+i < cut {
			cut, end, stop = from+i, e, st
		}
	}
	if cut >= 0 {
		s.text = s.text[:cut]
		return s.flush(), stop
	}
	hold := 0 // the longest end of the text that begins a stop string
	for _, st := range s.stops {
		for k := min(len(st)-1, len(s.text)-s.emitted); k > hold; k-- {
			if bytes.HasSuffix(s.text, []byte(st[:k])) {
				hold = k
				break
			}
		}
	}
	safe := len(s.text) - hold
	ready = string(s.text[s.emitted:safe])
	s.emitted = safe
	return ready, ""
}

// flush returns the text held back: at the end of a sample, all of it.
func (s *stopScanner) flush() string {
	ready := string(s.text[s.emitted:])
	s.emitted = len(s.text)
	return ready
}
