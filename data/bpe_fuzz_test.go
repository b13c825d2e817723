package data

import (
	"slices"
	"sync"
	"testing"
)

var (
	fuzzTinyOnce sync.Once
	fuzzTiny     *BPE
)

// FuzzBPERoundTrip checks Decode(Encode(s)) == s on arbitrary bytes for a
// small trained BPE (always) and GPT-2 (when its vocabulary is present), that
// the heap merge agrees with the short merge, and that GPT-1 (when present)
// does not panic.
func FuzzBPERoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "I'm  \t\n\n x", "\xff\xfe\x00", "中文 テキスト 123", "<|endoftext|>"} {
		f.Add(s)
	}
	fuzzTinyOnce.Do(func() { fuzzTiny = trainTiny(f, smallText()[:20_000], 400) })
	toks := []*BPE{fuzzTiny}
	if gpt2 := tryGPT2(f); gpt2 != nil {
		toks = append(toks, gpt2)
	}
	gpt1, _ := LoadGPT1BPE(sharedPath("GPTCTL_GPT1_VOCAB", "../../shared/data/tokenizer/gpt1"))
	f.Fuzz(func(t *testing.T, s string) {
		if gpt1 != nil {
			gpt1.Decode(gpt1.Encode(s))
		}
		for _, tok := range toks {
			ids := tok.Encode(s)
			if got := tok.Decode(ids); got != s {
				t.Fatalf("round trip of %q: %q", s, got)
			}
			sym := make([]int32, len(s))
			for i := range sym {
				sym[i] = tok.byteID[s[i]]
			}
			if len(s) <= 64 {
				if a, b := tok.merges.apply(slices.Clone(sym)), tok.merges.applyHeap(sym); !slices.Equal(a, b) {
					t.Fatalf("merges of %q: short %v, heap %v", s, a, b)
				}
			}
		}
	})
}

// tryGPT2 loads GPT-2 when present, without skipping.
func tryGPT2(tb testing.TB) *BPE {
	dir := sharedPath("GPTCTL_GPT2_VOCAB", "../../shared/data/tokenizer/gpt2")
	tok, err := LoadGPT2BPE(dir)
	if err != nil {
		tb.Logf("GPT-2 part skipped: %v", err)
		return nil
	}
	return tok
}
