package train

import (
	"errors"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/graph"
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

// reviewTinyConfig is the reviewer's tiny bench config: one layer.
func reviewTinyConfig() Config {
	c := Default()
	c.NLayer, c.NEmbd, c.NHead, c.NCtx, c.VocabSize, c.BatchSize = 1, 32, 2, 16, 64, 2
	return c
}

// A bench that diverges stops with a *NonFiniteError (exit status 3)
// naming the step, without blaming the data: its tokens are random.
func TestBenchDivergesNonFinite(t *testing.T) {
	c := reviewTinyConfig()
	c.LR = 1e9
	_, err := Bench(c, BenchSpec{Steps: 20, Warmup: 3, Threads: 1}, io.Discard)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "bench: step ") || !strings.Contains(err.Error(), " of 23: ") ||
		!strings.Contains(err.Error(), "lower lr") || strings.Contains(err.Error(), "data") {
		t.Fatalf("bench at lr 1e9: %v (%T), want a NonFiniteError naming the step of 23 and lr, not the data", err, err)
	}
}

// The header line says "1 layer" and "1 thread", plurals above 1.
func TestBenchHeaderPlurals(t *testing.T) {
	var log strings.Builder
	if _, err := Bench(reviewTinyConfig(), BenchSpec{Steps: 1, Threads: 1}, &log); err != nil {
		t.Fatal(err)
	}
	if s := log.String(); !strings.Contains(s, ", 1 layer, ") || !strings.Contains(s, ", 2 heads, ") || !strings.Contains(s, ", 1 thread, ") {
		t.Errorf("header %q: want 1 layer, 2 heads, 1 thread", s)
	}
}

// The command bench --profile suggests on the CPU runs as written from
// the repository root: -bench takes a regexp, then the package.
func TestBenchProfileCPUCommand(t *testing.T) {
	c := reviewTinyConfig()
	c.Device = "cpu"
	_, err := Bench(c, BenchSpec{Steps: 1, Profile: true}, io.Discard)
	if err == nil {
		t.Fatal("bench --profile on the CPU: no error")
	}
	_, cmd, _ := strings.Cut(err.Error(), "each op has a benchmark: ")
	cmd, _, _ = strings.Cut(cmd, ", from the repository root")
	args := strings.Fields(strings.ReplaceAll(cmd, "'", "")) // as the shell reads it
	if len(args) < 2 || args[0] != "go" || args[1] != "test" {
		t.Fatalf("error %q: want a go test command", err)
	}
	fs := flag.NewFlagSet("go test", flag.ContinueOnError)
	tags, run, bench := fs.String("tags", "", ""), fs.String("run", "", ""), fs.String("bench", "", "")
	if err := fs.Parse(args[2:]); err != nil {
		t.Fatalf("%q: %v", cmd, err)
	}
	_, errRun := regexp.Compile(*run)
	_, errBench := regexp.Compile(*bench)
	if *bench == "" || errRun != nil || errBench != nil || fs.NArg() != 1 || fs.Arg(0) != "./kernels" {
		t.Errorf("%q: -bench %q, -run %q, packages %q: want regexps, then ./kernels", cmd, *bench, *run, fs.Args())
	}
	if fi, err := os.Stat(filepath.Join("..", fs.Arg(0))); err != nil || !fi.IsDir() {
		t.Errorf("%q: %s is not a directory of the repository (%v)", cmd, fs.Arg(0), err)
	}
	if openblas := strings.HasPrefix(graph.BLASName(), "openblas"); openblas != (*tags == "openblas") {
		t.Errorf("%q with BLAS %s: -tags %q", cmd, graph.BLASName(), *tags)
	}
}

// A tokenizer that cannot be read is reported as pretrain reports it, and
// a vocab_size smaller than the tokenizer's is refused, as pretrain
// refuses it; vocab_size advice is for char alone.
func TestBenchVocabAndTokenizer(t *testing.T) {
	t.Setenv(data.EnvGPT2Vocab, "")
	empty := t.TempDir()
	for tok, want := range map[string]string{
		"/nonexistent": "tokenizer /nonexistent: not char, byte, gpt2, gpt1 or a tokenizer directory",
		empty:          "tokenizer " + empty + ": directory " + empty + " holds no tokenizer",
	} {
		for _, vocab := range []int{0, 64} {
			c := reviewTinyConfig()
			c.Tokenizer, c.VocabSize = tok, vocab
			_, err := benchConfig(c, BenchSpec{Steps: 1})
			var ie *InputError
			if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "set vocab_size") {
				t.Errorf("tokenizer %s, vocab_size %d: %v; want an InputError starting %q", tok, vocab, err, want)
			}
		}
	}
	for _, tc := range []struct {
		tok   string
		vocab int
		want  string // "": accepted
	}{
		{"gpt2", 1000, "bench: vocab_size 1000 is smaller than the tokenizer's 50257 tokens (tokenizer gpt2): set vocab_size to at least 50257"},
		{"byte", 255, "bench: vocab_size 255 is smaller than the tokenizer's 256 tokens"},
		{"gpt2", 50304, ""},
		{"byte", 256, ""},
		{"char", 64, ""},
	} {
		c := reviewTinyConfig()
		c.Tokenizer, c.VocabSize = tc.tok, tc.vocab
		got, err := benchConfig(c, BenchSpec{Steps: 1})
		var ce *ConfigError
		switch {
		case tc.want == "" && (err != nil || got.VocabSize != tc.vocab):
			t.Errorf("tokenizer %s, vocab_size %d: vocab %d, %v", tc.tok, tc.vocab, got.VocabSize, err)
		case tc.want != "" && (!errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("tokenizer %s, vocab_size %d: %v; want a ConfigError starting %q", tc.tok, tc.vocab, err, tc.want)
		}
	}
}

// benchUnreadBad is a value of each key bench does not read that Validate
// refuses (val_data and sample_prompt: any text passes).
var benchUnreadBad = map[string]string{
	"data": "data=", "val_data": "val_data=v.txt", "val_fraction": "val_fraction=0", "max_steps": "max_steps=0",
	"max_time": "max_time=soon", "warmup_steps": "warmup_steps=-1", "min_lr": "min_lr=1", "lr_decay": "lr_decay=step",
	"eval_interval": "eval_interval=-1", "eval_batches": "eval_batches=0", "patience": "patience=-1",
	"sample_tokens": "sample_tokens=-1", "sample_prompt": "sample_prompt=x", "log_interval": "log_interval=0",
	"checkpoint_interval": "checkpoint_interval=-1", "on_nonfinite": "on_nonfinite=skip!",
}

// LoadBench does not validate the keys bench does not read, from the file
// or a --set; the keys it reads are validated as Load validates them.
func TestLoadBenchUnreadKeys(t *testing.T) {
	dir := t.TempDir()
	tiny, path := filepath.Join(dir, "tiny.yaml"), filepath.Join(dir, "pretrain.yaml")
	yml := "n_layer: 1\nn_embd: 32\nn_head: 2\nn_ctx: 16\nvocab_size: 64\nbatch_size: 2\n"
	if err := errors.Join(os.WriteFile(tiny, []byte(yml), 0o644), os.WriteFile(path, []byte(yml+"max_steps: 0\nmax_time: soon\n"), 0o644)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err == nil {
		t.Fatal("Load of max_steps 0: no error")
	}
	var all []string
	for _, u := range benchUnread {
		set, ok := benchUnreadBad[u.key]
		if !ok {
			t.Errorf("benchUnread key %s has no bad value in this test", u.key)
			continue
		}
		all = append(all, set)
		if _, err := Load(tiny, []string{set}); err == nil && u.key != "val_data" && u.key != "sample_prompt" {
			t.Errorf("Load --set %s: no error; the test wants a value Validate refuses", set)
		}
		if _, err := LoadBench(path, []string{set}); err != nil {
			t.Errorf("LoadBench --set %s: %v", set, err)
		}
	}
	c, err := LoadBench(path, append(all, "lr=1e-5"))
	if err != nil || c.LR != 1e-5 || c.NLayer != 1 {
		t.Errorf("LoadBench with every unread key bad and lr 1e-5: lr %v, n_layer %d, %v", c.LR, c.NLayer, err)
	}
	var ce *ConfigError
	if _, err := LoadBench(path, []string{"n_head=3"}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "n_head 3") {
		t.Errorf("LoadBench --set n_head=3: %v, want a ConfigError naming n_head", err)
	}
	if _, err := LoadBench(path, []string{"max_step=5"}); err == nil {
		t.Error("LoadBench --set max_step=5 (a mistyped key): no error")
	}
}

// benchReads are the config keys bench reads: with benchUnread, every key.
var benchReads = []string{"arch", "n_layer", "n_head", "n_embd", "n_ctx", "vocab_size", "dropout", "layer_norm_epsilon", "gelu",
	"tokenizer", "init_from", "batch_size", "seq_len", "grad_accum", "lr", "beta1", "beta2", "eps", "weight_decay",
	"grad_clip", "seed", "device", "threads", "tf32", "bf16", "flash_attention"}

// Every config key is one bench reads or one in benchUnread, and every
// key of benchUnread is a config key: a new key must be placed.
func TestBenchUnreadCoversConfig(t *testing.T) {
	placed := map[string]bool{}
	for _, k := range benchReads {
		placed[k] = true
	}
	c := reflect.ValueOf(Default())
	for _, u := range benchUnread {
		if !fieldByYAMLName(c, u.key).IsValid() {
			t.Errorf("benchUnread key %s is not a config key", u.key)
		}
		placed[u.key] = true
	}
	var walk func(t reflect.Type) []string
	walk = func(t reflect.Type) (keys []string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case !f.IsExported() || name == "-":
			case opts == "inline":
				keys = append(keys, walk(f.Type)...)
			default:
				keys = append(keys, name)
			}
		}
		return keys
	}
	for _, k := range walk(c.Type()) {
		if !placed[k] {
			t.Errorf("config key %s: add it to benchUnread, or to benchReads here if bench reads it", k)
		}
	}
}
