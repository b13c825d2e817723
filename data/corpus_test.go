package data_test

import (
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/internal/gencorpus"
)

func TestBuiltinCorpusIsGenerated(t *testing.T) {
	got := data.BuiltinCorpus()
	want := gencorpus.Generate(gencorpus.DefaultSeed, gencorpus.DefaultSize)
	if got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("embedded corpus (%d bytes) differs from a fresh generation (%d bytes) at byte %d (run go generate ./data)",
			len(got), len(want), i)
	}
}

func TestBuiltinCorpusProperties(t *testing.T) {
	text := data.BuiltinCorpus()
	if n := len(text); n < 300_000 || n > 600_000 {
		t.Errorf("size %d bytes, want 300-600 KB", n)
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != '\n' && (c < ' ' || c > '~') {
			t.Fatalf("byte %d is %q, want printable ASCII or newline", i, c)
		}
	}
	lines := strings.Split(text, "\n")
	distinct := map[string]bool{}
	for _, l := range lines {
		distinct[l] = true
	}
	if len(distinct) < 3000 {
		t.Errorf("%d distinct lines of %d, want at least 3000", len(distinct), len(lines))
	}
	if !strings.HasSuffix(text, "\n") || strings.Contains(text, " \n") {
		t.Error("lines must end in a newline with no trailing spaces")
	}
	if data.BuiltinCorpusName != "builtin" {
		t.Errorf("BuiltinCorpusName = %q", data.BuiltinCorpusName)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := gencorpus.Generate(7, 20_000)
	if b := gencorpus.Generate(7, 20_000); a != b {
		t.Fatal("two generations with seed 7 differ")
	}
	if c := gencorpus.Generate(8, 20_000); a == c {
		t.Fatal("seeds 7 and 8 give the same text")
	}
}
