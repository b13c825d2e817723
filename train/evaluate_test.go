package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/data"
	"gptctl/graph"
)

// EvalLM with a stride scores every token once; with stride S, token i
// (predicting i+1) sees the tokens from c(i) on, where c(i) = 0 in the
// first window and otherwise the start of the first window k*S that reaches
// it. Checked against one forward per token with exactly that context, for
// strides 1 (full context everywhere), 3 and n_ctx (= no stride).
func TestEvalLMStride(t *testing.T) {
	dir, tok, p := evalModel(t)
	cfg := p.Config
	text := "the cat sat on the mat, and it was glad."
	file := writeFile(t, filepath.Join(t.TempDir(), "t.txt"), text)
	ids := tok.Encode(text)
	n, T := len(ids)-1, cfg.NCtx

	m, loss, targets, prog := oneRowLM(t, p, T)
	nll := func(c, i int) float64 { // -log p(ids[i+1] | ids[c..i])
		in, tg := graph.Int32Data(m.Idx), graph.Int32Data(targets)
		clear(in)
		for j := range tg {
			tg[j] = -1
		}
		for j := c; j <= i; j++ {
			in[j-c] = int32(ids[j])
		}
		tg[i-c] = int32(ids[i+1])
		if err := m.Run(prog); err != nil {
			t.Fatal(err)
		}
		return float64(m.Value(loss)[0])
	}
	for _, S := range []int{1, 3, T} {
		var want float64
		for i := range n {
			c := 0
			if i >= T {
				c = ((i-T)/S + 1) * S
			}
			want += nll(c, i)
		}
		want /= float64(n)
		for _, batch := range []int{1, 4} {
			got, err := EvalLM(dir, file, InferOptions{Batch: batch, Stride: S})
			if err != nil {
				t.Fatal(err)
			}
			if got.Tokens != n || got.Stride != S || math.Abs(got.Loss-want) > 1e-5 {
				t.Errorf("stride %d, batch %d: %+v; want loss %.6f over %d tokens", S, batch, got, want, n)
			}
		}
	}
	same, err := EvalLM(dir, file, InferOptions{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if same.Stride != T {
		t.Errorf("no stride: %+v, want stride %d", same, T)
	}
	// A stride past the context would leave tokens unscored: refused.
	var ce *ConfigError
	if _, err := EvalLM(dir, file, InferOptions{Batch: 2, Stride: T + 1}); !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("--stride %d is more than the model's context (n_ctx %d)", T+1, T)) {
		t.Errorf("stride n_ctx+1: %v, want a config error", err)
	}
	// On a text shorter than the context, the stride reported is the one
	// used: the one asked, or without one the single window's length.
	short := writeFile(t, filepath.Join(t.TempDir(), "s.txt"), "the cat")
	if got, err := EvalLM(dir, short, InferOptions{Batch: 1, Stride: 3}); err != nil || got.Stride != 3 {
		t.Errorf("short text, stride 3: %+v, %v", got, err)
	}
	if got, err := EvalLM(dir, short, InferOptions{Batch: 1}); err != nil || got.Stride != got.Tokens || got.Tokens >= T {
		t.Errorf("short text, no stride: %+v, %v; want the stride of its one window (%d tokens), below n_ctx %d", got, err, got.Tokens, T)
	}
}

// oneRowLM builds a one-sequence model of T tokens over p with its LM loss
// (targets -1 where not scored) and the program computing it.
func oneRowLM(t *testing.T, p *graph.Params, T int) (m *graph.Model, loss, targets *G.Node, prog *graph.Program) {
	t.Helper()
	m, err := graph.New(p, 1, T, graph.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	if loss, targets, err = m.LMLoss(); err != nil {
		t.Fatal(err)
	}
	if prog, err = m.Forward(loss); err != nil {
		t.Fatal(err)
	}
	return m, loss, targets, prog
}

// evalModel writes a small char model with weights far enough from their
// initial values to predict something, and returns its directory.
func evalModel(t *testing.T) (string, *data.CharTokenizer, *graph.Params) {
	t.Helper()
	dir := t.TempDir()
	tok := data.NewCharTokenizer(synthChars)
	cfg := graph.Config{Arch: "gpt1", VocabSize: tok.VocabSize(), NCtx: 8, NEmbd: 16, NHead: 2, NLayer: 2, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	rng := graph.NewRNG(10)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	if err := writeModelDir(dir, p, tok); err != nil {
		t.Fatal(err)
	}
	return dir, tok, p
}

// EvalLM on a directory of shards scores each shard of the split as its
// own stream: one shard gives exactly the loss of the same text as a file;
// several give the token-weighted mean of their texts' losses, each shard
// read as a file of its own.
func TestEvalLMShards(t *testing.T) {
	model, tok, _ := evalModel(t)
	in := t.TempDir()
	text := strings.Repeat("the cat sat on the mat, and it was glad. ", 1000)
	file := writeFile(t, filepath.Join(in, "t.txt"), text)
	prepare := func(shardTokens int, val float64) string {
		out := t.TempDir()
		if _, err := data.Prepare(data.PrepareOptions{Tokenizer: tok, Inputs: []string{file}, OutDir: out, ShardTokens: shardTokens, ValFraction: val, Workers: 1}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	one := prepare(0, 0)

	// A .jsonl file is its documents (a char tokenizer has no end-of-text
	// token between them): the same as the text they make.
	half := len(text) / 2
	jl := writeFile(t, filepath.Join(in, "t.jsonl"), fmt.Sprintf("{\"text\": %q}\n{\"text\": %q}\n", text[:half], text[half:]))
	a, errA := EvalLM(model, jl, InferOptions{Batch: 3})
	b, errB := EvalLM(model, file, InferOptions{Batch: 3})
	if errA != nil || errB != nil || a.Loss != b.Loss || a.Tokens != b.Tokens {
		t.Errorf("JSONL %+v (%v), its text %+v (%v)", a, errA, b, errB)
	}
	for _, stride := range []int{0, 3} {
		o := InferOptions{Batch: 3, Stride: stride}
		want, err := EvalLM(model, file, o)
		if err != nil {
			t.Fatal(err)
		}
		o.Split = "train"
		got, err := EvalLM(model, one, o)
		if err != nil {
			t.Fatal(err)
		}
		if got.Loss != want.Loss || got.Tokens != want.Tokens || got.Split != "train" || got.Shards != 1 {
			t.Errorf("stride %d: one shard %+v, the text file %+v", stride, got, want)
		}
	}

	// Several shards, in train and val: each scored as a file of its text.
	for _, split := range []string{"train", "val"} {
		many := prepare(6000, 0.3)
		set, err := data.OpenShardSet(many, split)
		if err != nil {
			t.Fatal(err)
		}
		var nll float64
		var count int
		for i, sh := range set.Shards() {
			ids := make([]int, sh.Len())
			for j := range ids {
				ids[j] = sh.Get(j)
			}
			r, err := EvalLM(model, writeFile(t, filepath.Join(in, fmt.Sprintf("%s%d.txt", split, i)), tok.Decode(ids)), InferOptions{Batch: 2})
			if err != nil {
				t.Fatal(err)
			}
			nll += r.Loss * float64(r.Tokens)
			count += r.Tokens
		}
		shards := len(set.Shards())
		set.Close()
		o := InferOptions{Batch: 2}
		if split == "train" {
			o.Split = split
		}
		got, err := EvalLM(model, many, o)
		if err != nil {
			t.Fatal(err)
		}
		if shards < 2 || got.Shards != shards || got.Split != split || got.Tokens != count || math.Abs(got.Loss-nll/float64(count)) > 1e-6 {
			t.Errorf("%s: %+v; want %d shards, %d tokens, loss %.6f", split, got, shards, count, nll/float64(count))
		}
	}

	// Errors: no val split, shards of another tokenizer, a split of a file,
	// the working directory a killed prepare leaves (without shards: not
	// "prepare it"), and shards a kill left half moved into place.
	stage := filepath.Join(t.TempDir(), ".prepare.tmp-12345") // killed before its first shard
	if err := os.MkdirAll(filepath.Join(stage, "tokenizer"), 0o755); err != nil {
		t.Fatal(err)
	}
	halfMoved := t.TempDir()
	if err := os.CopyFS(halfMoved, os.DirFS(prepare(0, 0.3))); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(halfMoved, data.IncompleteFile), "")
	other := t.TempDir()
	alien := data.NewCharTokenizer(strings.Replace(synthChars, "z", "Q", 1))
	if _, err := data.Prepare(data.PrepareOptions{Tokenizer: alien, Inputs: []string{file}, OutDir: other, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		data, split, want string
	}{
		{one, "", "no validation shards"},
		{other, "train", "the shards were made with another tokenizer"},
		{file, "train", "is chosen only in a directory of shards"},
		{t.TempDir(), "", "is a directory without token shards: eval reads a text or .jsonl file, a glob of them (--data '"},
		{model, "", "is a model or run directory (it has "},
		{"-", "", "data -: standard input is read by data prepare"},
		{stage, "", "the working directory of a data prepare"},
		{halfMoved, "", "a data prepare stopped while moving its shards into place"},
	} {
		_, err := EvalLM(model, c.data, InferOptions{Batch: 2, Split: c.split})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EvalLM(%s, split %q): %v, want an InputError containing %q", c.data, c.split, err, c.want)
		}
	}
}

// A loss JSON cannot carry (weights so large the logits overflow) is a
// NonFiniteError naming model and file, not a failure to print the result.
func TestEvalLMNonFinite(t *testing.T) {
	dir, _, p := evalModel(t)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] *= 1e30
		}
	}
	if err := writeModelDir(dir, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	text := writeFile(t, filepath.Join(t.TempDir(), "t.txt"), strings.Repeat(synthChars, 4))
	_, err := EvalLM(dir, text, InferOptions{Batch: 2})
	var ne *NonFiniteError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "t.txt") || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("eval: %v, want a NonFiniteError naming the file", err)
	}
}

// A finite loss whose perplexity overflows a float64 (e^1888) is a result,
// not a failure: its JSON carries the loss and a null perplexity (JSON has
// no infinity), where eval refused it as outputs that are not finite.
func TestEvalLMPerplexityOverflows(t *testing.T) {
	dir, _, p := evalModel(t)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] *= 30
		}
	}
	if err := writeModelDir(dir, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	text := writeFile(t, filepath.Join(t.TempDir(), "t.txt"), strings.Repeat(synthChars, 4))
	res, err := EvalLM(dir, text, InferOptions{Batch: 2})
	if err != nil || res.Loss < 710 || math.IsInf(res.Loss, 0) || !math.IsInf(res.Perplexity, 1) {
		t.Fatalf("eval: %+v, %v; want a finite loss above 710 and an infinite perplexity", res, err)
	}
	b, err := json.Marshal(res)
	if want := fmt.Sprintf(`{"loss":%v,"perplexity":null,"tokens":%d,`, res.Loss, res.Tokens); err != nil || !strings.HasPrefix(string(b), want) {
		t.Errorf("JSON %s, %v; want it to begin %s", b, err, want)
	}
	res.Loss, res.Perplexity = 2, math.Exp(2)
	if b, err := json.Marshal(res); err != nil || !strings.HasPrefix(string(b), fmt.Sprintf(`{"loss":2,"perplexity":%v,`, math.Exp(2))) {
		t.Errorf("JSON of a finite perplexity: %s, %v", b, err)
	}
}

// A text of one token has nothing to score, and says so in the singular.
func TestEvalLMOneToken(t *testing.T) {
	dir, _, _ := evalModel(t)
	text := writeFile(t, filepath.Join(t.TempDir(), "t.txt"), synthChars[:1])
	_, err := EvalLM(dir, text, InferOptions{Batch: 2})
	var ie *InputError
	if want := text + ": 1 token; at least 2 are needed"; !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
		t.Errorf("eval of one token: %v, want an InputError with %q", err, want)
	}
}

// Shards of one token each cannot be scored (a window does not span two
// shards): the error says so and names the fix, where it said "1 tokens;
// at least 2 are needed" of a split that held hundreds.
func TestEvalLMShardsTooSmall(t *testing.T) {
	dir := t.TempDir()
	model := tinyModelDir(t)
	in := writeFile(t, filepath.Join(dir, "t.txt"), strings.Repeat("the cat sat. ", 10))
	out := filepath.Join(dir, "sh")
	if _, err := data.Prepare(data.PrepareOptions{Tokenizer: data.NewCharTokenizer(synthChars), Inputs: []string{in}, OutDir: out, ShardTokens: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := EvalLM(model, out, InferOptions{Batch: 2, Split: "train"})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "larger --shard-tokens") {
		t.Errorf("eval of one-token shards: %v", err)
	}
}

// A char model reads UTF-8: a file with stray bytes is refused by eval as
// pretraining refuses it, also when the vocabulary has U+FFFD (which each
// stray byte would otherwise silently become), and characters outside the
// vocabulary are listed, the first 20 of them and how many.
func TestEvalLMCharNeedsUTF8(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, filepath.Join(dir, "c.txt"), strings.Repeat("ab \uFFFD ba\n", 400))
	run := filepath.Join(dir, "run")
	if _, err := Pretrain(context.Background(), tinyConfig(t, "data="+corpus, "max_steps=2", "n_ctx=8"), Options{OutDir: run, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.txt"), "ab \xff ba ab ba ab ba\n")
	var ie *InputError
	if _, err := EvalLM(run, bad, InferOptions{Batch: 2}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("eval of a file with a stray byte: %v, want an InputError saying it is not UTF-8", err)
	}
	var many strings.Builder
	for r := rune(0x4e00); r < 0x4e00+100; r++ {
		many.WriteRune(r)
	}
	_, err := EvalLM(run, writeFile(t, filepath.Join(dir, "cjk.txt"), many.String()), InferOptions{Batch: 2})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "... (100 in all) are not in the vocabulary (char, ") || len(err.Error()) > 300 {
		t.Errorf("eval of 100 unknown characters: %v, want the first 20 and the count", err)
	}
}

// The memory check of inference (inferBytes) holds what a forward-only
// model's machine allocates, within a fifth above it, for shapes where the
// logits, the attention probabilities or the activations are the most, and
// where the logits are as large as a block's activations: for LM eval,
// whose output is the loss, and zero-shot scoring, whose output is the
// logits.
func TestInferBytesBoundsForwardPass(t *testing.T) {
	for _, c := range []graph.Config{
		{Arch: "gpt2", NLayer: 3, NHead: 4, NEmbd: 64, NCtx: 32, VocabSize: 40},     // activations
		{Arch: "gpt1", NLayer: 2, NHead: 8, NEmbd: 32, NCtx: 128, VocabSize: 60},    // attention
		{Arch: "gpt2", NLayer: 2, NHead: 2, NEmbd: 32, NCtx: 16, VocabSize: 3000},   // logits
		{Arch: "gpt1", NLayer: 4, NHead: 4, NEmbd: 128, NCtx: 128, VocabSize: 2048}, // both, configs/pretrain-tasks.yaml's
	} {
		c.LNEps = 1e-5
		p, err := graph.NewParams(c, graph.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		const B = 3
		for _, logits := range []bool{false, true} {
			m, err := graph.New(p, B, c.NCtx, graph.NewRNG(1), inferenceOptions("cpu")...)
			if err != nil {
				t.Fatal(err)
			}
			out := m.Logits
			if !logits {
				out, _, err = m.LMLoss()
			}
			if err == nil {
				_, err = m.Forward(out)
			}
			if err != nil {
				t.Fatal(err)
			}
			own, arena := m.Machine().Floats()
			got, est := float64(4*(own+arena)), inferBytes(c, B, c.NCtx, logits)
			if got > est || est > 1.2*got {
				t.Errorf("%+v, logits out %v: a forward pass allocates %.0f bytes, inferBytes says %.0f", c, logits, got, est)
			}
		}
	}
}
