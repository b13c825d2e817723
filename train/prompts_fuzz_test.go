package train

import (
	"strings"
	"testing"
)

// FuzzStopScanner splits a text into tokens at arbitrary points and checks
// the scanner against the plain answer: the text cut before the stop
// string that completes first (the longer of two that end together),
// nothing handed out that it cuts off, every byte handed out once and in
// order.
func FuzzStopScanner(f *testing.F) {
	f.Add("a\n\nb", "\n\n", "x", []byte{1, 2, 1})
	f.Add("xENxEND!", "END", "N", []byte{2, 1, 3})
	f.Add("aababc", "abc", "ab", []byte{3, 2, 1})
	f.Fuzz(func(t *testing.T, text, stop1, stop2 string, cuts []byte) {
		var stops []string
		for _, s := range []string{stop1, stop2} {
			if s != "" {
				stops = append(stops, s)
			}
		}
		want, wantStop, end := text, "", 0 // the stop string that completes first; the longer of two
		for _, s := range stops {
			i := strings.Index(text, s)
			if e := i + len(s); i >= 0 && (wantStop == "" || e < end || e == end && i < len(want)) {
				want, wantStop, end = text[:i], s, e
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
			if !strings.HasPrefix(want, got.String()) {
				t.Fatalf("handed out %q, which is not the start of %q", got.String(), want)
			}
			if st != "" {
				stop = st
				break
			}
		}
		got.WriteString(sc.flush())
		if got.String() != want || string(sc.text) != want || stop != wantStop {
			t.Fatalf("text %q, stops %q: got %q (stop %q), want %q (stop %q)", text, stops, got.String(), stop, want, wantStop)
		}
	})
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
