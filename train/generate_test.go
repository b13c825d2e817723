package train

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gptctl/data"
	"gptctl/graph"
)

// TestGenerateSlidesPastTheContext: sampling through the cached decoder
// prints what the same draws pick from a forward of the whole window through
// the graph at every step, also after the text outgrows the context and the window
// slides (a context of 8, a prompt of 3, 30 new tokens), and with a context
// of one token, where every window is new.
func TestGenerateSlidesPastTheContext(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	for _, c := range []struct {
		arch string
		ctx  int
	}{{"gpt1", 8}, {"gpt2", 8}, {"gpt1", 1}, {"gpt2", 1}} {
		arch := fmt.Sprintf("%s, n_ctx %d", c.arch, c.ctx)
		cfg := graph.Config{Arch: c.arch, VocabSize: tok.VocabSize(), NCtx: c.ctx, NEmbd: 16, NHead: 2, NLayer: 2, LNEps: 1e-5}
		p, err := graph.NewParams(cfg, graph.NewRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		perturb(p, 4) // a model with opinions: greedy output that varies
		const prompt, n = "fab", 30
		o := GenerateOptions{Prompt: prompt, MaxNewTokens: n, Temperature: 1, TopP: 1, Seed: 9}
		var out bytes.Buffer
		if err := generate(p, tok, o, &out); err != nil {
			t.Fatal(err)
		}

		m, err := graph.New(p, 1, cfg.NCtx, graph.NewRNG(0))
		if err != nil {
			t.Fatal(err)
		}
		prog, err := m.Forward(m.Logits)
		if err != nil {
			t.Fatal(err)
		}
		ids := tok.Encode(prompt)
		V := cfg.VocabSize
		probs, draw := make([]float64, V), rand.New(rand.NewPCG(o.Seed, 0x6e6))
		for range n {
			window := ids[max(0, len(ids)-cfg.NCtx):]
			in := graph.Int32Data(m.Idx)
			clear(in)
			for i, id := range window {
				in[i] = int32(id)
			}
			if err := m.Run(prog); err != nil {
				t.Fatal(err)
			}
			logits := m.Value(m.Logits)[(len(window)-1)*V : len(window)*V]
			ids = append(ids, sample(logits, probs, o, draw))
		}
		if want := tok.Decode(ids) + "\n"; out.String() != want {
			t.Errorf("%s: generate printed %q, the window forward gives %q", arch, out.String(), want)
		}
		distinct := map[rune]bool{}
		for _, r := range out.String()[len(prompt):] {
			distinct[r] = true
		}
		if len(distinct) < 4 { // a model that repeats one letter would test little
			t.Fatalf("%s: the model's output %q varies too little for this test", arch, out.String())
		}
	}
}

// A prompt with characters a char-level model has never seen is refused by
// name (it used to lose them silently).
func TestGenerateUnknownPromptCharacters(t *testing.T) {
	tok := data.NewCharTokenizer("abc ")
	p := tinyLM(t, "gpt1", tok.VocabSize(), 8, 8)
	err := generate(p, tok, GenerateOptions{Prompt: "abZ cQ", MaxNewTokens: 3, TopP: 1}, new(bytes.Buffer))
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `characters "ZQ" are not in the vocabulary (char, `) {
		t.Errorf("got %v, want an input error naming Z and Q", err)
	}
}

// --num-samples draws its samples one after another from one seeded stream:
// the first equals a single sample, the others differ, each starts with the
// prompt and runs MaxNewTokens tokens, and a line of dashes sits between them.
func TestGenerateNumSamples(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 12, Temperature: 1, TopP: 1, Seed: 5}
	var one, three bytes.Buffer
	if err := generate(p, tok, o, &one); err != nil {
		t.Fatal(err)
	}
	o.NumSamples = 3
	if err := generate(p, tok, o, &three); err != nil {
		t.Fatal(err)
	}
	samples := strings.Split(three.String(), sampleSeparator+"\n")
	if len(samples) != 3 || samples[0] != one.String() {
		t.Fatalf("3 samples: %q; one sample: %q", three.String(), one.String())
	}
	for _, s := range samples {
		if !strings.HasPrefix(s, "ab") || len([]rune(s)) != 2+12+1 {
			t.Errorf("sample %q: want the prompt, 12 characters and a newline", s)
		}
	}
	if samples[1] == samples[0] && samples[2] == samples[0] {
		t.Errorf("three equal samples %q", samples[0])
	}
}

// sample draws each allowed id with its renormalised probability and never
// an excluded one: plain temperature sampling, top-k, top-p, both (top-p
// taken on what top-k leaves, as Hugging Face does), on 60 logits with ties;
// frequencies over 200,000 draws within 5 standard errors.
func TestSampleDistribution(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 60)
	for i := range logits {
		logits[i] = float32(r.NormFloat64())
	}
	logits[7], logits[40] = logits[3], logits[3] // ties
	above := 0                                   // ids more probable than the three tied
	for _, v := range logits {
		if v > logits[3] {
			above++
		}
	}
	for _, o := range []GenerateOptions{
		{Temperature: 0.7, TopP: 1},
		{Temperature: 1, TopK: 5, TopP: 1},
		{Temperature: 1.3, TopP: 0.6},
		{Temperature: 1, TopK: 20, TopP: 0.9},
		{Temperature: 1, TopK: 5, TopP: 0.7}, // the top 5 hold far less than 0.7 of all the mass
		{Temperature: 1, TopK: 1, TopP: 1},
		{Temperature: 1, TopK: above + 1, TopP: 1}, // the k-th is one of three tied: all three stay
		{Temperature: 1, TopK: above + 2, TopP: 0.95},
	} {
		// The reference: all ids sorted by probability, the filters applied
		// in order, top-p on the distribution top-k leaves (renormalised).
		p := make([]float64, len(logits))
		var sum float64
		for i, v := range logits {
			p[i] = math.Exp(float64(v) / o.Temperature)
			sum += p[i]
		}
		order := make([]int, len(p))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
		keep := len(order)
		if o.TopK > 0 { // every id at least as probable as the k-th, as Hugging Face's top-k
			keep = 0
			for _, id := range order {
				if p[id] >= p[order[o.TopK-1]] {
					keep++
				}
			}
		}
		if o.TopP < 1 {
			var mass, c float64
			for _, id := range order[:keep] {
				mass += p[id]
			}
			for i := range keep {
				if c += p[order[i]] / mass; c >= o.TopP {
					keep = i + 1
					break
				}
			}
		}
		want := make([]float64, len(p))
		var total float64
		for _, id := range order[:keep] {
			total += p[id]
		}
		for _, id := range order[:keep] {
			want[id] = p[id] / total
		}

		const draws = 200_000
		count := make([]int, len(p))
		probs := make([]float64, len(p))
		rng := rand.New(rand.NewPCG(3, 4))
		for range draws {
			count[sample(logits, probs, o, rng)]++
		}
		for id, w := range want {
			got := float64(count[id]) / draws
			if se := math.Sqrt(w * (1 - w) / draws); math.Abs(got-w) > 5*se+1e-9 {
				t.Errorf("%+v: id %d drawn %.4f of the time, want %.4f", o, id, got, w)
			}
		}
	}
}

func TestTopIDs(t *testing.T) {
	probs := []float64{0.1, 0.5, 0.1, 0.3, 0.5, 0, 0.2}
	for k, want := range map[int][]int{1: {1}, 3: {1, 4, 3}, 5: {1, 4, 3, 6, 0}, 7: {1, 4, 3, 6, 0, 2, 5}} {
		if got := topIDs(probs, k); !slices.Equal(got, want) {
			t.Errorf("topIDs(k=%d) = %v, want %v", k, got, want)
		}
	}
}

// nucleusIDs selects the set a sort gives: the fewest most probable ids
// whose mass reaches top_p, the lower id first among ties at the cut; on
// peaked, flat and tied distributions, with zeros, and top_p from tiny to
// nearly 1.
func TestNucleusIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 400 {
		n := 1 + r.IntN(300)
		probs := make([]float64, n)
		for i := range probs {
			switch trial % 4 {
			case 0:
				probs[i] = math.Exp(3 * r.NormFloat64())
			case 1:
				probs[i] = 1 // flat: every id tied
			case 2:
				probs[i] = float64(r.IntN(4)) // ties and zeros
			default:
				probs[i] = r.Float64()
			}
		}
		if trial%4 == 2 {
			probs[r.IntN(n)] = 3 // at least one id of positive probability
		}
		var sum float64
		for _, p := range probs {
			sum += p
		}
		topP := []float64{1e-9, 0.1, 0.5, 0.9, 0.99, 0.999999}[trial%6]
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(probs[b], probs[a]) })
		want := order[:n]
		var c float64
		for i, id := range order {
			if c += probs[id]; c >= topP*sum || probs[id] == 0 {
				want = order[:i+1]
				if probs[id] == 0 {
					want = order[:i]
				}
				break
			}
		}
		want = slices.Sorted(slices.Values(want))
		if got := nucleusIDs(probs, sum, topP); !slices.Equal(got, want) {
			t.Fatalf("trial %d, top_p %g over %v: %v, want %v", trial, topP, probs, got, want)
		}
	}
}

// Logits that are not finite (a diverged model) draw a token under every
// filter instead of crashing the sampler.
func TestSampleNonFiniteLogits(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, logits := range [][]float32{{nan, 1, 2, 3}, {nan, nan, nan}, {1, inf, 2}, {inf, inf, 0}} {
		for _, o := range []GenerateOptions{{Temperature: 1, TopP: 1}, {Temperature: 1, TopP: 0.9}, {Temperature: 1, TopK: 2, TopP: 0.9}} {
			id := sample(logits, make([]float64, len(logits)), o, rand.New(rand.NewPCG(1, 2)))
			if id < 0 || id >= len(logits) {
				t.Errorf("%v %+v: id %d", logits, o, id)
			}
		}
	}
}

// A model whose weights are finite but so large that its logits overflow
// (as a run that diverged leaves them) is a non-finite error naming the
// sample, not text drawn blindly from NaNs with a success status.
func TestGenerateNonFiniteModel(t *testing.T) {
	tok := data.NewCharTokenizer("abc ")
	p := tinyLM(t, "gpt1", tok.VocabSize(), 8, 8)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] *= 1e19
		}
	}
	var out bytes.Buffer
	err := generate(p, tok, GenerateOptions{Prompt: "ab", MaxNewTokens: 3, Temperature: 1, TopP: 1}, &out)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "its logit of token 0 is NaN after 2 tokens of sample 0: the model's outputs are not finite") {
		t.Errorf("got %v (output %q), want a non-finite error", err, out.String())
	}
}

// BenchmarkSample: one draw over GPT-2's 50,257 logits, as generate makes per
// token (a sort of every id took 20 ms a draw).
func BenchmarkSample(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 50257)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	probs := make([]float64, len(logits))
	for _, o := range []GenerateOptions{{Temperature: 0.8, TopP: 1}, {Temperature: 0.8, TopK: 40, TopP: 1}, {Temperature: 0.8, TopP: 0.9},
		{Temperature: 0.8, TopP: 0.99}, {Temperature: 100, TopP: 0.99}} { // the last nearly flat
		b.Run(fmt.Sprintf("T=%g/top_k=%d/top_p=%g", o.Temperature, o.TopK, o.TopP), func(b *testing.B) {
			for b.Loop() {
				sample(logits, probs, o, r)
			}
		})
	}
}

// eotChars is a char tokenizer whose '.' is the end-of-text token.
type eotChars struct{ *data.CharTokenizer }

func (t eotChars) EOT() int { return t.Encode(".")[0] }

// A sampled end-of-text token ends the sample, unprinted: the output is the
// --ignore-eot output cut where the token was drawn (the same draws up to
// there), and each of several samples ends at its own.
func TestGenerateStopsAtEOT(t *testing.T) {
	tok := eotChars{data.NewCharTokenizer("abcdefghij klmnop.")}
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 200, Temperature: 1, TopP: 1, Seed: 5, IgnoreEOT: true}
	var all, stopped bytes.Buffer
	if err := generate(p, tok, o, &all); err != nil {
		t.Fatal(err)
	}
	o.IgnoreEOT = false
	if err := generate(p, tok, o, &stopped); err != nil {
		t.Fatal(err)
	}
	i := strings.Index(all.String(), ".")
	if i < 0 {
		t.Fatalf("200 tokens without the end-of-text token: %q", all.String())
	}
	if want := all.String()[:i] + "\n"; stopped.String() != want {
		t.Errorf("generate printed %q, want %q (the output up to the end-of-text token)", stopped.String(), want)
	}
	o.NumSamples = 3
	var three bytes.Buffer
	if err := generate(p, tok, o, &three); err != nil {
		t.Fatal(err)
	}
	for _, s := range strings.Split(three.String(), sampleSeparator+"\n") {
		if strings.Contains(s, ".") || len(s) >= 2+200+1 {
			t.Errorf("sample %q: want it to end before the end-of-text token", s)
		}
	}
}

// failAfter accepts n bytes and then fails every write, as a full disk does.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		f.n = 0
		return 0, errors.New("no space left on device")
	}
	f.n -= len(p)
	return len(p), nil
}

// A write error (a full disk, a closed pipe) stops sampling and is returned,
// so gptctl generate does not exit 0 having written nothing.
func TestGenerateWriteError(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	for _, n := range []int{0, 5, 30} {
		w := &failAfter{n: n}
		err := generate(p, tok, GenerateOptions{Prompt: "ab", MaxNewTokens: 40, Temperature: 1, TopP: 1, NumSamples: 3}, w)
		if err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Errorf("writer failing after %d bytes: %v, want its error", n, err)
		}
	}
}

// zeroSource makes rand.Float64 return 0, its smallest value.
type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 0 }

// A token whose probability underflowed to 0 is never sampled, even when
// the uniform draw is exactly 0.
func TestSampleSkipsZeroProbability(t *testing.T) {
	logits := []float32{-1e4, 0, 1}
	for _, o := range []GenerateOptions{{Temperature: 1, TopP: 1}, {Temperature: 1, TopP: 0.99}, {Temperature: 1, TopK: 2, TopP: 1}} {
		if id := sample(logits, make([]float64, 3), o, rand.New(zeroSource{})); id == 0 {
			t.Errorf("%+v: drew id 0, of probability 0", o)
		}
	}
}

// tinyLM is a one-layer model of random weights for the sampling tests.
func tinyLM(t *testing.T, arch string, vocab, nctx, nembd int) *graph.Params {
	t.Helper()
	cfg := graph.Config{Arch: arch, VocabSize: vocab, NCtx: nctx, NEmbd: nembd, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// GPT-1's tokens end a word with a space ("there</w>" decodes as "there "):
// the sample continues after the space that ends the prompt's last word,
// as decoding the prompt's ids and the new ones together gives, not glued
// to it.
func TestGenerateGPT1ContinuesAfterPromptWord(t *testing.T) {
	dir := t.TempDir()
	enc := map[string]int{}
	for c := 'a'; c <= 'z'; c++ {
		enc[string(c)], enc[string(c)+"</w>"] = len(enc), len(enc)+1
	}
	enc[".</w>"] = len(enc)
	b, _ := json.Marshal(enc)
	writeFile(t, filepath.Join(dir, data.GPT1EncoderFile), string(b))
	writeFile(t, filepath.Join(dir, data.GPT1MergesFile), "#version: 0.2\n")
	tok, err := data.LoadGPT1BPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := startToken(tok); got != enc[".</w>"] {
		t.Errorf("an empty prompt starts at id %d, want %d: GPT-1 has no end-of-text token or newline, and a full stop ends a sentence", got, enc[".</w>"])
	}
	p := tinyLM(t, "gpt1", tok.VocabSize(), 32, 16)
	var out bytes.Buffer
	o := GenerateOptions{Prompt: "hello there", MaxNewTokens: 6, Temperature: 1, TopP: 1, Seed: 3}
	if err := generate(p, tok, o, &out); err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(o.Prompt)
	got := strings.TrimSuffix(out.String(), "\n")
	if !strings.HasPrefix(got, "hello there ") {
		t.Errorf("sample %q: want the prompt, the space that ends its last word, then the new tokens (%q decodes as %q)", got, o.Prompt, tok.Decode(ids))
	}
	// The space begins the new text: a stop string may begin with it, and
	// --json's text has it.
	gen := strings.TrimPrefix(got, o.Prompt)
	js := o
	js.JSON = true
	var whole bytes.Buffer
	if err := generate(p, tok, js, &whole); err != nil {
		t.Fatal(err)
	}
	var s Sample
	if err := json.Unmarshal(whole.Bytes(), &s); err != nil || s.Text != gen {
		t.Errorf("--json text %q (%v), want %q", s.Text, err, gen)
	}
	js.Stop = []string{gen[:2]}
	out.Reset()
	if err := generate(p, tok, js, &out); err != nil {
		t.Fatal(err)
	}
	s = Sample{}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Text != "" || s.FinishReason != "stop" || s.Tokens != 1 {
		t.Errorf("--stop %q, the space and the first new letter: %+v (%v), want an empty text after 1 token", js.Stop[0], s, err)
	}
	js.JSON = false
	out.Reset()
	if err := generate(p, tok, js, &out); err != nil || out.String() != o.Prompt+"\n" {
		t.Errorf("--stop %q printed %q (%v), want the prompt alone", js.Stop[0], out.String(), err)
	}
	for _, prompt := range []string{"hello there ", ""} { // nothing added after a space, or to no prompt
		out.Reset()
		o.Prompt = prompt
		if err := generate(p, tok, o, &out); err != nil {
			t.Fatal(err)
		}
		if prompt != "" && strings.HasPrefix(out.String(), prompt+" ") {
			t.Errorf("prompt %q: sample %q has a second space", prompt, out.String())
		}
	}
}

// The stop scanner hands out every byte of the text once, in order, never
// one that a later token turns into the start of a stop string, and cuts
// the text before the earliest stop string however the tokens split it.
func TestStopScanner(t *testing.T) {
	for _, c := range []struct {
		stops  []string
		pieces []string
		text   string // the sample's text, cut before the stop
		stop   string
	}{
		{nil, []string{"ab", "c"}, "abc", ""},
		{[]string{"\n\n"}, []string{"a\n", "\nb"}, "a", "\n\n"},
		{[]string{"\n\n"}, []string{"a\n", "b\n", "c"}, "a\nb\nc", ""},
		{[]string{"END"}, []string{"xE", "N", "xEN", "D!"}, "xENx", "END"},
		{[]string{"abc"}, []string{"aab", "ab", "c"}, "aab", "abc"},
		{[]string{"cd", "b"}, []string{"abcd"}, "a", "b"},     // the first to complete wins
		{[]string{"bc", "b"}, []string{"abc"}, "a", "b"},      // whatever follows
		{[]string{"END", "N"}, []string{"EN", "D"}, "E", "N"}, // and however the tokens split
		{[]string{"END", "N"}, []string{"END"}, "E", "N"},
		{[]string{"c", "bc"}, []string{"abcd"}, "a", "bc"}, // of two ending together, the longer
		{[]string{"a longer stop"}, []string{"a", " long", "ish"}, "a longish", ""},
		{[]string{"é"}, []string{"caf\xc3", "\xa9!"}, "caf", "é"}, // a character split over two tokens
		// The text is UTF-8, as Python's decode(errors="replace") makes it:
		// a character is held until whole, the start of one left at the end
		// is U+FFFD, and so is each maximal subpart of other bytes.
		{nil, []string{"caf\xc3"}, "caf\uFFFD", ""},
		{nil, []string{"Hi\xe2\x86"}, "Hi\uFFFD", ""},
		{nil, []string{"\xe2", "\x80", "\x99!"}, "\u2019!", ""},
		{nil, []string{"\xf0\x9f", "\x98", "\x80"}, "\U0001F600", ""},
		{nil, []string{"\xf0\x9f", "\x98"}, "\uFFFD", ""},
		{nil, []string{"a\x80b"}, "a\uFFFDb", ""},
		{nil, []string{"\xe2\x86X"}, "\uFFFDX", ""},
		{nil, []string{"\xe2", "X"}, "\uFFFDX", ""},
		{nil, []string{"a\xe2\x80", "\xe2\x80\x99"}, "a\uFFFD\u2019", ""},
		{nil, []string{"\xf0\x80\x80"}, "\uFFFD\uFFFD\uFFFD", ""},
		{nil, []string{"\xed\xa0", "\x80"}, "\uFFFD\uFFFD\uFFFD", ""}, // a surrogate
		{nil, []string{"\xf4\x90\x80\x80"}, "\uFFFD\uFFFD\uFFFD\uFFFD", ""},
		{nil, []string{"\xc0\xaf"}, "\uFFFD\uFFFD", ""},
		{nil, []string{"\uFFFD\xff"}, "\uFFFD\uFFFD", ""},
		{[]string{"\u2019"}, []string{"a\xe2\x80", "\x99b"}, "a", "\u2019"},
		{[]string{"!"}, []string{"a\xe2", "!"}, "a\uFFFD", "!"},
		{[]string{"\uFFFD"}, []string{"ab\xe2"}, "ab", "\uFFFD"},      // found in the U+FFFD of the end
		{[]string{"b\uFFFD"}, []string{"ab\xe2\x80"}, "a", "b\uFFFD"}, // its start held back till then
		{[]string{"x"}, []string{"ax\xe2"}, "a", "x"},                 // a split character after a stop string is not text
	} {
		s := stopScanner{stops: c.stops}
		var got strings.Builder
		stop := ""
		for i, p := range c.pieces {
			ready, st := s.add(p)
			got.WriteString(ready)
			if !utf8.ValidString(ready) {
				t.Errorf("%q after %q: handed out %q, not UTF-8", c.stops, c.pieces[:i+1], ready)
			}
			for _, x := range c.stops { // what was handed out never reaches into a stop string
				if strings.Contains(got.String(), x) {
					t.Errorf("%q after %q: handed out %q, holding %q", c.stops, c.pieces[:i+1], got.String(), x)
				}
			}
			if st != "" {
				stop = st
				break
			}
		}
		rest, st := s.end()
		got.WriteString(rest)
		stop += st
		if got.String() != c.text || string(s.text) != c.text || stop != c.stop {
			t.Errorf("stops %q, tokens %q: text %q (held %q), stop %q; want %q, %q", c.stops, c.pieces, got.String(), s.text, stop, c.text, c.stop)
		}
	}
}

// --num-samples times the number of prompts must count in an int: more is
// refused as a usage error naming the flag and the limit, not sampled
// from a decoder of a wrapped-around number of slots.
func TestGenerateNumSamplesOverflow(t *testing.T) {
	o := DefaultGenerate
	o.Prompts, o.PromptFrom = []Prompt{{Text: "a", Line: 1}, {Text: "b", Line: 2}, {Text: "c", Line: 3}, {Text: "d", Line: 4}}, "p.jsonl"
	for _, ns := range []int{math.MaxInt/4 + 1, math.MaxInt/2 + 1, math.MaxInt} {
		o.NumSamples = ns
		err := o.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("--num-samples %d times the 4 prompts of p.jsonl is over %d samples", ns, math.MaxInt)) {
			t.Errorf("--num-samples %d with 4 prompts: %v, want a usage error naming --num-samples and the limit", ns, err)
		}
	}
	o.NumSamples = math.MaxInt / 4
	if err := o.Validate(); err != nil {
		t.Errorf("--num-samples %d with 4 prompts: %v", o.NumSamples, err)
	}
}

// scriptDecoder makes the byte tokenizer's sample script, a byte a step
// after a one-token prompt, certain.
type scriptDecoder struct {
	script string
	n      []int
	out    []float32
}

func (d *scriptDecoder) Context() int     { return 1 << 20 }
func (d *scriptDecoder) Slots() int       { return len(d.n) }
func (d *scriptDecoder) Len(slot int) int { return d.n[slot] }
func (d *scriptDecoder) Reset(slot int)   { d.n[slot] = 0 }
func (d *scriptDecoder) Feed(slots []int, ids [][]int) ([]float32, error) {
	d.out = d.out[:0]
	for i, s := range slots {
		d.n[s] += len(ids[i])
		row := make([]float32, 256)
		row[d.script[(d.n[s]-1)%len(d.script)]] = 100
		d.out = append(d.out, row...)
	}
	return d.out, nil
}

// A sample's text is UTF-8 in the text output as in --json, byte for byte:
// a character its last token cuts, and bytes that are not UTF-8, are
// U+FFFD there too, as Hugging Face's decode makes them; a stop string is
// found in that text.
func TestGenerateUTF8(t *testing.T) {
	for _, c := range []struct {
		script string
		n      int
		stop   []string
		text   string
		reason string
	}{
		{"Hi \xe2\x80\x99s", 5, nil, "Hi \uFFFD", "length"}, // ’ is two GPT-2 tokens; one drawn
		{"Hi \xe2\x80\x99s", 6, nil, "Hi \u2019", "length"},
		{"a\x80\xe2\x86b", 5, nil, "a\uFFFD\uFFFDb", "length"},
		{"x\xe2\x80\x99y", 5, []string{"\u2019"}, "x", "stop"},
		{"ab\xe2\x80\x99", 4, []string{"\uFFFD"}, "ab", "stop"},
	} {
		o := GenerateOptions{MaxNewTokens: c.n, TopP: 1, Stop: c.stop, NumSamples: 3, BatchSize: 2}
		var text, js bytes.Buffer
		for _, w := range []*bytes.Buffer{&text, &js} {
			o.JSON = w == &js
			err := sampleWith(data.ByteTokenizer{}, o, w, func(slots int) (decoder, error) {
				return &scriptDecoder{script: c.script, n: make([]int, slots)}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		sep := "\n" + sampleSeparator + "\n"
		if want := c.text + sep + c.text + sep + c.text + "\n"; text.String() != want || !utf8.Valid(text.Bytes()) {
			t.Errorf("%q, -n %d, --stop %q: printed %q, want %q", c.script, c.n, c.stop, text.String(), want)
		}
		var s Sample
		if err := json.Unmarshal(bytes.SplitN(js.Bytes(), []byte("\n"), 2)[0], &s); err != nil {
			t.Fatal(err)
		}
		if s.Text != c.text || s.FinishReason != c.reason {
			t.Errorf("%q, -n %d, --stop %q: --json text %q (%s), want %q (%s)", c.script, c.n, c.stop, s.Text, s.FinishReason, c.text, c.reason)
		}
	}
}

// --stop ends each sample before the first stop string in its new text:
// the output is the unstopped output cut there, with the same draws; the
// prompt is not searched. --json writes the same text as JSON lines, with
// the tokens drawn and why each sample ended.
func TestGenerateStopAndJSON(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 60, Temperature: 1, TopP: 1, Seed: 5, IgnoreEOT: true}
	var all bytes.Buffer
	if err := generate(p, tok, o, &all); err != nil {
		t.Fatal(err)
	}
	gen := strings.TrimSuffix(strings.TrimPrefix(all.String(), "ab"), "\n")
	if len(gen) != 60 {
		t.Fatalf("generated %q, want 60 characters", gen)
	}
	stop := gen[20:22] // a stop string that first occurs at byte 20 or before
	want := gen[:strings.Index(gen, stop)]
	o.Stop = []string{"ab", stop} // "ab" is the prompt: not searched
	if strings.Contains(gen, "ab") {
		o.Stop = []string{stop}
	}
	var stopped bytes.Buffer
	if err := generate(p, tok, o, &stopped); err != nil {
		t.Fatal(err)
	}
	if got := stopped.String(); got != "ab"+want+"\n" {
		t.Errorf("--stop %q printed %q, want %q", o.Stop, got, "ab"+want+"\n")
	}

	o.JSON, o.NumSamples = true, 2
	var js bytes.Buffer
	if err := generate(p, tok, o, &js); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("--json with 2 samples wrote %q, want two lines", js.String())
	}
	var s Sample
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, Sample{Sample: 0, Prompt: "ab", Text: want, Tokens: len(want) + len(stop), FinishReason: "stop", Stop: stop}) {
		t.Errorf("--json sample %+v, want the text %q, %d tokens, ended by %q", s, want, len(want)+len(stop), stop)
	}
	if err := json.Unmarshal([]byte(lines[1]), &s); err != nil || s.Sample != 1 {
		t.Errorf("second line %q: sample %d, %v", lines[1], s.Sample, err)
	}

	o.Stop, o.NumSamples = nil, 1
	js.Reset()
	if err := generate(p, tok, o, &js); err != nil {
		t.Fatal(err)
	}
	s = Sample{}
	if err := json.Unmarshal(js.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, Sample{Prompt: "ab", Text: gen, Tokens: 60, FinishReason: "length"}) {
		t.Errorf("--json without a stop: %+v, want %q, 60 tokens, length", s, gen)
	}
}

// A sampled end-of-text token is the finish reason "eot" in --json.
func TestGenerateJSONEndOfText(t *testing.T) {
	tok := eotChars{data.NewCharTokenizer("abcdefghij klmnop.")}
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 200, Temperature: 1, TopP: 1, Seed: 5, JSON: true}
	var js bytes.Buffer
	if err := generate(p, tok, o, &js); err != nil {
		t.Fatal(err)
	}
	var s Sample
	if err := json.Unmarshal(js.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.FinishReason != "eot" || s.Tokens != len(s.Text) || strings.Contains(s.Text, ".") {
		t.Errorf("%+v: want the text before the end-of-text token and finish reason eot", s)
	}
}

// A prompts file is JSON lines of {"prompt": ...} objects (an "id" kept as
// written) or JSON strings; blank lines, a byte order mark and CRLF are
// taken in stride, and a bad line is named by file and line.
func TestReadPrompts(t *testing.T) {
	got, err := ReadPrompts([]byte("\xef\xbb\xbf{\"prompt\": \"a\\nb\", \"id\": {\"k\": 1}, \"other\": 2}\r\n\r\n\"ROMEO:\"\n  {\"id\": \"x\", \"prompt\": \"\"}  \n"), "p.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := []Prompt{{Line: 1, ID: json.RawMessage(`{"k": 1}`), Text: "a\nb"}, {Line: 3, Text: "ROMEO:"}, {Line: 4, ID: json.RawMessage(`"x"`), Text: ""}}
	if !slices.EqualFunc(got, want, func(a, b Prompt) bool { return a.Line == b.Line && bytes.Equal(a.ID, b.ID) && a.Text == b.Text }) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, c := range []struct{ file, want string }{
		{"{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n", "p.jsonl:2: "},
		{"{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n", `p.jsonl:2: the object has no "prompt" string`},
		{"{\"prompt\": 3}\n", `p.jsonl:1: "prompt" is a JSON number; it must be a string`},
		{"{\"Prompt\": \"a\"}\n", `p.jsonl:1: the object has no "prompt" string`}, // keys are matched exactly
		{"{\"prompt\": null}\n", `p.jsonl:1: the object has no "prompt" string`},
		{"\n\nROMEO:\n", "p.jsonl:3: a line is a JSON object"},
		{"\"unterminated\n", "p.jsonl:1: "},
		{"\n \n", `p.jsonl: no prompts`},
	} {
		_, err := ReadPrompts([]byte(c.file), "p.jsonl")
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want an input error starting %q", c.file, err, c.want)
		}
	}
}

// Prompts are sampled from in file order, NumSamples each, from one seeded
// stream: the first prompt's first sample is what --prompt alone draws;
// --json names each sample's line and id. A prompt the tokenizer cannot
// read stops generate before its first sample, naming its line.
func TestGeneratePrompts(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 10, Temperature: 1, TopP: 1, Seed: 5}
	var one bytes.Buffer
	if err := generate(p, tok, o, &one); err != nil {
		t.Fatal(err)
	}
	o.Prompts = []Prompt{{Line: 1, ID: json.RawMessage(`"first"`), Text: "ab"}, {Line: 3, Text: "kl"}}
	o.NumSamples = 2
	var text bytes.Buffer
	if err := generate(p, tok, o, &text); err != nil {
		t.Fatal(err)
	}
	samples := strings.Split(text.String(), sampleSeparator+"\n")
	if len(samples) != 4 || samples[0] != one.String() || !strings.HasPrefix(samples[1], "ab") || !strings.HasPrefix(samples[2], "kl") || !strings.HasPrefix(samples[3], "kl") {
		t.Errorf("two prompts, two samples each: %q; --prompt alone: %q", samples, one.String())
	}
	o.JSON = true
	var js bytes.Buffer
	if err := generate(p, tok, o, &js); err != nil {
		t.Fatal(err)
	}
	want := []string{`"line":1,"id":"first","sample":0,"prompt":"ab"`, `"line":1,"id":"first","sample":1,"prompt":"ab"`, `"line":3,"sample":0,"prompt":"kl"`, `"line":3,"sample":1,"prompt":"kl"`}
	lines := strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("--json wrote %q, want %d lines", js.String(), len(want))
	}
	for i, l := range lines {
		var s Sample
		if !strings.HasPrefix(l, "{"+want[i]+",") || json.Unmarshal([]byte(l), &s) != nil || strings.TrimSuffix(samples[i], "\n") != s.Prompt+s.Text {
			t.Errorf("line %d: %s, want it to start %s and hold the text sample %q", i, l, want[i], samples[i])
		}
	}
	o.Prompts = append(o.Prompts, Prompt{Line: 4, Text: "xyz"})
	o.PromptFrom = "p.jsonl"
	js.Reset()
	err := generate(p, tok, o, &js)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), "p.jsonl:4: ") || js.Len() != 0 {
		t.Errorf("a prompt of unknown characters on line 4: %v, with %q written; want an input error naming p.jsonl:4 before any sample", err, js.String())
	}
}

// Samples drawn together print what drawing them one at a time prints:
// prompts of different lengths (one longer than the context), several
// samples each, windows sliding past a context of 16, stop strings,
// end-of-text tokens and no new tokens at all, as text and as JSON, for
// batches of 2, 3, 7 and more than the samples; a write error stops them.
func TestGenerateBatched(t *testing.T) {
	tok := eotChars{data.NewCharTokenizer("abcdefghij klmnop.")}
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	prompts := []Prompt{{Line: 1, Text: "ab"}, {Line: 2, Text: "klmnop abcdefghij klm"}, {Line: 3, ID: json.RawMessage(`7`), Text: ""}, {Line: 5, Text: "j"}}
	for _, o := range []GenerateOptions{
		{MaxNewTokens: 40, Temperature: 1, TopP: 1, Seed: 5, NumSamples: 3},
		{MaxNewTokens: 40, Temperature: 1, TopP: 1, Seed: 5, NumSamples: 3, IgnoreEOT: true, Stop: []string{"ab", "k "}},
		{MaxNewTokens: 25, Temperature: 0.7, TopK: 5, TopP: 0.9, Seed: 9, NumSamples: 2, IgnoreEOT: true},
		{MaxNewTokens: 25, Temperature: 1, TopP: 1, Seed: 3, NumSamples: 2, IgnoreEOT: true, RepetitionPenalty: 1.3},
		{MaxNewTokens: 0, Temperature: 1, TopP: 1, NumSamples: 2},
	} {
		for _, js := range []bool{false, true} {
			o.Prompts, o.JSON, o.BatchSize = prompts, js, 1
			var one bytes.Buffer
			if err := generate(p, tok, o, &one); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(one.String(), "\n"); js && n != len(prompts)*o.NumSamples {
				t.Fatalf("%d JSON lines, want %d: %s", n, len(prompts)*o.NumSamples, one.String())
			}
			for _, b := range []int{2, 3, 7, 100} {
				o.BatchSize = b
				var got bytes.Buffer
				if err := generate(p, tok, o, &got); err != nil {
					t.Fatal(err)
				}
				if got.String() != one.String() {
					t.Errorf("%+v, batch %d:\n%s\nwant, as one at a time:\n%s", o, b, got.String(), one.String())
				}
				for _, n := range []int{0, 7, len(one.String()) / 2} {
					if err := generate(p, tok, o, &failAfter{n: n}); err == nil || !strings.Contains(err.Error(), "no space left") {
						t.Errorf("batch %d, writer failing after %d bytes: %v, want its error", b, n, err)
					}
				}
			}
		}
	}
}

// The repetition penalty divides the positive logits of the ids a sample
// holds and multiplies the negative ones, once an id however often it
// occurs, as Hugging Face's does; 1 changes nothing, a penalty that is
// negative or not a number is refused.
func TestRepetitionPenalty(t *testing.T) {
	g := &generation{}
	logits := []float32{2, 1.5, -1, 0.5}
	g.penalize(logits, []int{0, 2, 0}, 2)
	if want := []float32{1, 1.5, -2, 0.5}; !slices.Equal(logits, want) {
		t.Errorf("penalized logits %v, want %v", logits, want)
	}
	if id := sample(logits, make([]float64, 4), GenerateOptions{}, nil); id != 1 {
		t.Errorf("greedy draw %d after the penalty, want 1", id)
	}

	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 30, TopP: 1, Seed: 5} // greedy
	var plain, one, penalized bytes.Buffer
	for _, c := range []struct {
		pen float64
		out *bytes.Buffer
	}{{0, &plain}, {1, &one}, {1e6, &penalized}} {
		o.RepetitionPenalty = c.pen
		if err := generate(p, tok, o, c.out); err != nil {
			t.Fatal(err)
		}
	}
	if one.String() != plain.String() || penalized.String() == plain.String() {
		t.Errorf("greedy: %q; penalty 1: %q; penalty 1e6: %q; want the first two equal, the third not", plain.String(), one.String(), penalized.String())
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := (GenerateOptions{TopP: 1, RepetitionPenalty: bad}).Validate(); err == nil || !strings.Contains(err.Error(), "--repetition-penalty") {
			t.Errorf("penalty %v: %v", bad, err)
		}
	}
}

// fixedDecoder stands in for a model whose step costs nothing: every slot's
// logits are the same fixed row, so what is timed is generate's own work
// per token (the draws, the stop scan, the output), the part that runs on
// the host when the model runs on a GPU.
type fixedDecoder struct {
	row   []float32
	n     []int
	out   []float32
	slots int
}

func (d *fixedDecoder) Context() int     { return 1 << 20 }
func (d *fixedDecoder) Slots() int       { return d.slots }
func (d *fixedDecoder) Len(slot int) int { return d.n[slot] }
func (d *fixedDecoder) Reset(slot int)   { d.n[slot] = 0 }
func (d *fixedDecoder) Feed(slots []int, ids [][]int) ([]float32, error) {
	d.out = d.out[:0]
	for i, s := range slots {
		d.n[s] += len(ids[i])
		d.out = append(d.out, d.row...)
	}
	return d.out, nil
}

// wideChars is a char tokenizer padded to GPT-2's 50,257 ids: the ids past
// its characters decode to nothing.
type wideChars struct{ *data.CharTokenizer }

func (t wideChars) VocabSize() int { return 50257 }
func (t wideChars) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id < t.CharTokenizer.VocabSize() {
			b.WriteString(t.CharTokenizer.Decode([]int{id}))
		}
	}
	return b.String()
}

// BenchmarkSamplingHost: generate's host work for eight samples drawn
// together over GPT-2's 50,257 logits, 64 tokens each (ns/op is for all
// 512; ms/token for one), with a model that costs nothing: on a GPU this, not the model,
// bounds the tokens/s. The draws of a step run in parallel.
func BenchmarkSamplingHost(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]float32, 50257)
	for i := range row {
		row[i] = float32(r.NormFloat64() * 3)
	}
	tok := wideChars{data.NewCharTokenizer("abcdefgh ")}
	o := GenerateOptions{Prompt: "ab", MaxNewTokens: 64, Temperature: 0.8, TopP: 1, NumSamples: 8, BatchSize: 8, IgnoreEOT: true}
	for b.Loop() {
		err := sampleWith(tok, o, io.Discard, func(slots int) (decoder, error) {
			return &fixedDecoder{row: row, n: make([]int, slots), slots: slots}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed())/1e6/float64(b.N*o.NumSamples*o.MaxNewTokens), "ms/token")
}

// A prompt over the context is cut to its last n_ctx tokens with one note
// on the log, naming the first such prompt; prompts within it get none.
func TestGenerateNotesLongPrompt(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefgh ")
	cfg := graph.Config{Arch: "gpt1", VocabSize: tok.VocabSize(), NCtx: 8, NEmbd: 16, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	o := GenerateOptions{MaxNewTokens: 2, TopP: 1, NumSamples: 1, BatchSize: 2, Log: &log, PromptFrom: "p.jsonl",
		Prompts: []Prompt{{Line: 1, Text: "abc"}, {Line: 3, Text: "abcdefgh a"}, {Line: 4, Text: "hgfedcba b"}}}
	if err := generate(p, tok, o, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "note: the prompt (p.jsonl:3) is 10 tokens, over the model's context of 8: the model sees its last 8 (as of any longer prompt)\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	log.Reset()
	o.Prompts = o.Prompts[:1]
	if err := generate(p, tok, o, io.Discard); err != nil || log.Len() != 0 {
		t.Errorf("a prompt within the context: %v, log %q", err, log.String())
	}
}

// The GPU samples from models whose context fits its attention kernel's
// shared memory; generate says why it cannot from others.
func TestGPUSamplingLimit(t *testing.T) {
	for _, c := range []struct {
		nCtx, nEmbd, nHead int
		want               string
	}{
		{1024, 768, 12, ""},
		{12000, 768, 12, ""},
		{12001, 768, 12, "the model's n_ctx 12001 is over the 12000 tokens the GPU's sampling attention holds at head size 64"},
		{4096, 8192, 64, ""},
		{64, 16384, 1, "the model's n_ctx 64 is over the 0 tokens the GPU's sampling attention holds at head size 16384"},
	} {
		cfg := graph.Config{NCtx: c.nCtx, NEmbd: c.nEmbd, NHead: c.nHead}
		if got := gpuSamplingLimit(cfg); got != c.want {
			t.Errorf("n_ctx %d, n_embd %d, n_head %d: %q, want %q", c.nCtx, c.nEmbd, c.nHead, got, c.want)
		}
	}
}

// recordDecoder is a fixedDecoder that keeps every token it is fed.
type recordDecoder struct {
	fixedDecoder
	fed []int
}

func (d *recordDecoder) Feed(slots []int, ids [][]int) ([]float32, error) {
	for _, l := range ids {
		d.fed = append(d.fed, l...)
	}
	return d.fixedDecoder.Feed(slots, ids)
}

// With Special, "<|endoftext|>" in a prompt reaches the model as the
// end-of-text token; without it, as the characters it is. A tokenizer
// with no special tokens refuses Special.
func TestGenerateSpecial(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "c.txt")
	writeFile(t, corpus, strings.Repeat("the cat sat on the mat. ", 50))
	bpe, err := data.TrainBPE([]string{corpus}, 280, nil)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(tok data.Tokenizer, special bool) ([]int, error) {
		d := &recordDecoder{fixedDecoder: fixedDecoder{row: make([]float32, tok.VocabSize()), n: make([]int, 1), slots: 1}}
		o := GenerateOptions{Prompt: "the cat<|endoftext|>the mat", MaxNewTokens: 1, TopP: 1, NumSamples: 1, Special: special}
		err := sampleWith(tok, o, io.Discard, func(int) (decoder, error) { return d, nil })
		return d.fed, err
	}
	eot := bpe.EOT()
	fed, err := feed(bpe, true)
	if err != nil || !slices.Equal(fed, bpe.EncodeWithSpecial("the cat<|endoftext|>the mat")) || !slices.Contains(fed, eot) {
		t.Errorf("Special: fed %v (%v), want the prompt with the end-of-text token %d", fed, err, eot)
	}
	fed, err = feed(bpe, false)
	if err != nil || !slices.Equal(fed, bpe.Encode("the cat<|endoftext|>the mat")) || slices.Contains(fed, eot) {
		t.Errorf("without Special: fed %v (%v), want the prompt's characters", fed, err)
	}
	var ce *ConfigError
	if _, err := feed(data.NewCharTokenizer("the cat<|endofx>m"), true); !errors.As(err, &ce) || !strings.Contains(err.Error(), "--special") {
		t.Errorf("Special with a char tokenizer: %v, want a ConfigError naming --special", err)
	}
}

// perturb moves every weight of p (biases and LayerNorms too) off its
// initial value by N(0, 0.1) draws from seed, so that each of them counts.
func perturb(p *graph.Params, seed uint64) {
	rng := graph.NewRNG(seed)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] += float32(rng.NormFloat64() * 0.1)
		}
	}
}

// cancelDecoder cancels its context before its feed number n (0: the
// first).
type cancelDecoder struct {
	decoder
	n, fed int
	cancel context.CancelCauseFunc
}

func (d *cancelDecoder) Feed(slots []int, ids [][]int) ([]float32, error) {
	if d.fed == d.n {
		d.cancel(errors.New("received terminated"))
	}
	d.fed++
	return d.decoder.Feed(slots, ids)
}

// A cancelled context stops generate after the step at hand: the samples
// started are written in order as they stand, the unfinished ones with
// finish_reason "interrupted" and their text so far (text held back as
// the possible start of a stop string included), the finished ones
// held behind them too, and none of the samples not started; the error
// says how many of each. The text output is the same samples.
func TestGenerateInterrupted(t *testing.T) {
	tok := eotChars{data.NewCharTokenizer("abcdefghij klmnop.")}
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	prompts := []Prompt{{Line: 1, Text: "ab"}, {Line: 2, Text: "klmnop abc"}, {Line: 3, Text: "j"}}
	o := GenerateOptions{MaxNewTokens: 30, Temperature: 1, TopP: 1, Seed: 5, NumSamples: 3, IgnoreEOT: true,
		Stop: []string{"ab", "k "}, Prompts: prompts, JSON: true, BatchSize: 4}
	var whole bytes.Buffer
	if err := generate(p, tok, o, &whole); err != nil {
		t.Fatal(err)
	}
	var full []Sample
	for l := range strings.Lines(whole.String()) {
		var s Sample
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatal(err)
		}
		full = append(full, s)
	}
	// A stop before the first step (a signal while the model loads) writes
	// nothing: no sample has started.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("received terminated"))
	o.Context = ctx
	var none bytes.Buffer
	err := generate(p, tok, o, &none)
	if want := "generate stopped (received terminated): 0 of 9 samples written whole, 0 cut short (finish_reason \"interrupted\")"; err == nil || err.Error() != want || none.Len() > 0 {
		t.Errorf("stopped before the first step: %v, with %q written; want %q and nothing", err, none.String(), want)
	}
	heldBehind := false // whether a whole sample came after a cut one
	for n := 0; n < 40; n++ {
		var js, text bytes.Buffer
		var err [2]error
		for i, w := range []*bytes.Buffer{&js, &text} {
			ctx, cancel := context.WithCancelCause(context.Background())
			o.Context, o.JSON = ctx, i == 0
			err[i] = sampleWith(tok, o, w, func(slots int) (decoder, error) {
				d, err := graph.NewDecoderSlots(p, slots)
				return &cancelDecoder{decoder: d, n: n, cancel: cancel}, err
			})
		}
		var got []Sample
		for l := range strings.Lines(js.String()) {
			var s Sample
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		cut, wholeN := 0, 0
		var texts []string
		for i, s := range got {
			f := full[i]
			texts = append(texts, s.Prompt+s.Text+"\n")
			if s.FinishReason != "interrupted" {
				wholeN++
				heldBehind = heldBehind || cut > 0
				if !reflect.DeepEqual(s, f) {
					t.Errorf("stopped before feed %d: sample %d %+v, want it whole: %+v", n, i, s, f)
				}
				continue
			}
			cut++
			if s.Line != f.Line || s.Sample != f.Sample || !strings.HasPrefix(f.Text+f.Stop, s.Text) || s.Tokens >= f.Tokens {
				t.Errorf("stopped before feed %d: sample %d %+v, want the start of %+v", n, i, s, f)
			}
		}
		if len(got) == len(full) && cut == 0 {
			if err[0] != nil || err[1] != nil {
				t.Errorf("cancelled at the last feed (%d): %v, %v; want the samples done", n, err[0], err[1])
			}
			if n < 5 {
				t.Fatalf("the run ended after %d feeds: too few to test", n)
			}
			break
		}
		want := fmt.Sprintf("generate stopped (received terminated): %d of 9 samples written whole, %d cut short (finish_reason \"interrupted\")", wholeN, cut)
		if err[0] == nil || err[0].Error() != want || err[1] == nil || err[1].Error() != want {
			t.Errorf("stopped before feed %d: %v (text: %v), want %q", n, err[0], err[1], want)
		}
		if cut == 0 || len(got) == 0 {
			t.Errorf("stopped before feed %d: %d samples written, %d cut; want the samples started", n, len(got), cut)
		}
		if w := strings.Join(texts, sampleSeparator+"\n"); text.String() != w {
			t.Errorf("stopped before feed %d: the text output\n%s\nwant the JSON's samples\n%s", n, text.String(), w)
		}
	}
	if !heldBehind {
		t.Error("no stop left a finished sample behind a cut one: the test does not cover held samples")
	}
}

// cancelOnWrite cancels its context at its first write (a signal that
// arrives while the first sample is printed).
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelCauseFunc
}

func (w *cancelOnWrite) Write(b []byte) (int, error) {
	w.cancel(errors.New("received terminated"))
	return w.Buffer.Write(b)
}

// A stop ends generate also when every sample ends as it starts (no new
// tokens, no decoder step between them): the samples after it are not
// started.
func TestGenerateInterruptedWithoutSteps(t *testing.T) {
	tok := eotChars{data.NewCharTokenizer("abcdefghij klmnop.")}
	p := tinyLM(t, "gpt2", tok.VocabSize(), 16, 16)
	for _, n := range []int{1, 0} {
		ctx, cancel := context.WithCancelCause(context.Background())
		o := GenerateOptions{MaxNewTokens: n, Temperature: 1, TopP: 1, Seed: 5, NumSamples: 1000, Prompt: "ab",
			JSON: true, BatchSize: 2, Context: ctx}
		w := &cancelOnWrite{cancel: cancel}
		err := generate(p, tok, o, w)
		if lines := strings.Count(w.String(), "\n"); err == nil || !strings.Contains(err.Error(), "generate stopped") || lines > 2 {
			t.Errorf("max-new-tokens %d, stopped at the first write: %v, %d of 1000 samples written; want it stopped after at most 2", n, err, lines)
		}
	}
}

// Past the context a step holds one whole window: the sample printing (the
// lowest index running) gets it, not the first slot's, which may hold a
// later sample since slots are reused (the printing sample waited behind
// later ones, and its text stalled).
func TestFeedServesSamplesInOrder(t *testing.T) {
	const T = 8
	d := &fixedDecoder{n: make([]int, 4), slots: 4}
	g := &generation{dec: ctxDecoder{d, T}, slots: make([]*genJob, 4)}
	for slot, index := range []int{5, 2, 7, 3} { // slot 1 holds the earliest sample
		ids := make([]int, T+3)
		g.slots[slot] = &genJob{index: index, ids: ids, fed: true}
		d.n[slot] = T // full: the next token reruns the window
	}
	slots, feed := g.feed()
	if len(slots) != 1 || slots[0] != 1 || len(feed[0]) != T {
		t.Errorf("fed slots %v (windows of %d), want slot 1 alone, with a window of %d", slots, len(feed[0]), T)
	}
	// Below the context, every sample gets its token, earliest first.
	for slot := range d.n {
		d.n[slot] = 3
	}
	if slots, _ = g.feed(); !slices.Equal(slots, []int{1, 3, 0, 2}) {
		t.Errorf("fed slots %v, want 1 3 0 2 (samples 2 3 5 7)", slots)
	}
}

// ctxDecoder is a decoder of context T.
type ctxDecoder struct {
	*fixedDecoder
	T int
}

func (d ctxDecoder) Context() int { return d.T }

// A --batch-size whose sequences' logits and caches cannot fit in memory
// is refused before the first sample (it grew to the OOM killer), naming
// the flag; one that fits passes, as does a large --batch-size beyond the
// samples there are, which opens no more slots than samples.
func TestSamplingFits(t *testing.T) {
	cfg := graph.Config{Arch: "gpt1", VocabSize: 50257, NCtx: 1024, NEmbd: 768, NHead: 12, NLayer: 12}
	var ce *ConfigError
	for _, device := range []string{"cpu", "cuda"} {
		err := samplingFits(cfg, GenerateOptions{BatchSize: 1 << 30, NumSamples: 1 << 30}, device)
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "sampling 1073741824 sequences at once (--batch-size 1073741824)") || !strings.HasSuffix(err.Error(), "lower --batch-size") {
			t.Errorf("%s: %v, want a config error naming --batch-size", device, err)
		}
	}
	if err := samplingFits(cfg, GenerateOptions{BatchSize: 8, NumSamples: 8}, "cpu"); err != nil {
		t.Errorf("8 sequences: %v", err)
	}
	if err := samplingFits(cfg, GenerateOptions{BatchSize: 1 << 30, NumSamples: 2}, "cpu"); err != nil {
		t.Errorf("a --batch-size beyond the 2 samples: %v", err)
	}
}
