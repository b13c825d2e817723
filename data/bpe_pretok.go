package data

import (
	"unicode"
	"unicode/utf8"
)

// GPT-2 pre-tokenisation.
//
// OpenAI GPT-2 and tiktoken split text into pieces with the regular expression
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// before running BPE on each piece. Go's regexp has no lookahead, so
// nextPiece implements the same leftmost-first alternation by hand. \s is the
// Unicode White_Space property (unicode.IsSpace), \p{L} is unicode.IsLetter and
// \p{N} is unicode.IsNumber. A byte that is not valid UTF-8 counts as "other"
// (neither letter, number nor space), so invalid input is split, encoded and
// decoded byte for byte like any symbol.

// Character classes of the splitter.
const (
	clsOther  = iota // [^\s\p{L}\p{N}], including invalid UTF-8 bytes
	clsLetter        // \p{L}
	clsNumber        // \p{N}
	clsSpace         // \s
)

// asciiClass holds the class of every ASCII byte.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for b := 0; b < utf8.RuneSelf; b++ {
		t[b] = runeClass(rune(b))
	}
	return t
}()

func runeClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// classAt returns the class of the character starting at s[i] and its width
// in bytes. i must be < len(s).
func classAt(s string, i int) (uint8, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && w == 1 {
		return clsOther, 1
	}
	return runeClass(r), w
}

// runEnd returns the end of the run of characters of class c that starts at i.
func runEnd(s string, i int, c uint8) int {
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if asciiClass[b] != c {
				return i
			}
			i++
			continue
		}
		cc, w := classAt(s, i)
		if cc != c {
			return i
		}
		i += w
	}
	return i
}

// contraction returns the length of the contraction ('s 't 're 've 'm 'll 'd)
// at s[i], which is an apostrophe, or 0. The GPT-2 pattern is case sensitive.
func contraction(s string, i int) int {
	if i+1 >= len(s) {
		return 0
	}
	switch s[i+1] {
	case 's', 't', 'm', 'd':
		return 2
	}
	if i+2 < len(s) {
		switch s[i+1 : i+3] {
		case "re", "ve", "ll":
			return 3
		}
	}
	return 0
}

// nextPiece returns the end of the GPT-2 pre-tokenisation piece that starts
// at s[i]. i must be < len(s); the result is > i.
func nextPiece(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s, i); n > 0 {
			return i + n
		}
	}
	c, w := classAt(s, i)
	if c != clsSpace {
		return runEnd(s, i+w, c)
	}
	// " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+": one ASCII space
	// followed by a run of one class.
	if s[i] == ' ' && i+1 < len(s) {
		if c1, w1 := classAt(s, i+1); c1 != clsSpace {
			return runEnd(s, i+1+w1, c1)
		}
	}
	// "\s+(?!\S)" then "\s+": a run of whitespace that reaches the end of the
	// text is one piece; otherwise the run gives up its last character (which
	// then starts the next piece), unless the run is that single character.
	last, j := i, i+w
	for j < len(s) {
		cc, ww := classAt(s, j)
		if cc != clsSpace {
			if last > i {
				return last
			}
			return j
		}
		last, j = j, j+ww
	}
	return j
}

// splitGPT2 calls fn with every GPT-2 pre-tokenisation piece of s in order.
func splitGPT2(s string, fn func(piece string)) {
	for i := 0; i < len(s); {
		j := nextPiece(s, i)
		fn(s[i:j])
		i = j
	}
}
