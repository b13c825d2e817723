package data

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

func pieces(s string) []string {
	var out []string
	splitGPT2(s, func(p string) { out = append(out, p) })
	return out
}

// testdata/gpt2-split.jsonl holds the pieces Python's regex module finds with
// the GPT-2 pattern in random strings of tricky characters.
func TestSplitGPT2Golden(t *testing.T) {
	f, err := os.Open("testdata/gpt2-split.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var c struct {
			Text   string   `json:"text"`
			Pieces []string `json:"pieces"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if got := pieces(c.Text); !slices.Equal(got, c.Pieces) && len(got)+len(c.Pieces) > 0 {
			t.Errorf("%q: got %q, want %q", c.Text, got, c.Pieces)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d cases", n)
	}
}

func TestSplitGPT2Cases(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"   abc", []string{"  ", " abc"}},
		{"a  \tb", []string{"a", "  ", "\t", "b"}},
		{"x   ", []string{"x", "   "}},
		{"I'm it's 'S '''s", []string{"I", "'m", " it", "'s", " '", "S", " '''", "s"}},
		{"3.14 +1", []string{"3", ".", "14", " +", "1"}},
		{"a\xffb\xfe", []string{"a", "\xff", "b", "\xfe"}},
		{"\n\n\nX", []string{"\n\n", "\n", "X"}},
	}
	for _, tt := range tests {
		if got := pieces(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Cutting where SpaceCuts or WhitespaceCuts allow does not change GPT-2's
// pieces; CharCuts cut between characters.
func TestCuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := []string{"a", "B", " ", "  ", "\n", "\n\n", "'s", "'", "1", ".", "é", "\t", "中", "\u3000", "\u0301", "\xff", "\xe4\xb8", "\r\n", "\r", "\v", "\u00a0", "\u2028", "\x85"}
	cutAt := map[Cuts]int{}
	for iter := 0; iter < 20000; iter++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		s := b.String()
		for _, c := range []Cuts{SpaceCuts, WhitespaceCuts} {
			p := c.Last(s, rng.IntN(len(s)+1))
			if p == 0 {
				continue
			}
			cutAt[c]++
			if got, want := append(pieces(s[:p]), pieces(s[p:])...), pieces(s); !slices.Equal(got, want) {
				t.Fatalf("cuts %d: cut %q at %d: %q, want %q", c, s, p, got, want)
			}
		}
	}
	if cutAt[WhitespaceCuts] < 2*cutAt[SpaceCuts] {
		t.Errorf("cuts made: %v", cutAt)
	}
	for _, c := range []struct {
		cuts  Cuts
		s     string
		limit int
		want  int
	}{
		{SpaceCuts, "ab cd\nef gh", 10, 8},
		{SpaceCuts, "abcdef", 6, 0},
		{SpaceCuts, "ab\ncd", 5, 0},
		{SpaceCuts, "中 文", 5, 0},
		{WhitespaceCuts, "ab\ncd ", 6, 5},
		{WhitespaceCuts, "ab\ncd ", 4, 2},
		{WhitespaceCuts, "中文\n文字", 12, 6},
		{WhitespaceCuts, "ab \ncd", 6, 2},
		{WhitespaceCuts, "ab\u3000\ncd", 8, 2},
		{WhitespaceCuts, "中文\r\n文字\r\n", 13, 6}, // CRLF lines without spaces
		{WhitespaceCuts, "ab\xe3\x80", 4, 0},    // U+3000 cut off by the end of a chunk
		{WhitespaceCuts, "  ab", 4, 0},
		{CharCuts, "ab中", 4, 2},
		{CharCuts, "ab中", 1, 1},
	} {
		if p := c.cuts.Last(c.s, c.limit); p != c.want {
			t.Errorf("cuts %d: Last(%q, %d) = %d, want %d", c.cuts, c.s, c.limit, p, c.want)
		}
	}
}
