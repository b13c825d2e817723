package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func gpt1Vocab(t *testing.T) *GPT1BPE {
	t.Helper()
	dir := sharedPath("GPTCTL_GPT1_VOCAB", "../../shared/data/tokenizer/gpt1")
	if _, err := os.Stat(filepath.Join(dir, GPT1EncoderFile)); err != nil {
		t.Skipf("no GPT-1 vocabulary at %s (set GPTCTL_GPT1_VOCAB to a directory holding %s and %s)", dir, GPT1EncoderFile, GPT1MergesFile)
	}
	tok, err := LoadGPT1BPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGPT1Words(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello World", "hello world"},
		{"Don't stop—it's \u201cfine\u201d...", `do n't stop - it 's " fine " ...`},
		{"Mr. Smith went to the U.S. today.", "mr. smith went to the u.s. today ."},
		{"a  b\r\n\n\tc", "a b \n c"},
		{"(x+y)*2=z; ok?!", "( x + y ) * 2=z ; ok ? !"},
		{"  ", ""},
		// spaCy keeps a standalone contraction whole (GLUE's pre-tokenised
		// "it 's"), also inside quotes or brackets, but splits the others.
		{"it 's , you 're , we 'll , i 'd , ('s) \"'em\"", `it 's , you 're , we 'll , i 'd , ( 's ) " 'em "`},
		{"i 've 'm 'x n't", "i ' ve ' m ' x n't"},
		// ftfy drops control characters but the whitespace ones.
		{"x\x00y \x1fa\ufeffb\x7f c\td\x0ce", "xy ab c d e"},
		// ... but "s." is one of spaCy's exceptions (an initial), which
		// wins over "'s": "'s." is "'" "s.".
		{"it 's, get 'em! you 're: (he 'd) 's.", "it 's , get 'em ! you 're : ( he 'd ) ' s."},
		// ftfy's line breaks.
		{"one\u2028two\u2029three\u0085four", "one \n two \n three \n four"},
		{"Forex &amp; Gold &#x27;98", "forex & gold ' 98"},
		// ftfy's rounds: until nothing changes, entities made by a round
		// (&amp;lt; and a full-width &amp;) too.
		{"a &amp;lt; b \uff06amp\uff1b c &#38;#38; d", "a < b & c & d"},
	}
	for _, tt := range tests {
		if got := strings.Join(gpt1Words(tt.in), " "); got != tt.want {
			t.Errorf("gpt1Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// ftfy's unescape_html, one round: HTML 4 names (no &apos;), decimal and
// lower-case hex numbers, 128-159 as Windows-1252.
func TestGPT1Unescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Forex &amp; Gold &eacute;t&#233;", "Forex & Gold été"},
		{"&#x27;x&#X27; &apos; &#150; &#128;&#129;", "'x&#X27; &apos; \u2013 \u20ac\u0081"},
		{"&amp;amp; &#38;#38; &nosuchname; &abcdefghi; &#1114112; &#; &; &amp", "&amp; &#38; &nosuchname; &abcdefghi; &#1114112; &#; &; &amp"},
		{"<b>&amp;</b>\n&amp; 1 &lt; 2\n", "<b>&</b>\n& 1 < 2\n"},
		{"&lt;b&gt; &amp;amp;", "<b> &amp;"},
		{"no entity", "no entity"},
	}
	for _, tt := range tests {
		if got := gpt1Unescape(tt.in); got != tt.want {
			t.Errorf("gpt1Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Ids checked by hand against encoder_bpe_40000.json.
func TestGPT1BPEEncode(t *testing.T) {
	tok := gpt1Vocab(t)
	if tok.VocabSize() != 40478 || tok.EOT() != -1 || tok.Name() != "gpt1-bpe" {
		t.Fatalf("vocab %d eot %d name %q", tok.VocabSize(), tok.EOT(), tok.Name())
	}
	tests := []struct {
		in   string
		want []int
	}{
		{"hello world", []int{3570, 1276}},       // hello</w> world</w>
		{"Hello World!", []int{3570, 1276, 267}}, // !</w>
		{"don't.", []int{587, 538, 239}},         // do</w> n't</w> .</w>
		{"I'm", []int{249, 719}},                 // i</w> 'm</w>
		{"a\nb", []int{246, 40477, 259}},         // a</w> \n</w> b</w>
		{"transformer", []int{2973, 5353}},       // trans former</w>
		{"\u2603", []int{0}},                     // no snowman: <unk>
		// mr</w> .</w>: spaCy keeps Mr. whole, not mr.; u. s</w> .</w>:
		// it splits the full stop off u.s. (but not off U.S.: u.s.</w>)
		{"mr. smith, the u.s.", []int{4360, 239, 4920, 240, 481, 25896, 252, 239}},
		{"the U.S.", []int{481, 9901}},
		{"it 's you 're we 'll", []int{507, 535, 512, 761, 606, 804}}, // it</w> 's</w> you</w> 're</w> we</w> 'll</w>
	}
	for _, tt := range tests {
		if got := tok.Encode(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestGPT1BPERoundTrip(t *testing.T) {
	tok := gpt1Vocab(t)
	texts := []string{
		"The quick brown fox jumps over the lazy dog.",
		"\u201cWell,\u201d she said\u2014quietly\u2026 \u201cI can't; won't.\u201d\n\nTHE END",
		"Numbers: 3.14, 1,000 and 42% (approx.) -- ok?",
	}
	for _, s := range texts {
		if got, want := tok.Decode(tok.Encode(s)), tok.Normalize(s); got != want {
			t.Errorf("round trip of %q:\n got %q\nwant %q", s, got, want)
		}
	}
	// Encoding in pieces cut at CutsOf's points gives the ids of the whole
	// text; a newline may not be cut before (GPT-1 drops it at the start of
	// a text), nor next to an entity, which may be one (&#10;).
	entities := "Fish &amp; chips <br> row &#10; value &#10;&#10; end &nbsp; x &#x27;s \uff06amp\uff1b y"
	rules := "the u.s. a.k.a. U.S. hello...world end.Start a:b 5km 100% i\U0001F499you \u00a92018 john'll xD <3 2^3" +
		" end\n\x1b[31m wait \x1b[1;32m ok up\n\x7f down up \x7f\nnext \x1b[\u0663m x \x1b[" + strings.Repeat("1", 5000) + "m y"
	whole := strings.Repeat(texts[1]+"\n"+texts[2]+" "+entities+" "+rules+" ", 20)
	var parts []int
	if CutsOf(tok) != SpaceCuts {
		t.Fatalf("GPT-1's cuts: %d", CutsOf(tok))
	}
	if got, want := append(tok.Encode("a"), tok.Encode("\nb")...), tok.Encode("a\nb"); slices.Equal(got, want) {
		t.Errorf("GPT-1 keeps a newline that starts a text: %v", got)
	}
	for size := 10; size <= 100; size += 3 {
		parts = parts[:0]
		for _, c := range safeUnits(whole, size, SpaceCuts) {
			parts = append(parts, tok.Encode(c)...)
		}
		if !slices.Equal(parts, tok.Encode(whole)) {
			t.Errorf("encoding in chunks of about %d bytes differs from the whole text", size)
		}
	}
	for _, s := range []string{"\xff\xfe", "a\x00b", strings.Repeat("x", 300)} {
		tok.Decode(tok.Encode(s)) // must not panic
	}
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadGPT1BPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := tok.Encode(texts[1]), back.Encode(texts[1]); !slices.Equal(a, b) {
		t.Fatalf("after save/load: %v, want %v", b, a)
	}
}

// A Hugging Face openai-gpt directory holds the GPT-1 vocabulary as
// vocab.json and merges.txt, GPT-2's file names: it loads as GPT-1's BPE,
// not as a byte-level one.
func TestGPT1BPEHuggingFaceNames(t *testing.T) {
	want := gpt1Vocab(t)
	src := sharedPath("GPTCTL_GPT1_VOCAB", "../../shared/data/tokenizer/gpt1")
	dir := t.TempDir()
	for from, to := range map[string]string{GPT1EncoderFile: hfVocabFile, GPT1MergesFile: hfMergesFile} {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, to), b, 0o644)
	}
	for _, load := range []func(string) (Tokenizer, error){ResolveTokenizer, LoadTokenizer} {
		got, err := load(dir)
		if err != nil {
			t.Fatal(err)
		}
		text := "Mr. Smith didn't go to the U.S. today, did he?"
		if got.Name() != "gpt1-bpe" || !slices.Equal(got.Encode(text), want.Encode(text)) {
			t.Fatalf("%s tokenizer from vocab.json + merges.txt: %v, want GPT-1's %v", got.Name(), got.Encode(text), want.Encode(text))
		}
	}
}

// SaveHF writes the GPT-1 vocabulary as Hugging Face's openai-gpt does
// (vocab.json, merges.txt and a tokenizer_config.json naming
// OpenAIGPTTokenizer), and those files alone load as the same tokenizer.
func TestGPT1BPESaveHF(t *testing.T) {
	want := gpt1Vocab(t)
	dir := t.TempDir()
	if err := want.SaveHF(dir, 512); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil || cfg["tokenizer_class"] != "OpenAIGPTTokenizer" || cfg["unk_token"] != "<unk>" || cfg["model_max_length"] != 512.0 {
		t.Fatalf("tokenizer_config.json: %s (%v)", b, err)
	}
	got, err := ResolveTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := "The U.S. didn't (quite) agree; \u2603 fine."
	if got.Name() != "gpt1-bpe" || !slices.Equal(got.Encode(text), want.Encode(text)) || got.VocabSize() != want.VocabSize() {
		t.Fatalf("reloaded %s: %v, want %v", got.Name(), got.Encode(text), want.Encode(text))
	}
}

// GPT-1 lower-cases with Python's str.lower: a capital sigma ending a word
// is the final ς (the vocabulary has "ς</w>"), and İ is i with a combining
// dot; the cases are Python 3's own outputs.
func TestPyLower(t *testing.T) {
	for in, want := range map[string]string{
		"ΟΔΟΣ": "οδος", "ΣΑΣ": "σας", "Σ": "σ", "ΑΣ.": "ας.", "ΑΣ'Β": "ασ'β", "ΑΣΑ": "ασα",
		"İstanbul": "i\u0307stanbul", "ΟΔΟΣ.": "οδος.", "Α\u0301Σ": "α\u0301ς", "ΑΣ\u0301": "ας\u0301",
		"Plain ASCII, Ünïcödé": "plain ascii, ünïcödé",
	} {
		if got := pyLower(in); got != want {
			t.Errorf("pyLower(%q) = %q, want %q", in, got, want)
		}
	}
}
