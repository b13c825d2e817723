package train

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzStopScanner splits a text into tokens at arbitrary points and checks
// the scanner against the plain answer: the text made UTF-8 as Python's
// decode(errors="replace") makes it, cut before the stop string that
// completes first (the longer of two that end together), nothing handed
// out that it cuts off or that is not UTF-8, every byte handed out once
// and in order.
func FuzzStopScanner(f *testing.F) {
	f.Add("a\n\nb", "\n\n", "x", []byte{1, 2, 1})
	f.Add("xENxEND!", "END", "N", []byte{2, 1, 3})
	f.Add("aababc", "abc", "ab", []byte{3, 2, 1})
	f.Add("a\xe2\x80\x99b\xf0\x9f\x98\x80\xed\xa0\x80c\xe2", "b\uFFFD", "c\uFFFD", []byte{2, 1, 1, 3, 1})
	f.Fuzz(func(t *testing.T, text, stop1, stop2 string, cuts []byte) {
		var stops []string
		for _, s := range []string{stop1, stop2} {
			if !utf8.ValidString(s) { // refused by Validate
				return
			}
			if s != "" {
				stops = append(stops, s)
			}
		}
		valid := replaceInvalid(text)
		want, wantStop, end := valid, "", 0 // the stop string that completes first; the longer of two
		for _, s := range stops {
			i := strings.Index(valid, s)
			if e := i + len(s); i >= 0 && (wantStop == "" || e < end || e == end && i < len(want)) {
				want, wantStop, end = valid[:i], s, e
			}
		}
		sc := stopScanner{stops: stops}
		var got strings.Builder
		stop, rest := "", text
		for _, c := range append(cuts, 255) {
			n := min(int(c)%8, len(rest))
			if c == 255 {
				n = len(rest)
			}
			ready, st := sc.add(rest[:n])
			rest = rest[n:]
			got.WriteString(ready)
			if !strings.HasPrefix(want, got.String()) || !utf8.ValidString(ready) {
				t.Fatalf("handed out %q, which is not the start of %q", got.String(), want)
			}
			if st != "" {
				stop = st
				break
			}
		}
		last, st := sc.end()
		got.WriteString(last)
		stop += st
		if got.String() != want || string(sc.text) != want || stop != wantStop {
			t.Fatalf("text %q, stops %q: got %q (stop %q), want %q (stop %q)", text, stops, got.String(), stop, want, wantStop)
		}
	})
}

// replaceInvalid is text as Python's decode(errors="replace") makes it:
// U+FFFD for each maximal subpart of bytes that are not UTF-8, the longest
// start of a character that some bytes would complete (or one byte).
func replaceInvalid(text string) string {
	var b strings.Builder
	for text != "" {
		r, n := utf8.DecodeRuneInString(text)
		if r == utf8.RuneError && n == 1 {
			for k := min(3, len(text)); k > 1; k-- {
				if startsCharacter(text[:k]) {
					n = k
					break
				}
			}
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(text[:n])
		}
		text = text[n:]
	}
	return b.String()
}

// startsCharacter says whether some continuation bytes make s one
// character: it tries the bounds of every range table 3-7 allows.
func startsCharacter(s string) bool {
	if utf8.ValidString(s) && utf8.RuneCountInString(s) == 1 {
		return true
	}
	if len(s) >= 4 {
		return false
	}
	for _, c := range []string{"\x80", "\x8f", "\x90", "\x9f", "\xa0", "\xbf"} {
		if startsCharacter(s + c) {
			return true
		}
	}
	return false
}

// FuzzReadPrompts feeds arbitrary bytes to the prompts-file reader: it
// returns prompts or an input error naming the file, never panics.
func FuzzReadPrompts(f *testing.F) {
	f.Add([]byte("{\"prompt\": \"a\", \"id\": 3}\n\"b\"\n\n"))
	f.Add([]byte("\xef\xbb\xbf{\"prompt\": null}\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ReadPrompts(b, "p.jsonl")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "p.jsonl") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(ps) == 0 {
			t.Fatal("no prompts and no error")
		}
		for i, p := range ps {
			if p.Line < 1 || i > 0 && p.Line <= ps[i-1].Line {
				t.Fatalf("prompt %d on line %d", i, p.Line)
			}
		}
	})
}
