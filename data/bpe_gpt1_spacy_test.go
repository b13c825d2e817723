package data

import (
	"slices"
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
