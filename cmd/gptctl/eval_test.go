package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// A language model whose loss is finite but whose perplexity, e^loss,
// overflows a float64 is scored (exit 0): the JSON carries the loss and a
// null perplexity, with a note on stderr, where eval refused it with exit 3
// as outputs that are not finite.
func TestEvalPerplexityOverflows(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(tinyPretrained(t, dir, 1), "checkpoint")
	model := filepath.Join(dir, "model") // its files as a model directory, without the checkpoint's checksums
	os.Mkdir(model, 0o755)
	entries, err := os.ReadDir(ck)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(ck, e.Name())); err == nil && e.Name() != "state.json" && e.Name() != "optimizer.safetensors" {
			os.WriteFile(filepath.Join(model, e.Name()), b, 0o644)
		}
	}
	weights := filepath.Join(model, "model.safetensors")
	st, err := data.ReadSafetensors(weights)
	if err != nil {
		t.Fatal(err)
	}
	var scaled []data.Tensor
	for _, name := range st.Order {
		w := st.Tensors[name]
		for i := 0; i+4 <= len(w.Data); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(w.Data[i:]))
			binary.LittleEndian.PutUint32(w.Data[i:], math.Float32bits(100*v))
		}
		scaled = append(scaled, w)
	}
	if err := data.WriteSafetensors(weights, scaled, st.Metadata); err != nil {
		t.Fatal(err)
	}
	text := writeTemp(t, dir, "t.txt", strings.Repeat("First Citizen: we are accounted poor citizens.\n", 20))
	code, stdout, stderr := runCLI(t, "eval", "--model", model, "--data", text, "--device", "cpu")
	var res struct {
		Loss       *float64
		Perplexity *float64
		Tokens     int
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Loss == nil || *res.Loss < 710 || res.Perplexity != nil || res.Tokens == 0 {
		t.Fatalf("eval: exit %d, %s%s; want exit 0, a loss above 710 and a null perplexity", code, stdout, stderr)
	}
	if want := "note: the perplexity, e^"; !strings.Contains(stderr, want) || !strings.Contains(stderr, "overflows a float64: it is null in the JSON") {
		t.Errorf("stderr %q lacks the note on the perplexity", stderr)
	}
}
