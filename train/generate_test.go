package train

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/kernels"
)

// TestGenerateSlidesPastTheContext: sampling through the cached decoder
// prints what the same draws pick from a forward of the whole window through
// the graph at every step, also after the text outgrows the context and the window
// slides (a context of 8, a prompt of 3, 30 new tokens).
func TestGenerateSlidesPastTheContext(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	for _, arch := range []string{"gpt1", "gpt2"} {
		cfg := graph.Config{Arch: arch, VocabSize: tok.VocabSize(), NCtx: 8, NEmbd: 16, NHead: 2, NLayer: 2, LNEps: 1e-5}
		p, err := graph.NewParams(cfg, kernels.NewRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		rng := kernels.NewRNG(4)
		for _, w := range p.List { // a model with opinions: greedy output that varies
			for i := range w.Data {
				w.Data[i] += float32(rng.NormFloat64() * 0.1)
			}
		}
		const prompt, n = "fab", 30
		o := GenerateOptions{Prompt: prompt, MaxNewTokens: n, Temperature: 1, TopP: 1, Seed: 9}
		var out bytes.Buffer
		if err := generate(p, tok, o, &out); err != nil {
			t.Fatal(err)
		}

		m, err := graph.New(p, 1, cfg.NCtx, &kernels.Mode{}, kernels.NewRNG(0))
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
			logits := kernels.Floats(m.Machine().Value(m.Logits))[(len(window)-1)*V : len(window)*V]
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
	cfg := graph.Config{Arch: "gpt1", VocabSize: tok.VocabSize(), NCtx: 8, NEmbd: 8, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, kernels.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	err = generate(p, tok, GenerateOptions{Prompt: "abZ cQ", MaxNewTokens: 3, TopP: 1}, new(bytes.Buffer))
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `characters "ZQ" are not in the model's vocabulary`) {
		t.Errorf("got %v, want an input error naming Z and Q", err)
	}
}

// --num-samples draws its samples one after another from one seeded stream:
// the first equals a single sample, the others differ, each starts with the
// prompt and runs MaxNewTokens tokens, and a line of dashes sits between them.
func TestGenerateNumSamples(t *testing.T) {
	tok := data.NewCharTokenizer("abcdefghij klmnop.")
	cfg := graph.Config{Arch: "gpt2", VocabSize: tok.VocabSize(), NCtx: 16, NEmbd: 16, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, kernels.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
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
