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

// Cutting at SafeCut must not change the pieces.
func TestSafeCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := []string{"a", "B", " ", "  ", "\n", "\n\n", "'s", "1", ".", "é", "\t", "中", "\xff"}
	for iter := 0; iter < 2000; iter++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		s := b.String()
		p := SafeCut(s, rng.IntN(len(s)+1))
		if p == 0 {
			continue
		}
		if got, want := append(pieces(s[:p]), pieces(s[p:])...), pieces(s); !slices.Equal(got, want) {
			t.Fatalf("cut %q at %d: %q, want %q", s, p, got, want)
		}
	}
	if p := SafeCut("ab cd\nef gh", 10); p != 8 {
		t.Fatalf("SafeCut: got %d, want 8", p)
	}
	if p := SafeCut("abcdef", 6); p != 0 {
		t.Fatalf("no cut point: got %d", p)
	}
}
