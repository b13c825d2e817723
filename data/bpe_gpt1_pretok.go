package data

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// GPT-1 pre-tokenisation.
//
// OpenAI's GPT-1 encoder (finetune-transformer-lm, text_utils.py) runs
// ftfy.fix_text, then text_standardize, then spaCy's English tokenizer, and
// lower-cases every spaCy token before BPE. gpt1Words reproduces
// text_standardize exactly and approximates the rest:
//
//   - ftfy 5: HTML entities are unescaped (gpt1Unescape), terminal escapes
//     removed, curly quotes and U+02BC straightened, "\r\n", "\r", U+2028,
//     U+2029 and U+0085 become "\n", full-width and half-width forms their
//     NFKC form (gpt1Width), Latin ligatures and digraphs (ﬁ, ĳ, ǆ ...) are
//     spelt out and the control characters ftfy removes are removed
//     (gpt1Control). No mojibake repair (fix_encoding) and no NFC
//     normalisation.
//   - spaCy 2.0 (bpe_gpt1_spacy.go, bpe_gpt1_punct.go): text is split on
//     whitespace ("\n" is a token of its own); each chunk is split as
//     spaCy's Tokenizer splits it: prefixes and suffixes come off until
//     none is left or what is left is one of spaCy's exceptions (gpt1Exc),
//     which gives the exception's words, and what remains is split at
//     spaCy's infixes. The prefixes, suffixes and infixes are spaCy 2.0's
//     (spacy/lang/punctuation.py, char_classes.py): quotes, brackets and
//     punctuation, symbols (So: emoji, ©, °), ellipses, § % = + and
//     currencies as prefixes; "'s", units and currencies after a digit,
//     and a final "." after a digit, a small letter, "%", a quote or two
//     capitals as suffixes (u.s. is u.s and ".", U.S. stays whole); "...",
//     a symbol, "." between a small and a capital letter, ":" "<" ">" "="
//     between letters and "^" between digits as infixes. The other
//     contractions ('ll, n't ...) split off only the words the exceptions
//     list ("john'll" stays whole). The exceptions are spaCy's English
//     ones and its emoticons: "cannot" is can not, "dont" do nt, "goin'",
//     "w.", "Mr.", "Calif.", "xD" and "<3" stay whole, and the GLUE-style
//     "it 's" gives "'s", not "'" and "s". Not reproduced: spaCy's URL
//     match (token_match), which keeps a chunk such as "ok.so...what" or
//     "site.com's" whole; its letters are those of its early 2.0 releases
//     (Latin, Bengali, Hebrew), later 2.0 releases adding Cyrillic, Greek
//     and others; and symbols are Unicode 15.0's So where spaCy's regex
//     module knew an older Unicode.

// gpt1Fix is the part of ftfy.fix_text that gpt1Words reproduces.
var gpt1Fix = strings.NewReplacer(
	"\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n",
	"\u02bc", "'", "\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'",
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u201f", `"`,
	// fix_latin_ligatures (ŉ is ʼn, whose ʼ uncurl_quotes then straightens)
	"Ĳ", "IJ", "ĳ", "ij", "ŉ", "'n", "Ǳ", "DZ", "ǲ", "Dz", "ǳ", "dz",
	"Ǆ", "DŽ", "ǅ", "Dž", "ǆ", "dž", "Ǉ", "LJ", "ǈ", "Lj", "ǉ", "lj",
	"Ǌ", "NJ", "ǋ", "Nj", "ǌ", "nj",
	"ﬀ", "ff", "ﬁ", "fi", "ﬂ", "fl", "ﬃ", "ffi", "ﬄ", "ffl", "ﬅ", "ſt", "ﬆ", "st",
)

// gpt1Control reports whether ftfy.fix_text removes r (remove_control_chars):
// the ASCII controls but the whitespace ones (tab, newline, form feed,
// carriage return), the deprecated Arabic format controls U+206A-U+206F,
// the interlinear annotation marks and object replacement U+FFF9-U+FFFC,
// the byte order mark, the musical format controls U+1D173-U+1D17A and the
// tag characters U+E0000-U+E007F.
func gpt1Control(r rune) bool {
	return r <= 0x08 || r == 0x0B || r >= 0x0E && r <= 0x1F || r == 0x7F ||
		r >= 0x206A && r <= 0x206F || r >= 0xFFF9 && r <= 0xFFFC || r == 0xFEFF ||
		r >= 0x1D173 && r <= 0x1D17A || r >= 0xE0000 && r <= 0xE007F
}

// gpt1Escapes removes the terminal escapes ftfy removes
// (remove_terminal_escapes: ESC [, digits or semicolons, a letter); an
// escape that the removal joins up is left, as in ftfy, for gpt1Control to
// take its ESC.
func gpt1Escapes(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 2
		for j < len(s) { // Python's \d: any decimal digit
			r, n := utf8.DecodeRuneInString(s[j:])
			if r != ';' && !unicode.Is(unicode.Nd, r) {
				break
			}
			j += n
		}
		if j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			b.WriteString(s[:i])
			s = s[j+1:]
			continue
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
	}
}

// gpt1Dashes is the replacement step of text_standardize.
var gpt1Dashes = strings.NewReplacer("—", "-", "–", "-", "―", "-", "…", "...", "´", "'")

// gpt1Spaced holds the characters text_standardize surrounds with spaces
// (runs of one of them stay together).
const gpt1Spaced = `-~!";?+,)(\/*[]}{|_`

// isPySpace is Python's str.isspace, which \s matches in text_standardize.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// gpt1Ftfy is the part of ftfy.fix_text gpt1Words reproduces, repeated
// until the text stops changing, as ftfy repeats its fixes: one can make an
// entity for the next round (＆amp； is &amp; after the full-width step,
// then &). Only an entity can make a further round change anything.
func gpt1Ftfy(s string) string {
	for {
		t := gpt1FixOnce(s)
		if t == s || !strings.Contains(t, "&") {
			return t
		}
		s = t
	}
}

// gpt1FixOnce is one round of gpt1Ftfy.
func gpt1FixOnce(s string) string {
	s = gpt1Fix.Replace(gpt1Escapes(gpt1Unescape(s)))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFF01 - '!'
		} else if w, ok := gpt1Width[r]; ok {
			b.WriteString(w)
			continue
		}
		if !gpt1Control(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// gpt1Standardize is ftfy (approximated, see above) then text_standardize.
func gpt1Standardize(s string) string {
	s = gpt1Dashes.Replace(gpt1Ftfy(s))
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	// re.sub(r'(-+|~+|...)', r' \1 ', text)
	for i := 0; i < len(s); {
		c := s[i]
		if strings.IndexByte(gpt1Spaced, c) < 0 {
			b.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == c {
			j++
		}
		b.WriteByte(' ')
		b.WriteString(s[i:j])
		b.WriteByte(' ')
		i = j
	}
	// re.sub(r'\s*\n\s*', ' \n ', text); re.sub(r'[^\S\n]+', ' ', text); strip
	s = b.String()
	b.Reset()
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !isPySpace(r) {
			b.WriteString(s[i : i+w])
			i += w
			continue
		}
		newline := false
		for ; i < len(s) && isPySpace(r); r, w = utf8.DecodeRuneInString(s[i:]) {
			newline = newline || r == '\n'
			i += w
		}
		if newline {
			b.WriteString(" \n ")
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimFunc(b.String(), isPySpace)
}

// gpt1Words returns the lower-cased words GPT-1 runs BPE on.
func gpt1Words(text string) []string {
	var words []string
	for _, chunk := range strings.Split(gpt1Standardize(text), " ") {
		if chunk == "" {
			continue
		}
		n := len(words)
		words = gpt1Affixes(chunk, words)
		for i := n; i < len(words); i++ {
			words[i] = pyLower(words[i]) // GPT-1 lower-cases spaCy's tokens
		}
	}
	return words
}

// pyLower lower-cases s as Python's str.lower, which GPT-1's tokenizer
// calls, does where it differs from strings.ToLower: a capital sigma that
// ends a word is the final ς (Unicode's Final_Sigma condition), and İ
// becomes i with a combining dot above.
func pyLower(s string) string {
	if !strings.ContainsAny(s, "Σİ") {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for i, r := range s {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at s[i] ends a word: a
// cased letter comes before it and none after it, case-ignorable
// characters (marks, apostrophes, full stops) skipped.
func finalSigma(s string, i int) bool {
	before, after := false, false
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		if !caseIgnorable(r) {
			before = isCased(r)
			break
		}
		j -= n
	}
	for j := i + len("Σ"); j < len(s); {
		r, n := utf8.DecodeRuneInString(s[j:])
		if !caseIgnorable(r) {
			after = isCased(r)
			break
		}
		j += n
	}
	return before && !after
}

func isCased(r rune) bool { return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) }

// caseIgnorable is Unicode's Case_Ignorable: marks, format characters,
// modifier letters and symbols, and the word-internal punctuation
// (apostrophes, full stops, colons, middle dots).
func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) ||
		strings.ContainsRune("'.:\u00b7\u0387\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a", r)
}
