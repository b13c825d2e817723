package train

import (
	"errors"
	"gptctl/data"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// tinyBenchConfig is a model small enough for a unit test.
func tinyBenchConfig() Config {
	c := Default()
	c.NLayer, c.NHead, c.NEmbd, c.NCtx, c.VocabSize, c.BatchSize = 2, 2, 32, 16, 50, 3
	return c
}

func TestBench(t *testing.T) {
	r, err := Bench(tinyBenchConfig(), BenchSpec{Steps: 3, Warmup: 1, Threads: 1}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *r)
	c := tinyBenchConfig()
	if r.Params != c.NumParams() || r.FlopsPerToken != int64(6*c.NumParams()+12*2*16*32) {
		t.Errorf("params %d, flops/token %d: want %d and %d", r.Params, r.FlopsPerToken, c.NumParams(), 6*c.NumParams()+12*2*16*32)
	}
	if r.Threads != 1 || r.Steps != 3 || r.Shape != "2/32/2/16/3/50" {
		t.Errorf("threads %d, steps %d, shape %s", r.Threads, r.Steps, r.Shape)
	}
	for name, v := range map[string]float64{"tokens_per_s": r.TokensPerS, "step_ms": r.StepMS, "mfu": r.MFU,
		"sgemm_gflops": r.SgemmGFLOPS, "peak_rss_mb": r.PeakRSSMB, "loss": r.Loss} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	// Without the flag, the config's threads; with it, the flag's.
	c.Threads = 3
	for flag, want := range map[int]int{0: 3, 2: 2} {
		if got, err := benchConfig(c, BenchSpec{Steps: 1, Threads: flag}); err != nil || got.Threads != want {
			t.Errorf("threads 3 in the config, --threads %d: %d threads (%v), want %d", flag, got.Threads, err, want)
		}
	}
	if _, err := Bench(c, BenchSpec{}, io.Discard); err == nil {
		t.Error("no error for 0 steps")
	}
	c.VocabSize, c.Tokenizer = 0, "char"
	if _, err := Bench(c, BenchSpec{Steps: 1}, io.Discard); err == nil || !strings.Contains(err.Error(), "--set vocab_size=") {
		t.Errorf("vocab_size 0 with the char tokenizer: %v, want an error saying how to set it", err)
	}
	c.Tokenizer = "byte" // a tokenizer that needs no corpus gives its size
	if got, err := benchConfig(c, BenchSpec{Steps: 1}); err != nil || got.VocabSize != 256 {
		t.Errorf("tokenizer byte, no vocab_size: vocab %d (%v), want 256", got.VocabSize, err)
	}
}

// With grad_accum, a bench step runs that many micro-batches, each on fresh
// tokens, and counts all their tokens.
func TestBenchGradAccum(t *testing.T) {
	c := tinyBenchConfig()
	c.GradAccum = 3
	b, err := newBenchRun(c, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.step(); err != nil {
		t.Fatal(err)
	}
	ref := rand.New(rand.NewPCG(c.Seed, 2))
	for range 2 * len(b.idx) * c.GradAccum { // a token and a target per position
		ref.Uint32N(uint32(c.VocabSize))
	}
	if b.rng.Uint64() != ref.Uint64() {
		t.Error("the step did not draw grad_accum batches")
	}
	r, err := Bench(c, BenchSpec{Steps: 2, Threads: 1}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if tokens := r.TokensPerS * r.StepMS / 1e3; r.GradAccum != 3 || math.Abs(tokens-float64(3*16*3)) > 1e-6 {
		t.Errorf("grad_accum %d, %v tokens a step: want 3 and %d", r.GradAccum, tokens, 3*16*3)
	}
}

// accumulateGrads leaves the mean of the micro-batches' gradients.
func TestAccumulateGrads(t *testing.T) {
	acc := [][]float32{{9, 9}, {7}}
	micro := [][][]float32{{{2, 4}, nil}, {{4, 8}, nil}}
	for m, g := range micro {
		accumulateGrads(acc, func(i int) []float32 { return g[i] }, m, 1/float32(len(micro)))
	}
	if acc[0][0] != 3 || acc[0][1] != 6 || acc[1][0] != 7 {
		t.Errorf("accumulated %v, want [[3 6] [7]]", acc)
	}
}

// With init_from, bench measures the model a pretrain would continue.
func TestBenchInitFrom(t *testing.T) {
	dir, p := hfModelDir(t, "gpt2", func(s string) string { return s })
	c := tinyBenchConfig()
	c.InitFrom = dir
	r, err := Bench(c, BenchSpec{Steps: 1, Threads: 1}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r.Params != p.Count() || r.Shape != "2/12/3/8/3/11" {
		t.Errorf("params %d, shape %s: want the model's %d and 2/12/3/8/3/11", r.Params, r.Shape, p.Count())
	}
	c.InitFrom = t.TempDir()
	var ie *InputError
	if _, err := Bench(c, BenchSpec{Steps: 1}, io.Discard); !errors.As(err, &ie) || !strings.Contains(err.Error(), "init_from") {
		t.Errorf("error %v, want an InputError naming init_from", err)
	}
}

// A steady training step (forward, backward, clip, AdamW) allocates little
// and the heap does not grow from step to step.
func TestTrainStepAllocations(t *testing.T) {
	b, err := newBenchRun(tinyBenchConfig(), "cpu")
	if err != nil {
		t.Fatal(err)
	}
	step := func() {
		if _, err := b.step(); err != nil {
			t.Fatal(err)
		}
	}
	step()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(20, step)
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%.0f allocations per step; heap %d -> %d bytes", allocs, before.HeapAlloc, after.HeapAlloc)
	// A step allocates a few dozen small objects (under 60 when measured).
	if allocs > 1000 || growth > 1<<20 {
		t.Errorf("%.0f allocations per step and %d bytes of heap growth over 21 steps", allocs, growth)
	}
}

// BenchmarkTrainLoop measures the whole training step of the bench-small
// shape, optimizer included.
func BenchmarkTrainLoop(b *testing.B) {
	c := Default()
	c.VocabSize = 256
	r, err := newBenchRun(c, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.BatchSize*c.T()*b.N)/b.Elapsed().Seconds(), "tok/s")
}

// bench --profile on the CPU is refused before the model is built and its
// steps run (bench-gpt1's 23 steps take minutes here).
func TestBenchProfileNeedsGPU(t *testing.T) {
	c := tinyBenchConfig()
	c.Device = "cpu"
	var log strings.Builder
	_, err := Bench(c, BenchSpec{Steps: 1, Profile: true}, &log)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "device is cpu") || strings.Contains(log.String(), "parameters") {
		t.Fatalf("bench --profile on the CPU: %v, after %q; want a config error naming the device, before the model", err, log.String())
	}
}

// A model and batch that cannot fit are refused before anything is built,
// as pretrain refuses them (bench-gpt2-124m at batch 64 grew to the
// machine's memory).
func TestBenchRefusesWhatCannotFit(t *testing.T) {
	c := tinyBenchConfig()
	c.Device, c.NLayer, c.NEmbd, c.NHead, c.VocabSize, c.NCtx, c.SeqLen, c.BatchSize = "cpu", 48, 4096, 32, 50257, 4096, 4096, 256
	var log strings.Builder
	_, err := Bench(c, BenchSpec{Steps: 1}, &log)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "batch_size 256") || strings.Contains(log.String(), "parameters") {
		t.Fatalf("bench of a model that cannot fit: %v, after %q; want a config error naming batch_size, before the model", err, log.String())
	}
}

// The built-in BPEs' sizes are known without their files; a char
// tokenizer's depends on the corpus, which the hint says.
func TestBenchVocabOfBuiltins(t *testing.T) {
	t.Setenv(data.EnvGPT2Vocab, "")
	t.Setenv(data.EnvGPT1Vocab, "")
	for tok, want := range map[string]int{"gpt2": 50257, "gpt1": 40478} {
		c := tinyBenchConfig()
		c.Tokenizer, c.VocabSize = tok, 0
		got, err := benchConfig(c, BenchSpec{Steps: 1})
		if err != nil || got.VocabSize != want {
			t.Errorf("tokenizer %s: vocab %d, %v; want %d", tok, got.VocabSize, err, want)
		}
	}
	c := tinyBenchConfig()
	c.Tokenizer, c.VocabSize = "char", 0
	if _, err := benchConfig(c, BenchSpec{Steps: 1}); err == nil || !strings.Contains(err.Error(), "number of characters") || strings.Contains(err.Error(), "50257") {
		t.Errorf("char tokenizer without vocab_size: %v", err)
	}
}
