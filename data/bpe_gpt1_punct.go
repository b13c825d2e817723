package data

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// spaCy 2.0's prefix, suffix and infix rules (spacy/lang/punctuation.py and
// spacy/lang/char_classes.py), which English uses unchanged. Its letters
// are the Latin ones (small: Ll, capital: Lu) and the Bengali and Hebrew
// ones, which count as both; its symbols are Unicode's So (emoji, ©, °).

// gpt1Punct holds the characters that are a prefix and a suffix on their
// own: spaCy's punctuation and quotes.
const gpt1Punct = "…,:;!?¿¡()[]{}<>_#*&。？！，、；：～·।" + `'"”“` + "`‘´‚„»«「」『』（）〔〕【】《》〈〉"

// gpt1PrefixOnly holds the characters that are a prefix but not a suffix:
// § % = + and the currencies.
const gpt1PrefixOnly = "§%=+$£€¥฿"

// gpt1LongAffixes are the affixes of more than one character that spaCy
// matches before their first character alone: two backquotes are one
// prefix, two apostrophes two.
var gpt1LongAffixes = []string{"``", "’’", "US$", "C$", "A$"}

// gpt1Suffixes are the suffixes spaCy splits off any word, besides
// gpt1Punct, a symbol and two or more full stops.
var gpt1Suffixes = map[string]bool{"``": true, "''": true, "‘‘": true, "’’": true, "……": true,
	"'s": true, "'S": true, "’s": true, "’S": true}

// gpt1AfterDigit are the suffixes spaCy splits off only after a digit:
// "+", the currencies and the units.
var gpt1AfterDigit = gpt1Set("+ $ £ € ¥ ฿ US$ C$ A$ km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ " +
	"mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh mph hPa Pa mbar mb MB " +
	"kb KB gb GB tb TB T G M K %")

func gpt1Set(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

// gpt1DotAfter holds the characters, besides digits and small letters,
// after which spaCy splits a final full stop. The class is written with
// its quotes inside a regular-expression group, whose "(", "?", ":" and
// "|" it therefore holds too.
const gpt1DotAfter = "%²-)]+(?:|" + `'"”“` + "`‘´’‚,„»«「」『』（）〔〕【】《》〈〉"

func gpt1Script(r rune) bool {
	return unicode.In(r, unicode.Bengali, unicode.Hebrew) && unicode.IsLetter(r)
}

func gpt1Lower(r rune) bool {
	return unicode.IsLower(r) && unicode.Is(unicode.Latin, r) || gpt1Script(r)
}

func gpt1Upper(r rune) bool {
	return unicode.IsUpper(r) && unicode.Is(unicode.Latin, r) || gpt1Script(r)
}

func gpt1Alpha(r rune) bool { return gpt1Lower(r) || gpt1Upper(r) }

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// isASCIIWord reports whether b is an ASCII letter or digit, which starts
// no infix and no suffix but a unit or currency.
func isASCIIWord(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' || b >= '0' && b <= '9' }

// gpt1PrefixLen is the length of the prefix spaCy splits off w, 0 if none.
func gpt1PrefixLen(w string) int {
	if n := len(w) - len(strings.TrimLeft(w, ".")); n >= 2 {
		return n
	}
	for _, a := range gpt1LongAffixes {
		if strings.HasPrefix(w, a) {
			return len(a)
		}
	}
	r, n := utf8.DecodeRuneInString(w)
	if strings.ContainsRune(gpt1Punct, r) || strings.ContainsRune(gpt1PrefixOnly, r) || unicode.Is(unicode.So, r) {
		return n
	}
	return 0
}

// gpt1SuffixLen is the length of the suffix spaCy splits off w, 0 if none:
// as spaCy's regular-expression search, the one that starts first. Two or
// more full stops can start anywhere; every other suffix is at most four
// characters long.
func gpt1SuffixLen(w string) int {
	i := len(w)
	for k := 0; k < 4 && i > 0; k++ {
		_, n := utf8.DecodeLastRuneInString(w[:i])
		i -= n
	}
	if n := len(w) - len(strings.TrimRight(w, ".")); n >= 2 && len(w)-n <= i {
		return n
	}
	for i < len(w) {
		if gpt1SuffixAt(w[:i], w[i:]) {
			return len(w) - i
		}
		_, n := utf8.DecodeRuneInString(w[i:])
		i += n
	}
	return 0
}

// gpt1SuffixAt reports whether s, which follows before, is one of spaCy's
// suffixes.
func gpt1SuffixAt(before, s string) bool {
	if isASCIIWord(s[0]) { // only a unit or currency after a digit
		return before != "" && isDigit(rune(before[len(before)-1])) && gpt1AfterDigit[s]
	}
	r, n := utf8.DecodeRuneInString(s)
	if n == len(s) && (strings.ContainsRune(gpt1Punct, r) || unicode.Is(unicode.So, r)) ||
		gpt1Suffixes[s] || len(s) >= 2 && strings.Trim(s, ".") == "" {
		return true
	}
	p, m := utf8.DecodeLastRuneInString(before)
	if isDigit(p) && gpt1AfterDigit[s] {
		return true
	}
	if s != "." || before == "" {
		return false
	}
	q, _ := utf8.DecodeLastRuneInString(before[:len(before)-m])
	return isDigit(p) || gpt1Lower(p) || strings.ContainsRune(gpt1DotAfter, p) ||
		gpt1Upper(p) && gpt1Upper(q) || q == '°' && strings.ContainsRune("FfCcKk", p)
}

// gpt1Infixes splits w, a word with no prefix or suffix left, at spaCy's
// infixes and appends the parts to out. As in spaCy an infix right after
// another, or at the start, is not split off. The infixes are two or more
// full stops, a symbol, "^" between digits, "." between a small and a
// capital letter, and ":", "<", ">" or "=" between letters. spaCy's others
// (a hyphen, ",", "/" or a quote between letters, + - * between digits)
// hold characters text_standardize has put spaces around.
func gpt1Infixes(w string, out []string) []string {
	start := 0
	for i := 0; i < len(w); {
		n := gpt1InfixLen(w, i)
		if n == 0 {
			_, k := utf8.DecodeRuneInString(w[i:])
			i += k
			continue
		}
		if i != start {
			out = append(out, w[start:i], w[i:i+n])
			start = i + n
		}
		i += n
	}
	return append(out, w[start:])
}

// gpt1InfixLen is the length of the infix at w[i:], 0 if none.
func gpt1InfixLen(w string, i int) int {
	if isASCIIWord(w[i]) {
		return 0
	}
	if n := len(w[i:]) - len(strings.TrimLeft(w[i:], ".")); n >= 2 {
		return n
	}
	r, n := utf8.DecodeRuneInString(w[i:])
	if r == '…' || unicode.Is(unicode.So, r) {
		return n
	}
	p, _ := utf8.DecodeLastRuneInString(w[:i])
	q, _ := utf8.DecodeRuneInString(w[i+n:])
	switch {
	case r == '^' && isDigit(p) && (isDigit(q) || q == '-'),
		r == '.' && gpt1Lower(p) && gpt1Upper(q),
		strings.ContainsRune(":<>=", r) && (gpt1Alpha(p) || p == '"') && gpt1Alpha(q):
		return n
	}
	return 0
}
