package data

import (
	"unicode"
	"unicode/utf8"
)

// Cuts says where a text may be cut into parts that a tokenizer encodes,
// one after the other, to the ids of the whole: where corpora are read in
// chunks and data prepare splits them into units encoded apart.
type Cuts uint8

const (
	// SpaceCuts are the ' ' between two ASCII characters that are not
	// whitespace, nor the '&' and ';' that open and close an HTML entity:
	// GPT-2's pre-tokenizer ends a piece before such a space and starts
	// one at it, and GPT-1's splits words there. GPT-1's takes no other:
	// it drops the whitespace at either end of a text, so a part that began
	// with a newline (or an entity of one, &#10;) would lose that token.
	SpaceCuts Cuts = iota
	// WhitespaceCuts are the whitespace characters (any: '\r', U+3000 too)
	// after a character that is not whitespace: GPT-2's pre-tokenizer (the
	// byte-level BPEs) ends a piece there, since none but a whitespace run
	// holds whitespace after its start, and the pieces from there on depend
	// only on the text that follows (its pattern looks ahead, never back).
	// So lines of single words and text without spaces (Chinese, Japanese),
	// with LF or CRLF line ends, can be cut too.
	WhitespaceCuts
	// CharCuts are every character boundary: char and byte tokenizers.
	CharCuts
)

// CutsOf is where tok's text may be cut.
func CutsOf(tok Tokenizer) Cuts {
	switch tok.(type) {
	case *CharTokenizer, ByteTokenizer, *ByteTokenizer:
		return CharCuts
	case *BPE:
		return WhitespaceCuts
	}
	return SpaceCuts
}

// At reports whether s may be cut before s[p].
func (c Cuts) At(s string, p int) bool {
	if p <= 0 || p >= len(s) {
		return false
	}
	switch c {
	case CharCuts:
		return utf8.RuneStart(s[p])
	case WhitespaceCuts:
		c, _ := classAt(s, p) // a character cut off by the end of s is not whitespace
		return c == clsSpace && classBefore(s, p) != clsSpace
	}
	return p+1 < len(s) && s[p] == ' ' && isCutByte(s[p-1]) && isCutByte(s[p+1]) && s[p-1] != ';' && s[p+1] != '&' && !endsEscape(s[:p])
}

// endsEscape reports whether s may end in a terminal escape (ESC [, digits
// or semicolons, a letter), which GPT-1's cleanup removes, so that the
// text before it ends the part, maybe in a newline it would drop. A digit
// run too long to look through counts as one.
func endsEscape(s string) bool {
	i := len(s) - 1
	if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return false
	}
	for lo := max(i-4096, 0); i > lo; {
		r, w := utf8.DecodeLastRuneInString(s[:i])
		if r != ';' && !unicode.Is(unicode.Nd, r) {
			return r == '[' && i >= 2 && s[i-2] == 0x1b
		}
		i -= w
	}
	return i > 0
}

// Last returns the largest p in (0, limit] at which s may be cut, or 0 when
// there is none.
func (c Cuts) Last(s string, limit int) int {
	for p := min(limit, len(s)-1); p >= 1; p-- {
		if c.At(s, p) {
			return p
		}
	}
	return 0
}

// isCutByte reports whether b is an ASCII character that is not whitespace,
// nor DEL, which GPT-1's cleanup removes.
func isCutByte(b byte) bool { return b > ' ' && b < 0x7f }

// classBefore is the splitter's class of the character that ends at s[p-1]
// (an invalid byte is clsOther, as classAt has it).
func classBefore(s string, p int) uint8 {
	r, w := utf8.DecodeLastRuneInString(s[:p])
	if r == utf8.RuneError && w <= 1 {
		return clsOther
	}
	return runeClass(r)
}
