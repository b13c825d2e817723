package train

// Comparisons of two runs' outputs: their metrics lines and their weights.

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"gptctl/data"
)

// metricsClose compares two metrics.jsonl files line by line: the same
// keys, every number but the times within tol (relative).
func metricsClose(t *testing.T, fileA, fileB string, tol float64) {
	t.Helper()
	la := strings.Split(strings.TrimSpace(readFile(t, fileA)), "\n")
	lb := strings.Split(strings.TrimSpace(readFile(t, fileB)), "\n")
	if len(la) != len(lb) {
		t.Fatalf("%d metrics lines, want %d", len(la), len(lb))
	}
	for i := range la {
		var a, b map[string]any
		if json.Unmarshal([]byte(la[i]), &a) != nil || json.Unmarshal([]byte(lb[i]), &b) != nil || len(a) != len(b) {
			t.Fatalf("line %d: %s\nwant %s", i+1, la[i], lb[i])
		}
		for k, v := range b {
			if k == "elapsed_s" || k == "tokens_per_s" {
				continue
			}
			x, xok := a[k].(float64)
			y, yok := v.(float64)
			if xok != yok || (xok && math.Abs(x-y) > tol*max(1, math.Abs(y))) || (!xok && fmt.Sprint(a[k]) != fmt.Sprint(v)) {
				t.Errorf("line %d: %s = %v, want %v", i+1, k, a[k], v)
			}
		}
	}
}

// tensorsClose compares two safetensors files tensor by tensor, but for
// the tensors named in skip.
func tensorsClose(t *testing.T, what, fileA, fileB string, tol float64, skip []string) {
	t.Helper()
	a, err := data.ReadSafetensors(fileA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := data.ReadSafetensors(fileB)
	if err != nil {
		t.Fatal(err)
	}
	worst, where := 0.0, ""
	for name, ta := range a.Tensors {
		if slices.Contains(skip, name) || slices.Contains(skip, strings.TrimPrefix(name, "m.")) || slices.Contains(skip, strings.TrimPrefix(name, "v.")) {
			continue
		}
		fa, _ := ta.Float32()
		fb, err := b.Tensors[name].Float32()
		if err != nil || len(fa) != len(fb) {
			t.Fatalf("%s: tensor %s differs in shape: %v", what, name, err)
		}
		for i := range fa {
			if d := math.Abs(float64(fa[i] - fb[i])); d > worst {
				worst, where = d, name
			}
		}
	}
	t.Logf("%s: max weight difference %.3g (%s)", what, worst, where)
	if worst > tol {
		t.Errorf("%s: weights differ by up to %.3g in %s, want <= %g", what, worst, where, tol)
	}
}
