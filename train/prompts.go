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
// held back until the next tokens show whether it is, and so are the
// bytes of a character that a token splits. The text is UTF-8: bytes that
// are not become U+FFFD, one for each maximal subpart (as Python's
// decode(errors="replace") and so Hugging Face's decode make them), and the
// stop strings are looked for in it.
type stopScanner struct {
	stops   []string
	text    []byte // the new text so far, cut before a stop string once found
	emitted int    // bytes of text handed out to print
	part    [4]byte
	parts   int // part[:parts]: the start of a character the next token may complete
}

// add appends a token's text. It returns the text now safe to print and,
// if the text reached a stop string, that string: the one that completes
// first (the text then ends before it; of two that end at the same byte,
// the longer), however the tokens split the text.
func (s *stopScanner) add(piece string) (ready, stop string) {
	from := s.searchFrom()
	s.appendUTF8(piece)
	return s.scan(from)
}

// end ends the text: the start of a character left incomplete becomes
// U+FFFD, which may complete a stop string. It returns the rest of the
// text to print, and the stop string found.
func (s *stopScanner) end() (rest, stop string) {
	if s.parts == 0 {
		return s.flush(), ""
	}
	from := s.searchFrom()
	s.parts = 0
	s.text = utf8.AppendRune(s.text, utf8.RuneError)
	ready, stop := s.scan(from)
	return ready + s.flush(), stop
}

// searchFrom is where a stop string found after the next piece may start:
// the text so far holds none, so one found then ends in the new text and
// starts at most the longest stop string's length less one before it.
func (s *stopScanner) searchFrom() int {
	longest := 0
	for _, st := range s.stops {
		longest = max(longest, len(st))
	}
	return max(s.emitted, len(s.text)-longest+1)
}

// scan looks for the stop strings in the text from byte from on, cuts the
// text before the first found, and returns what is safe to print.
func (s *stopScanner) scan(from int) (ready, stop string) {
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
		s.text, s.parts = s.text[:cut], 0 // a split character follows the stop string
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

// appendUTF8 appends piece to the text, after the start of a character
// that the text ended with: whole characters as they are, U+FFFD for each
// maximal subpart of bytes that are not UTF-8, and the start of a
// character at piece's end kept in part for the next piece.
func (s *stopScanner) appendUTF8(piece string) {
	if s.parts > 0 {
		n := s.parts + copy(s.part[s.parts:], piece)
		k, size := utf8Prefix(s.part[:n])
		switch {
		case k == size: // the character is whole
			s.text = append(s.text, s.part[:size]...)
		case k == n: // piece is all of it, and it is not whole yet
			s.parts = n
			return
		default:
			s.text = utf8.AppendRune(s.text, utf8.RuneError)
		}
		piece, s.parts = piece[k-s.parts:], 0
	}
	for len(piece) > 0 {
		i := 0
		for i < len(piece) && piece[i] < utf8.RuneSelf {
			i++
		}
		s.text = append(s.text, piece[:i]...)
		piece = piece[i:]
		if len(piece) == 0 {
			return
		}
		r, size := utf8.DecodeRuneInString(piece)
		if r != utf8.RuneError || size > 1 {
			s.text = append(s.text, piece[:size]...)
			piece = piece[size:]
			continue
		}
		k, whole := utf8Prefix(piece)
		if k == len(piece) && k < whole { // a character the next piece may complete
			s.parts = copy(s.part[:], piece)
			return
		}
		s.text = utf8.AppendRune(s.text, utf8.RuneError)
		piece = piece[max(k, 1):]
	}
}

// utf8Prefix returns how many bytes at the start of b are the start of a
// well-formed UTF-8 character (Unicode's table 3-7), and how long that
// character is; 0, 0 where b[0] begins none.
func utf8Prefix[T string | []byte](b T) (k, size int) {
	lo, hi := byte(0x80), byte(0xbf) // the second byte's range
	switch c := b[0]; {
	case c < 0x80:
		return 1, 1
	case c < 0xc2 || c > 0xf4:
		return 0, 0
	case c < 0xe0:
		size = 2
	case c < 0xf0:
		size = 3
		if c == 0xe0 {
			lo = 0xa0
		} else if c == 0xed { // not a surrogate
			hi = 0x9f
		}
	default:
		size = 4
		if c == 0xf0 {
			lo = 0x90
		} else if c == 0xf4 { // not over U+10FFFF
			hi = 0x8f
		}
	}
	for k = 1; k < size && k < len(b) && lo <= b[k] && b[k] <= hi; k++ {
		lo, hi = 0x80, 0xbf
	}
	return k, size
}
