package data

import (
	"slices"
	"testing"
)

// ftfy 5's fix_text: terminal escapes, U+02BC as an apostrophe, the Latin
// ligatures and digraphs, half-width and full-width forms, and the musical
// and tag format characters it removes.
func TestGPT1BPEFtfy(t *testing.T) {
	tok := gpt1Vocab(t)
	tests := []struct {
		in   string
		want []int
	}{
		{"\x1b[31mred\x1b[0m alert", []int{978, 6369}},                   // red alert
		{"l\u02bceau", []int{18159, 11262}},                              // l'eau
		{"\ufb06op \u0133s \u01c6", []int{1296, 11, 36636, 10, 0}},       // stop ijs dž
		{"\uffe1100 \uffe5100 \uffed", []int{318, 11477, 0, 11477, 377}}, // £ 100 ¥ 100 ■
		{"a\U000E0041b\U0001D173c", []int{37072}},                        // abc
	}
	for _, tt := range tests {
		if got := tok.Encode(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
