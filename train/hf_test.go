package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/graph"
)

func hfModelDir(t *testing.T, arch string, rename func(string) string, extra ...data.Tensor) (string, *graph.Params) {
	t.Helper()
	cfg := graph.Config{Arch: arch, VocabSize: 11, NCtx: 8, NEmbd: 12, NHead: 3, NLayer: 2, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteHFConfig(filepath.Join(dir, "config.json"), cfg, -1); err != nil {
		t.Fatal(err)
	}
	var ts []data.Tensor
	for _, w := range p.List {
		ts = append(ts, data.F32Tensor(rename(w.Name), w.Shape, w.Data))
	}
	if err := data.WriteSafetensors(filepath.Join(dir, "model.safetensors"), append(ts, extra...), nil); err != nil {
		t.Fatal(err)
	}
	return dir, p
}

// Hugging Face files carry a transformer. prefix, causal-mask buffers and
// sometimes an lm_head copy of the embedding; all must load.
func TestLoadHuggingFaceDirectory(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		extra := []data.Tensor{
			data.F32Tensor("transformer.h.0.attn.bias", []int{1, 1, 8, 8}, make([]float32, 64)),
			data.F32Tensor("transformer.h.1.attn.masked_bias", nil, []float32{-1e4}),
		}
		dir, want := hfModelDir(t, arch, func(n string) string { return "transformer." + n }, extra...)
		wte, _ := graph.EmbeddingNames(arch)
		addTensor(t, filepath.Join(dir, "model.safetensors"), data.F32Tensor("lm_head.weight", []int{11, 12}, want.Get(wte).Data))
		got, tok, err := LoadModel(dir)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if tok != nil {
			t.Errorf("%s: a directory without tokenizer files gave tokenizer %s", arch, tok.Name())
		}
		for i, w := range want.List {
			for j, v := range w.Data {
				if got.List[i].Data[j] != v {
					t.Fatalf("%s: %s[%d] = %v, want %v", arch, w.Name, j, got.List[i].Data[j], v)
				}
			}
		}
	}
}

// addTensor adds t to the safetensors file at path.
func addTensor(t *testing.T, path string, add data.Tensor) {
	t.Helper()
	st, err := data.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []data.Tensor
	for _, name := range st.Order {
		ts = append(ts, st.Tensors[name])
	}
	if err := data.WriteSafetensors(path, append(ts, add), nil); err != nil {
		t.Fatal(err)
	}
}

// An lm_head.weight that is not the token embedding is another model (its
// output layer untied), refused by name; gptctl's head is the embedding.
func TestLoadModelRefusesUntiedHead(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		dir, want := hfModelDir(t, arch, func(n string) string { return "transformer." + n })
		wte, _ := graph.EmbeddingNames(arch)
		head := slices.Clone(want.Get(wte).Data)
		head[7] += 0.5
		addTensor(t, filepath.Join(dir, "model.safetensors"), data.F32Tensor("lm_head.weight", []int{11, 12}, head))
		_, _, err := LoadModel(dir)
		if err == nil || !strings.Contains(err.Error(), `tensor "lm_head.weight" [11 12] is not the token embedding `+wte) {
			t.Errorf("%s: %v, want the untied head refused", arch, err)
		}
	}
}

// A config.json that leaves sizes out gets those of Hugging Face's config
// classes, as its loader gives them; one that sets a size to 0 is refused.
func TestHFConfigDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	for _, c := range []struct {
		json string
		want graph.Config
	}{
		{`{"model_type":"gpt2"}`, graph.Config{Arch: "gpt2", VocabSize: 50257, NCtx: 1024, NEmbd: 768, NHead: 12, NLayer: 12, LNEps: 1e-5, GELU: "tanh"}},
		{`{"model_type":"openai-gpt","n_embd":96}`, graph.Config{Arch: "gpt1", VocabSize: 40478, NCtx: 512, NEmbd: 96, NHead: 12, NLayer: 12, LNEps: 1e-5, GELU: "tanh"}},
		{`{"model_type":"gpt2","n_ctx":64,"n_layer":2}`, graph.Config{Arch: "gpt2", VocabSize: 50257, NCtx: 64, NEmbd: 768, NHead: 12, NLayer: 2, LNEps: 1e-5, GELU: "tanh"}},
	} {
		os.WriteFile(path, []byte(c.json), 0o644)
		if got, err := ReadHFConfig(path); err != nil || got != c.want {
			t.Errorf("%s: %+v (%v), want %+v", c.json, got, err, c.want)
		}
	}
	// the sizes' other names, as Hugging Face's config classes take them
	os.WriteFile(path, []byte(`{"model_type":"gpt2","hidden_size":96,"num_attention_heads":6,"num_hidden_layers":3,"max_position_embeddings":64,"n_embd":96}`), 0o644)
	want := graph.Config{Arch: "gpt2", VocabSize: 50257, NCtx: 64, NEmbd: 96, NHead: 6, NLayer: 3, LNEps: 1e-5, GELU: "tanh"}
	if got, err := ReadHFConfig(path); err != nil || got != want {
		t.Errorf("aliases: %+v (%v), want %+v", got, err, want)
	}
	os.WriteFile(path, []byte(`{"model_type":"gpt2","n_head":4,"num_attention_heads":6}`), 0o644)
	if _, err := ReadHFConfig(path); err == nil || !strings.Contains(err.Error(), "n_head 4 and num_attention_heads 6 name the same size") {
		t.Errorf("two head counts: %v, want them refused", err)
	}
	os.WriteFile(path, []byte(`{"model_type":"gpt2","n_head":0}`), 0o644)
	if _, err := ReadHFConfig(path); err == nil || !strings.Contains(err.Error(), "n_head") {
		t.Errorf("n_head 0: %v, want it refused", err)
	}
}

func TestLoadModelErrors(t *testing.T) {
	missing, _ := hfModelDir(t, "gpt2", func(n string) string {
		if n == "ln_f.bias" {
			return "unrelated"
		}
		return n
	})
	noWeights := t.TempDir()
	os.WriteFile(filepath.Join(noWeights, "config.json"), []byte(`{"model_type":"gpt2","vocab_size":5,"n_positions":4,"n_embd":4,"n_layer":1,"n_head":2}`), 0o644)
	pickle := t.TempDir()
	os.WriteFile(filepath.Join(pickle, "config.json"), []byte(`{"model_type":"gpt2","vocab_size":5,"n_positions":4,"n_embd":4,"n_layer":1,"n_head":2}`), 0o644)
	os.WriteFile(filepath.Join(pickle, "pytorch_model.bin"), []byte("PK"), 0o644)
	twice, _ := hfModelDir(t, "gpt2", func(n string) string { return n },
		data.F32Tensor("transformer.wte.weight", []int{11, 12}, make([]float32, 132)))
	badType := t.TempDir()
	os.WriteFile(filepath.Join(badType, "config.json"), []byte(`{"model_type":"llama"}`), 0o644)
	shape, _ := hfModelDir(t, "gpt1", func(n string) string { return n })
	os.WriteFile(filepath.Join(shape, "config.json"), []byte(`{"model_type":"openai-gpt","vocab_size":11,"n_positions":8,"n_embd":12,"n_layer":2,"n_head":3,"afn":"gelu"}`), 0o644)
	os.WriteFile(filepath.Join(shape, "config.json"), []byte(`{"model_type":"openai-gpt","vocab_size":12,"n_positions":8,"n_embd":12,"n_layer":2,"n_head":3,"afn":"gelu"}`), 0o644)
	stringLayers := t.TempDir()
	os.WriteFile(filepath.Join(stringLayers, "config.json"), []byte(`{"model_type":"gpt2","vocab_size":5,"n_positions":4,"n_embd":4,"n_layer":"1","n_head":2}`), 0o644)
	runOnlyBest := t.TempDir() // a finished finetune whose checkpoints were deleted
	os.WriteFile(filepath.Join(runOnlyBest, "finetune.yaml"), []byte("lambda: 0\n"), 0o644)
	os.Mkdir(filepath.Join(runOnlyBest, "best"), 0o755)
	os.WriteFile(filepath.Join(runOnlyBest, "best", "config.json"), []byte("{}"), 0o644)
	runNoCheckpoint := t.TempDir() // a run killed before its first checkpoint
	os.WriteFile(filepath.Join(runNoCheckpoint, "train.yaml"), []byte("n_layer: 1\n"), 0o644)
	for _, c := range []struct{ dir, want string }{
		{missing, `missing tensor "ln_f.bias"`},
		{missing, `unexpected tensor "unrelated"`},
		{noWeights, "model.safetensors"},
		{twice, `tensor "wte.weight" is there twice, with and without the transformer. prefix`},
		{pickle, "no model.safetensors: pytorch_model.bin is PyTorch's pickle format"},
		{badType, `model_type "llama"`},
		{shape, `"tokens_embed.weight" has shape [11 12], the model needs [12 12]`},
		{t.TempDir(), "no config.json"},
		{stringLayers, `"n_layer": a string, want an integer`},
		{runOnlyBest, "the run has no checkpoint/ or checkpoint.prev/; its best model is " + filepath.Join(runOnlyBest, "best") + " (pass that)"},
		{filepath.Join(t.TempDir(), "none"), "none: no such directory"},
		{runNoCheckpoint, "the run has no checkpoint yet"},
	} {
		_, _, err := LoadModel(c.dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadModel(%s): %v, want an error containing %q", c.dir, err, c.want)
		}
	}
}

// rewriteConfig applies edit to the config.json of the model directory dir.
func rewriteConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	var m map[string]any
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("%s: %v", path, err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b, 0o644)
}

// Weights that do not fit the sizes config.json leaves out, which take
// Hugging Face's defaults, are refused saying those sizes were absent and
// which defaults were used; other errors, such as a missing weights file,
// say nothing of them.
func TestLoadModelNamesDefaultedSizes(t *testing.T) {
	for _, c := range []struct {
		drop []string
		want []string
	}{
		{[]string{"n_embd"}, []string{`"h.0.attn.c_attn.weight" has shape [12 36], the model needs [768 2304]`,
			"(n_embd is absent from config.json, so Hugging Face's default 768 was used: add the model's n_embd to config.json)"}},
		{[]string{"n_layer"}, []string{`missing tensor "h.2.ln_1.weight" [12]`,
			"(n_layer is absent from config.json, so Hugging Face's default 12 was used: add the model's n_layer to config.json)"}},
		{[]string{"n_layer", "n_positions", "n_ctx"}, []string{`"wpe.weight" has shape [8 12], the model needs [1024 12]`,
			"(n_layer is absent from config.json, so Hugging Face's default 12 was used; n_positions is absent from config.json, so Hugging Face's default 1024 was used: add the model's n_layer and n_positions to config.json)"}},
	} {
		dir, _ := hfModelDir(t, "gpt2", func(n string) string { return n })
		rewriteConfig(t, dir, func(m map[string]any) {
			for _, k := range c.drop {
				delete(m, k)
			}
		})
		_, _, err := LoadModel(dir)
		for _, want := range c.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("config.json without %v: %v, want an error containing %q", c.drop, err, want)
			}
		}
		os.Remove(filepath.Join(dir, "model.safetensors"))
		if _, _, err := LoadModel(dir); err == nil || strings.Contains(err.Error(), "absent") {
			t.Errorf("config.json without %v, no weights: %v, want the file missing and nothing of the defaults", c.drop, err)
		}
	}
	// A default that fails the config's own checks is named there too.
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"model_type":"gpt2","vocab_size":11,"n_positions":8,"n_layer":2,"n_head":5}`), 0o644)
	want := "n_embd 768 is not divisible by n_head 5 (n_embd is absent from config.json, so Hugging Face's default 768 was used: add the model's n_embd to config.json)"
	if _, err := ReadHFConfig(path); err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("no n_embd, n_head 5: %v, want an error ending %q", err, want)
	}
}

// A size given as null is refused as null, not read as 0; n_ctx, which
// Hugging Face ignores, counts as absent when null.
func TestHFConfigNullSizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	const base = `{"model_type":"gpt2","vocab_size":11,"n_embd":12,"n_layer":2,"n_head":3`
	for _, c := range []struct{ json, want string }{
		{base + `,"n_positions":null,"n_ctx":8}`, "n_positions is null: set it to the model's size, a positive integer"},
		{base + `,"max_position_embeddings":null}`, "max_position_embeddings is null"},
		{`{"model_type":"gpt2","vocab_size":11,"n_embd":null,"n_layer":null,"n_head":3,"n_positions":8}`, "n_embd, n_layer are null: set them to the model's sizes"},
	} {
		os.WriteFile(path, []byte(c.json), 0o644)
		if _, err := ReadHFConfig(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.json, err, c.want)
		}
	}
	for json, ctx := range map[string]int{base + `,"n_positions":8,"n_ctx":null}`: 8, base + `,"n_ctx":null}`: 1024} {
		os.WriteFile(path, []byte(json), 0o644)
		if got, err := ReadHFConfig(path); err != nil || got.NCtx != ctx {
			t.Errorf("%s: context %d (%v), want %d", json, got.NCtx, err, ctx)
		}
	}
}

// A bad context length is named as the file names it: n_positions, or
// n_ctx in the older configs that write it so.
func TestHFConfigNamesItsKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	for key, want := range map[string]string{"n_positions": "n_positions 0", "n_ctx": "n_ctx 0"} {
		os.WriteFile(path, []byte(`{"model_type":"gpt2","vocab_size":11,"`+key+`":0,"n_embd":12,"n_layer":2,"n_head":3}`), 0o644)
		if _, err := ReadHFConfig(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s 0: %v, want an error naming %q", key, err, want)
		}
	}
}

// The activation: openai-gpt's afn "gelu" and gpt2's "gelu_new" are the tanh
// GELU, gpt2's "gelu" the exact one, which WriteHFConfig writes back as such.
func TestHFActivation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	for _, c := range []struct{ json, gelu, err string }{
		{`"model_type":"openai-gpt","afn":"gelu"`, "tanh", ""},
		{`"model_type":"gpt2"`, "tanh", ""},
		{`"model_type":"gpt2","activation_function":"gelu_new"`, "tanh", ""},
		{`"model_type":"gpt2","activation_function":"gelu_pytorch_tanh"`, "tanh", ""},
		{`"model_type":"gpt2","activation_function":"gelu"`, "erf", ""},
		{`"model_type":"gpt2","activation_function":"relu"`, "", `activation_function "relu" is not supported (gptctl has the tanh GELU, gelu_new, and the exact one, gelu)`},
		{`"model_type":"openai-gpt","afn":"swish"`, "", `afn "swish" is not supported (an openai-gpt model in gptctl has gelu, the tanh GELU)`},
		// each model_type reads its own key; the other's is not its model's
		{`"model_type":"openai-gpt","afn":"gelu","activation_function":"gelu_new"`, "tanh", ""},
		{`"model_type":"gpt2","afn":"swish","activation_function":"gelu"`, "erf", ""},
	} {
		os.WriteFile(path, []byte(`{"vocab_size":11,"n_positions":8,"n_embd":12,"n_layer":2,"n_head":3,`+c.json+`}`), 0o644)
		cfg, err := ReadHFConfig(path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error containing %q", c.json, err, c.err)
			}
			continue
		}
		if err != nil || cfg.GELU != c.gelu {
			t.Errorf("%s: gelu %q (%v), want %q", c.json, cfg.GELU, err, c.gelu)
			continue
		}
		if err := WriteHFConfig(path, cfg, -1); err != nil {
			t.Fatal(err)
		}
		if again, err := ReadHFConfig(path); err != nil || again != cfg {
			t.Errorf("%s: written and read back as %+v (%v), want %+v", c.json, again, err, cfg)
		}
	}
}

// GPT-2 options that would make another function are refused by name; their
// defaults, written out, load.
func TestHFUnsupportedOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	base := `{"model_type":"gpt2","vocab_size":11,"n_positions":8,"n_embd":12,"n_layer":2,"n_head":3`
	for _, c := range []struct{ json, err string }{
		{`,"n_inner":null,"scale_attn_weights":true,"tie_word_embeddings":true,"add_cross_attention":false,"scale_attn_by_inverse_layer_idx":false}`, ""},
		{`,"n_inner":48}`, ""},
		{`,"n_inner":32}`, "n_inner 32 (gptctl's MLP is 4*n_embd = 48 wide)"},
		{`,"scale_attn_weights":false}`, "scale_attn_weights false"},
		{`,"scale_attn_by_inverse_layer_idx":true}`, "scale_attn_by_inverse_layer_idx true"},
		{`,"tie_word_embeddings":false,"add_cross_attention":true}`, "tie_word_embeddings false (gptctl's LM head is the token embedding); add_cross_attention true"},
	} {
		os.WriteFile(path, []byte(base+c.json), 0o644)
		_, err := ReadHFConfig(path)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.json, err, c.err)
		}
	}
}

// A model saved in several safetensors files with an index loads as the
// one-file model does; an index that points wrong says where.
func TestLoadShardedModel(t *testing.T) {
	one, want := hfModelDir(t, "gpt2", func(n string) string { return "transformer." + n })
	st, err := data.ReadSafetensors(filepath.Join(one, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join(one, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	shards := [2][]data.Tensor{}
	weightMap := map[string]string{}
	for i, name := range st.Order {
		file := fmt.Sprintf("model-%05d-of-00002.safetensors", i%2+1)
		shards[i%2] = append(shards[i%2], st.Tensors[name])
		weightMap[name] = file
	}
	for i, ts := range shards {
		if err := data.WriteSafetensors(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	writeIndex := func(m map[string]string) {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": m})
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), b, 0o644)
	}
	writeIndex(weightMap)
	got, _, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want.List {
		if !slices.Equal(got.List[i].Data, w.Data) {
			t.Fatalf("%s differs after loading the shards", w.Name)
		}
	}

	name := st.Order[0]
	weightMap[name] = "model-00002-of-00002.safetensors"
	// st.Order[0] went to shard 1 above; the index now says shard 2.
	writeIndex(weightMap)
	if _, _, err := LoadModel(dir); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("tensor %q is not in model-00002-of-00002.safetensors", name)) {
		t.Errorf("index pointing to the wrong shard: %v", err)
	}
	weightMap[name] = "../elsewhere.safetensors"
	writeIndex(weightMap)
	if _, _, err := LoadModel(dir); err == nil || !strings.Contains(err.Error(), "not a file beside the index") {
		t.Errorf("index pointing outside the directory: %v", err)
	}
}

// A model directory with a byte-level BPE carries it under Hugging Face's
// names as well: vocab.json and merges.txt with the bytes of encoder.json and
// vocab.bpe, and a tokenizer_config.json naming GPT2Tokenizer, so that
// AutoTokenizer reads it even for a GPT-1 model; gptctl loads the directory
// from the Hugging Face files alone, encoding as before.
func TestModelDirHFTokenizerFiles(t *testing.T) {
	md, bpe := bpeModelDir(t)
	checkHFTokenizerFiles(t, md)
	for _, f := range []string{"encoder.json", "vocab.bpe"} {
		if err := os.Remove(filepath.Join(md, f)); err != nil {
			t.Fatal(err)
		}
	}
	_, tok, err := LoadModel(md)
	if err != nil {
		t.Fatal(err)
	}
	text := "the lazy fox jumps."
	if got, want := tok.Encode(text), bpe.Encode(text); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("from vocab.json + merges.txt: %v, want %v", got, want)
	}
}

// bpeModelDir is a tiny GPT-1 model directory with a 300-token byte-level BPE.
func bpeModelDir(t *testing.T) (string, *data.BPE) {
	t.Helper()
	dir := t.TempDir()
	corpus := writeFile(t, filepath.Join(dir, "c.txt"), strings.Repeat("the quick brown fox jumps over the lazy dog. ", 200))
	bpe, err := data.TrainBPE([]string{corpus}, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := graph.Config{Arch: "gpt1", VocabSize: bpe.VocabSize(), NCtx: 24, NEmbd: 8, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, "model")
	if err := os.MkdirAll(md, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeModelDir(md, p, bpe); err != nil {
		t.Fatal(err)
	}
	return md, bpe
}

// checkHFTokenizerFiles checks the Hugging Face tokenizer files of a model
// directory with the BPE of bpeModelDir (a context of 24).
func checkHFTokenizerFiles(t *testing.T, md string) {
	t.Helper()
	for hf, ours := range map[string]string{"vocab.json": "encoder.json", "merges.txt": "vocab.bpe"} {
		a, b := readFile(t, filepath.Join(md, hf)), readFile(t, filepath.Join(md, ours))
		if a != b || len(a) == 0 {
			t.Errorf("%s: %s differs from %s", md, hf, ours)
		}
	}
	var tc map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(md, "tokenizer_config.json"))), &tc); err != nil {
		t.Fatal(err)
	}
	if tc["tokenizer_class"] != "GPT2Tokenizer" || tc["eos_token"] != "<|endoftext|>" || tc["model_max_length"] != 24.0 {
		t.Errorf("%s: tokenizer_config.json: %v", md, tc)
	}
}

// config.json names the tokenizer's end-of-text id as bos_token_id and
// eos_token_id (Hugging Face's GPT2Config would take GPT-2's 50256), null
// for a tokenizer without one.
func checkHFTokenIDs(t *testing.T, md string, eot any) {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(md, "config.json"))), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bos_token_id", "eos_token_id"} {
		if v, ok := cfg[k]; !ok || v != eot {
			t.Errorf("%s: config.json %s = %v (present: %v), want %v", md, k, v, ok, eot)
		}
	}
}

func TestHFConfigTokenIDs(t *testing.T) {
	md, bpe := bpeModelDir(t)
	if bpe.EOT() < 0 {
		t.Fatal("the trained BPE has no end-of-text token")
	}
	checkHFTokenIDs(t, md, float64(bpe.EOT()))
	checkHFTokenIDs(t, tinyModelDir(t), nil) // a char model
}

// A finetuned model directory (best/, checkpoint/) carries the tokenizer
// under Hugging Face's names too, as a pretrained one does, and the
// end-of-text id in config.json.
func TestFinetunedModelHFTokenizerFiles(t *testing.T) {
	md, bpe := bpeModelDir(t)
	train := writeFile(t, filepath.Join(t.TempDir(), "reviews.tsv"), synthTSV(40))
	_, out := runFinetune(t, fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val_fraction: 0.25, columns: {text: sentence, label: label}, labels: [neg, pos], header: true}
batch_size: 8
max_steps: 2
`, md, train))
	for _, sub := range []string{"best", "checkpoint"} {
		checkHFTokenizerFiles(t, filepath.Join(out, sub))
		checkHFTokenIDs(t, filepath.Join(out, sub), float64(bpe.EOT()))
	}
}

// Both BPEs write themselves under Hugging Face's names in a model directory.
var _, _ hfSaver = (*data.BPE)(nil), (*data.GPT1BPE)(nil)

// openai-gpt directories saved by older versions of transformers hold the
// buffer position_ids (int64 [n_positions], 0, 1, ...), not a weight:
// passed over as the attention-mask buffers are. A tensor of that name
// that is not such a buffer is refused by name.
func TestLoadHFPositionIDsBuffer(t *testing.T) {
	ids := []int64{0, 1, 2, 3, 4, 5, 6, 7} // n_ctx 8
	prefixed := func(n string) string { return "transformer." + n }
	for _, c := range []struct {
		name string
		t    data.Tensor
		want string // "" = loads
	}{
		{"int64 [n_positions]", data.I64Tensor("transformer.position_ids", []int{8}, ids), ""},
		{"int64 [1, n_positions]", data.I64Tensor("transformer.position_ids", []int{1, 8}, ids), ""},
		{"float", data.F32Tensor("transformer.position_ids", []int{8}, make([]float32, 8)), `tensor "transformer.position_ids" F32 [8] is not a position-id buffer, which holds integers, [8] for n_positions 8`},
		{"too short", data.I64Tensor("transformer.position_ids", []int{4}, ids[:4]), `tensor "transformer.position_ids" I64 [4] is not a position-id buffer`},
	} {
		dir, want := hfModelDir(t, "gpt1", prefixed, c.t)
		got, _, err := LoadModel(dir)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && !slices.Equal(got.List[0].Data, want.List[0].Data):
			t.Errorf("%s: %s differs from the file's", c.name, want.List[0].Name)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
