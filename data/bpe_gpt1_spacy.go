package data

import (
	"strconv"
	"strings"
)

// spaCy's English tokenizer as GPT-1 ran it (spaCy 2.0), on a chunk of text
// between spaces, before lower-casing: split off prefixes and suffixes until none
// is left or what is left is one of spaCy's exceptions, which then gives its
// own words (gpt1Exc), and split what is left at infixes (bpe_gpt1_punct.go).
// gpt1Affixes follows spaCy's Tokenizer._split_affixes and _attach_tokens.

// gpt1Abbrevs are spaCy 2.x's English abbreviations, in the cases it lists
// them (spacy/lang/en/tokenizer_exceptions.py, the same in 2.0 and 2.1):
// "Calif." and "Jan." stay whole, "calif." and "etc." lose their full stop.
var gpt1Abbrevs = []string{
	"Mt.", "Ak.", "Ala.", "Apr.", "Ariz.", "Ark.", "Aug.", "Calif.", "Colo.",
	"Conn.", "Dec.", "Del.", "Feb.", "Fla.", "Ga.", "Ia.", "Id.", "Ill.", "Ind.",
	"Jan.", "Jul.", "Jun.", "Kan.", "Kans.", "Ky.", "La.", "Mar.", "Mass.",
	"May.", "Mich.", "Minn.", "Miss.", "N.C.", "N.D.", "N.H.", "N.J.", "N.M.",
	"N.Y.", "Neb.", "Nebr.", "Nev.", "Nov.", "Oct.", "Okla.", "Ore.", "Pa.",
	"S.C.", "Sep.", "Sept.", "Tenn.", "Va.", "Wash.", "Wis.",
	"a.m.", "Adm.", "Bros.", "co.", "Co.", "Corp.", "D.C.", "Dr.", "e.g.",
	"E.g.", "E.G.", "Gen.", "Gov.", "i.e.", "I.e.", "I.E.", "Inc.", "Jr.",
	"Ltd.", "Md.", "Messrs.", "Mo.", "Mont.", "Mr.", "Mrs.", "Ms.", "p.m.",
	"Ph.D.", "Rep.", "Rev.", "Sen.", "St.", "vs.",
}

// gpt1Emoticons are spaCy's emoticons, which it keeps whole. Those with a
// character text_standardize puts spaces around (":)", "^_^") never reach
// spaCy whole; ":P", "xD", "<3" and "o.O" do.
const gpt1Emoticons = `:) :-) :)) :-)) :))) :-))) (: (-: =) (= ") :] :-] [: [-: :o) (o: :} :-}
8) 8-) (-8 ;) ;-) (; (-; :( :-( :(( :-(( :((( :-((( ): )-: =( >:( :') :'-) :'( :'-(
:/ :-/ =/ =| :| :-| :1 :P :-P :p :-p :O :-O :o :-o :0 :-0 :() >:o :* :-* :3 :-3 =3
:> :-> :X :-X :x :-x :D :-D ;D ;-D =D xD XD xDD XDD 8D 8-D ^_^ ^__^ ^___^ >.< >.> <.<
._. ;_; -_- -__- v.v V.V v_v V_V o_o o_O O_o O_O 0_o o_0 0_0 o.O O.o O.O o.o 0.0 o.0
0.o @_@ <3 <33 <333 </3 (^_^) (-_-) (._.) (>_<) (*_*) (¬_¬) ಠ_ಠ ಠ︵ಠ (ಠ_ಠ) ¯\(ツ)/¯
(╯°□°）╯︵┻━┻ ><(((*>`

// gpt1Exc holds spaCy 2.x's English tokenizer exceptions and its emoticons:
// the words each chunk is split into, or the chunk itself where spaCy keeps
// it whole. As in spaCy they match case-sensitively, so "Cannot" is can not
// but "CANNOT" stays whole, "ID" is not i d and "Mr." is whole but "mr." is
// mr and a full stop.
var gpt1Exc = gpt1Exceptions()

// gpt1Exceptions builds gpt1Exc as spacy/lang/en/tokenizer_exceptions.py
// and spacy/lang/tokenizer_exceptions.py do.
func gpt1Exceptions() map[string][]string {
	exc := map[string][]string{}
	title := func(w string) string { return strings.ToUpper(w[:1]) + w[1:] }
	// split adds a word and its contractions, and the same without
	// apostrophes ("don't" is do n't, "dont" do nt), the word in lower and
	// in title case.
	split := func(word string, contractions ...string) {
		for _, w := range []string{word, title(word)} {
			plain := []string{w}
			for _, c := range contractions {
				plain = append(plain, strings.ReplaceAll(c, "'", ""))
			}
			for _, parts := range [][]string{append([]string{w}, contractions...), plain} {
				exc[strings.Join(parts, "")] = parts
			}
		}
	}
	split("i", "'m")
	split("i", "'m", "a")
	for _, p := range []string{"i", "you", "he", "she", "it", "we", "they"} {
		split(p, "'ll")
		split(p, "'ll", "'ve")
		split(p, "'d")
		split(p, "'d", "'ve")
	}
	for _, p := range []string{"i", "you", "we", "they"} {
		split(p, "'ve")
	}
	for _, p := range []string{"you", "we", "they"} {
		split(p, "'re")
	}
	for _, p := range []string{"he", "she", "it"} {
		split(p, "'s")
	}
	for _, w := range []string{"who", "what", "when", "where", "why", "how", "there", "that"} {
		for _, c := range [][]string{{"'s"}, {"'ll"}, {"'ll", "'ve"}, {"'re"}, {"'ve"}, {"'d"}, {"'d", "'ve"}} {
			split(w, c...)
		}
	}
	for _, v := range []string{"ca", "could", "do", "does", "did", "had", "may", "might", "must", "need", "ought", "sha", "should", "wo", "would"} {
		split(v, "n't")
		split(v, "n't", "'ve")
	}
	for _, v := range []string{"could", "might", "must", "should", "would"} {
		split(v, "'ve")
	}
	for _, v := range []string{"ai", "are", "is", "was", "were", "have", "has", "dare"} {
		split(v, "n't")
	}
	split("not", "'ve")
	split("can", "not")
	split("gon", "na")
	split("got", "ta")
	for k, parts := range map[string][]string{
		"let's": {"let", "'s"}, "Let's": {"Let", "'s"},
		"how'd'y": {"how", "'d", "'y"}, "How'd'y": {"How", "'d", "'y"},
		"y'all": {"y'", "all"}, "yall": {"y", "all"},
	} {
		exc[k] = parts
	}
	for h := 1; h <= 12; h++ {
		for _, period := range []string{"a.m.", "am", "p.m.", "pm"} {
			exc[strconv.Itoa(h)+period] = []string{strconv.Itoa(h), period}
		}
	}
	whole := []string{
		// words that start with an apostrophe, with and without it
		"'cause", "cause", "'em", "em", "'ll", "ll", "'nuff", "nuff",
		"'s", "'S", "'re", "'d", "'cos", "'coz", "'cuz", "'bout",
		"'Cause", "'Cos", "'Coz", "'Cuz",
		"ma'am", "Ma'am", "o'clock", "O'clock",
		// spaCy's base exceptions (quotes, small letters with a full stop)
		"'", "''", "ä.", "ö.", "ü.",
	}
	whole = append(whole, gpt1Abbrevs...)
	whole = append(whole, strings.Fields(gpt1Emoticons)...)
	// -in' words and ol', with and without the apostrophe
	for _, w := range []string{"doin", "goin", "nothin", "nuthin", "ol", "somethin", "lovin", "havin"} {
		whole = append(whole, w, w+"'", title(w), title(w)+"'")
	}
	for c := 'a'; c <= 'z'; c++ {
		whole = append(whole, string(c)+".")
	}
	for _, w := range whole {
		exc[w] = []string{w}
	}
	for _, w := range []string{"ill", "its", "hell", "shell", "shed", "were", "well", "whore"} {
		delete(exc, w) // spaCy's _exclude: words, not contractions
		delete(exc, title(w))
	}
	return exc
}

// gpt1Affixes splits prefixes and suffixes off w as spaCy does, then
// infixes, and appends the parts to out.
func gpt1Affixes(w string, out []string) []string {
	var suffixes []string
	for last := -1; w != "" && len(w) != last && gpt1Exc[w] == nil; {
		last = len(w)
		pre, suf := gpt1PrefixLen(w), gpt1SuffixLen(w)
		// A prefix or a suffix whose removal leaves an exception ends the
		// splitting: "'s." is "'" "s." ("s.", a letter and a full stop, is one).
		if pre > 0 && pre < len(w) && gpt1Exc[w[pre:]] != nil {
			out, w = append(out, w[:pre]), w[pre:]
			break
		}
		if suf > 0 && suf < len(w) && gpt1Exc[w[:len(w)-suf]] != nil {
			suffixes, w = append(suffixes, w[len(w)-suf:]), w[:len(w)-suf]
			break
		}
		switch {
		case pre > 0 && suf > 0 && pre+suf <= len(w):
			out, suffixes = append(out, w[:pre]), append(suffixes, w[len(w)-suf:])
			w = w[pre : len(w)-suf]
		case pre > 0:
			out, w = append(out, w[:pre]), w[pre:]
		case suf > 0:
			suffixes, w = append(suffixes, w[len(w)-suf:]), w[:len(w)-suf]
		}
	}
	if parts := gpt1Exc[w]; parts != nil {
		out = append(out, parts...)
	} else if w != "" {
		out = gpt1Infixes(w, out)
	}
	for i := len(suffixes) - 1; i >= 0; i-- {
		out = append(out, suffixes[i])
	}
	return out
}
