package data

import (
	"math"
	"reflect"
	"testing"
)

func exampleLines(ex []Example) []int {
	var out []int
	for _, e := range ex {
		out = append(out, e.Line)
	}
	return out
}

func TestSplitExamples(t *testing.T) {
	ex := make([]Example, 100)
	for i := range ex {
		ex[i].Line = i + 1
	}
	train, val := SplitExamples(ex, 0.1, 1337)
	if len(train) != 90 || len(val) != 10 {
		t.Fatalf("split 100 at 0.1 into %d/%d, want 90/10", len(train), len(val))
	}
	seen := map[int]bool{}
	for _, part := range [][]Example{train, val} {
		for k, e := range part {
			if seen[e.Line] || k > 0 && e.Line <= part[k-1].Line {
				t.Fatalf("line %d repeated or out of order", e.Line)
			}
			seen[e.Line] = true
		}
	}
	train2, val2 := SplitExamples(ex, 0.1, 1337)
	if !reflect.DeepEqual(exampleLines(val), exampleLines(val2)) || !reflect.DeepEqual(exampleLines(train), exampleLines(train2)) {
		t.Error("same seed gave different splits")
	}
	// Pinned: the split must not change across Go versions or platforms.
	if got, want := exampleLines(val), []int{11, 18, 23, 45, 57, 64, 73, 80, 88, 92}; !reflect.DeepEqual(got, want) {
		t.Errorf("val lines = %v, want %v", got, want)
	}
	_, val3 := SplitExamples(ex, 0.1, 1338)
	if reflect.DeepEqual(exampleLines(val), exampleLines(val3)) {
		t.Error("different seeds gave the same split")
	}
	for i := range ex {
		if ex[i].Line != i+1 {
			t.Fatal("SplitExamples modified its input")
		}
	}
}

func TestSplitExamplesEdges(t *testing.T) {
	three := []Example{{Line: 1}, {Line: 2}, {Line: 3}}
	cases := []struct {
		frac         float64
		n, wantTrain int
		wantVal      int
	}{
		{0, 3, 3, 0},
		{-1, 3, 3, 0},
		{math.NaN(), 3, 3, 0},
		{0.01, 3, 2, 1}, // at least one in val
		{0.99, 3, 1, 2}, // at least one in train
		{1, 3, 1, 2},
		{5, 3, 1, 2},
		{0.5, 1, 0, 1},
		{0.5, 0, 0, 0},
	}
	for _, c := range cases {
		train, val := SplitExamples(three[:c.n], c.frac, 7)
		if len(train) != c.wantTrain || len(val) != c.wantVal {
			t.Errorf("frac %v of %d: got %d/%d, want %d/%d", c.frac, c.n, len(train), len(val), c.wantTrain, c.wantVal)
		}
	}
}
