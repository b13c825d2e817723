package data

import (
	"slices"
	"strings"
	"testing"
)

// The ids GPT-1's own encoder gives: the words spaCy 2.x makes of the text
// (in the comments), each run through the original bpe() and
// encoder_bpe_40000.json. The vocabulary agrees: it holds gon</w>, ta</w>,
// nt</w>, w.</w>, goin'</w> and ....</w> but not cannot</w>, gonna</w>,
// gotta</w>, dont</w> or whats</w>.
func TestGPT1BPESpacyExceptions(t *testing.T) {
	tok := gpt1Vocab(t)
	tests := []struct {
		in   string
		want []int
	}{
		// i can not go . can not !
		{"I cannot go. Cannot!", []int{249, 759, 595, 799, 239, 759, 595, 267}},
		// we 're gon na win , you got ta see
		{"We're gonna win, you gotta see", []int{606, 761, 2113, 1599, 3285, 240, 512, 886, 2338, 788}},
		// i do nt know , we ca nt . what s up
		{"I dont know, we cant. Whats up", []int{249, 587, 3414, 699, 240, 606, 993, 3414, 239, 599, 252, 609}},
		// y' all at 3 pm
		{"y'all at 3pm", []int{16096, 589, 491, 281, 10458}},
		// cannot , id and lets: spaCy's exceptions are case-sensitive and
		// lets is not one
		{"CANNOT, ID and lets", []int{2274, 595, 240, 539, 488, 3531}},
		// george w. bush , plan b.
		{"George W. Bush, plan b.", []int{3878, 23906, 7272, 240, 2236, 11512}},
		// he was goin' home , nothin' more , ol' man
		{"He was goin' home, nothin' more, ol' man", []int{487, 509, 10384, 1163, 240, 13153, 725, 240, 17370, 762}},
		// wait .... ok .. fine ... and
		{"wait.... ok.. fine ...and", []int{1637, 3101, 773, 2756, 1614, 749, 488}},
	}
	for _, tt := range tests {
		if got := tok.Encode(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// spaCy keeps the abbreviations its English exceptions list whole, in the
// cases listed, and splits the full stop off any other word that ends in a
// small letter or two capitals. The vocabulary agrees: it holds may.</w>,
// miss.</w>, mt.</w> and mrs.</w> but not etc.</w>, prof.</w> or sr.</w>.
func TestGPT1BPESpacyAbbrevs(t *testing.T) {
	tok := gpt1Vocab(t)
	tests := []struct {
		in   string
		want []int
	}{
		// he left calif. in jan. for mass. , then wash.
		{"He left Calif. in Jan. for Mass., then Wash.", []int{487, 999, 5139, 22305, 500, 3968, 239, 562, 12155, 239, 240, 674, 5861, 239}},
		// may. miss. id. ill.
		{"May. Miss. Id. Ill.", []int{30249, 26933, 2053, 239, 4386, 239}},
		// prof . lee , sr . and lt . col . hay etc .
		{"Prof. Lee, Sr. and Lt. Col. Hay etc.", []int{1264, 498, 239, 4205, 240, 28708, 239, 488, 23229, 239, 12066, 239, 11844, 16826, 239}},
		// mr . dr. mr . etc . calif . : only the listed case stays whole
		{"mr. Dr. MR. ETC. calif.", []int{4360, 239, 2863, 4360, 239, 16826, 239, 926, 645, 239}},
	}
	for _, tt := range tests {
		if got := tok.Encode(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// spaCy 2.0's prefix, suffix and infix rules and its emoticons, each
// tokenization derived by hand from spacy/lang/punctuation.py and
// char_classes.py and Tokenizer._split_affixes and _attach_tokens.
func TestGPT1WordsSpacyRules(t *testing.T) {
	tests := []struct{ in, want string }{
		// A final "." goes after a digit, a small letter, "%" or a quote,
		// after two capitals, or after °C; not after one capital or a
		// capital that follows a "." or a small letter.
		{"u.s. a.k.a. U.S. U.S.A. e.g. E.G. Ph.D.", "u.s . a.k.a . u.s. u.s.a. e.g. e.g. ph.d."},
		{"USA. PhD. I. 3. 5%. ok'. 25°C.", "usa . phd. i. 3 . 5 % . ok ' . 25 ° c ."},
		// Only "'s" is a suffix: the other contractions split only from the
		// words spaCy lists, in lower or title case.
		{"john'll John's JOHN'S they'll DON'T isn't Mary'd We're cats' it's.", "john'll john 's john 's they 'll don't is n't mary'd we 're cats ' it 's ."},
		{"'it's'", "' it 's '"},
		// Infixes: two or more full stops, a symbol, "." between a small and
		// a capital letter, ":" "<" ">" "=" between letters, "^" between
		// digits; infix parts are not matched against the exceptions.
		{"hello...world end.Start end.start a:b x=y a<b 2^3 hello...don't", "hello ... world end . start end.start a : b x = y a < b 2 ^ 3 hello ... don't"},
		{"i\U0001F499you \u00a92018 Microsoft\u00ae hi:P", "i \U0001F499 you \u00a9 2018 microsoft \u00ae hi : p"},
		// An infix right after another stays on the next part.
		{"a...\U0001F600b", "a ... \U0001F600b"},
		// Units and currencies are suffixes after a digit; § = ¿ $ prefixes.
		{"100% 5km 10kmh 128GB abc% $5 5$ US$5 \u00a73 =x x= \u00bfqu\u00e9 1980s", "100 % 5 km 10 kmh 128 gb abc% $ 5 5 $ us$ 5 \u00a7 3 = x x= \u00bf qu\u00e9 1980s"},
		// The quotes: "''" and "``" are one suffix, a prefix "''" two.
		{"''hi'' ``hi''", "' ' hi '' `` hi ''"},
		// Emoticons are exceptions.
		{"xD :P <3 o.O 8D :3", "xd :p <3 o.o 8d :3"},
	}
	for _, tt := range tests {
		if got := strings.Join(gpt1Words(tt.in), " "); got != tt.want {
			t.Errorf("gpt1Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
