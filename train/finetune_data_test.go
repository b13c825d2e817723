package train

import (
	"fmt"
	"slices"
	"testing"

	"gptctl/data"
)

func TestTruncateLongestFirst(t *testing.T) {
	seg := func(n int) []int32 { return make([]int32, n) }
	cases := []struct {
		lens   []int
		budget int
		want   []int
	}{
		{[]int{3, 4}, 10, []int{3, 4}}, // fits
		{[]int{10, 3}, 8, []int{5, 3}}, // the long premise gives way
		{[]int{4, 4}, 6, []int{3, 3}},  // a tie takes from the later segment first
		{[]int{5, 4}, 6, []int{3, 3}},  //
		{[]int{20}, 7, []int{7}},       // one text keeps its start
		{[]int{2, 9, 3}, 9, []int{2, 4, 3}},
	}
	for _, c := range cases {
		segs := make([][]int32, len(c.lens))
		for i, n := range c.lens {
			segs[i] = seg(n)
		}
		cut := truncate(segs, c.budget)
		var got []int
		for _, s := range segs {
			got = append(got, len(s))
		}
		if !slices.Equal(got, c.want) || cut != !slices.Equal(c.lens, c.want) {
			t.Errorf("truncate(%v, %d) = %v (cut %v), want %v", c.lens, c.budget, got, cut, c.want)
		}
	}
}

func TestInputTransformations(t *testing.T) {
	tok := data.NewCharTokenizer("abcdxyz ") // " " 0, a 1, b 2, c 3, d 4, x 5, y 6, z 7
	const S, D, E = 100, 101, 102
	cases := []struct {
		typ  string
		ex   data.Example
		want string
	}{
		{TaskClassification, data.Example{Fields: map[string]string{"text": " abc "}}, "[[100 1 2 3 102]]"},
		{TaskEntailment, data.Example{Fields: map[string]string{"premise": "ab", "hypothesis": "x"}}, "[[100 1 2 101 5 102]]"},
		{TaskSimilarity, data.Example{Fields: map[string]string{"a": "ab", "b": "x"}}, "[[100 1 2 101 5 102] [100 5 101 1 2 102]]"},
		{TaskMultipleChoice, data.Example{Fields: map[string]string{"context": "a", "question": "b"}, Options: []string{"x", "yz"}},
			"[[100 1 0 2 101 5 102] [100 1 0 2 101 6 7 102]]"},
	}
	for _, c := range cases {
		codec := &taskCodec{info: &TaskInfo{Type: c.typ, MaxLen: 16, Special: SpecialTokens{S, D, E}}, tok: tok}
		if got := fmt.Sprint(codec.encode(c.ex).rows); got != c.want {
			t.Errorf("%s: %s, want %s", c.typ, got, c.want)
		}
	}
}

func TestEpochBatches(t *testing.T) {
	exs := make([]taskExample, 1000)
	for i := range exs {
		exs[i].width = (i * 37) % 50
	}
	a, b := epochBatches(exs, 32, 7, 0), epochBatches(exs, 32, 7, 1)
	if fmt.Sprint(a) != fmt.Sprint(epochBatches(exs, 32, 7, 0)) || fmt.Sprint(a) == fmt.Sprint(b) {
		t.Fatal("an epoch's batches must depend on the seed and epoch only")
	}
	seen := map[int]bool{}
	spread := 0
	for _, batch := range a {
		lo, hi := 99, 0
		for _, i := range batch {
			seen[i] = true
			lo, hi = min(lo, exs[i].width), max(hi, exs[i].width)
		}
		spread += hi - lo
	}
	if len(a) != 32 || len(seen) != 1000 {
		t.Errorf("%d batches over %d examples, want 32 over 1000", len(a), len(seen))
	}
	if avg := float64(spread) / float64(len(a)); avg > 5 {
		t.Errorf("batches mix lengths: mean width spread %.1f", avg)
	}
}

func TestPaddedLen(t *testing.T) {
	for _, c := range [][3]int{{1, 64, 8}, {8, 64, 8}, {9, 64, 16}, {17, 64, 24}, {25, 64, 32}, {33, 64, 48}, {49, 64, 64}, {100, 128, 128}, {130, 512, 192}} {
		if got := paddedLen(c[0], c[1]); got != c[2] {
			t.Errorf("paddedLen(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

// A char-level model drops the characters it has never seen; the codec
// counts the examples that lost some and names the characters, once.
func TestTaskCodecUnknownCharacters(t *testing.T) {
	info := newTaskInfo(TaskConfig{Type: TaskEntailment, TaskFormat: data.TaskFormat{Labels: []string{"0", "1"}}}, len(synthChars), 64)
	c := &taskCodec{info: info, tok: data.NewCharTokenizer(synthChars)}
	exs := c.encodeAll([]data.Example{
		{Fields: map[string]string{"premise": "all fine here", "hypothesis": "fine"}},
		{Fields: map[string]string{"premise": "Zebras at 9", "hypothesis": "no 9s. ok"}},
		{Fields: map[string]string{"premise": "plain", "hypothesis": "Quiet!"}},
	})
	if len(exs) != 3 || c.lossy != 2 {
		t.Fatalf("%d examples, %d lossy; want 3 and 2", len(exs), c.lossy)
	}
	if got, want := c.unknownNote(), `2 examples have characters outside the model's vocabulary, which are dropped: "!9QZ"`; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
	clean := &taskCodec{info: info, tok: data.NewCharTokenizer(synthChars)}
	clean.encodeAll([]data.Example{{Fields: map[string]string{"premise": "a", "hypothesis": "b"}}})
	if note := clean.unknownNote(); note != "" {
		t.Errorf("no unknown characters, yet %q", note)
	}
}

// The note on characters outside the vocabulary counts one example in
// the singular and escapes what would not show: a combining mark (which
// would draw over the quote), a zero-width joiner.
func TestTaskCodecUnknownNoteWording(t *testing.T) {
	info := newTaskInfo(TaskConfig{Type: TaskClassification, TaskFormat: data.TaskFormat{Labels: []string{"0", "1"}}}, len(synthChars), 64)
	c := &taskCodec{info: info, tok: data.NewCharTokenizer(synthChars)}
	c.encodeAll([]data.Example{{Fields: map[string]string{"text": "cafe\u0301 a\u200db \u00e9"}}})
	if got, want := c.unknownNote(), `1 example has characters outside the model's vocabulary, which are dropped: "é\u0301\u200d"`; got != want {
		t.Errorf("note %s, want %s", got, want)
	}
}

// A huge metric (the MSE of huge scores) is written with an exponent.
func TestMetricsText(t *testing.T) {
	if got, want := metricsText(map[string]float64{"mse": 2.5e74, "pearson": 0, "spearman": 0.12345}), "mse 2.5e+74, pearson 0.0000, spearman 0.1235"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// A similarity pair is truncated once, so both orders read the same text:
// of two segments of 4 tokens in a budget of 7, one loses its last token in
// both orders (truncating each order, the later segment of each lost it).
// The one that loses it is the same text in the row with a and b swapped
// (the greater by ids, "xyzx"), so the swapped row reads the same two
// sequences and scores the same.
func TestSimilarityTruncatesThePairOnce(t *testing.T) {
	tok := data.NewCharTokenizer("abcdxyz ") // a 1, b 2, c 3, d 4, x 5, y 6, z 7
	const S, D, E = 100, 101, 102
	codec := &taskCodec{info: &TaskInfo{Type: TaskSimilarity, MaxLen: 10, Special: SpecialTokens{S, D, E}}, tok: tok}
	ex := codec.encode(data.Example{Fields: map[string]string{"a": "abcd", "b": "xyzx"}})
	if got, want := fmt.Sprint(ex.rows), "[[100 1 2 3 4 101 5 6 7 102] [100 5 6 7 101 1 2 3 4 102]]"; got != want || codec.truncated != 1 {
		t.Errorf("rows %s (%d truncated), want %s", got, codec.truncated, want)
	}
	swapped := codec.encode(data.Example{Fields: map[string]string{"a": "xyzx", "b": "abcd"}})
	if got, want := fmt.Sprint(swapped.rows), "[[100 5 6 7 101 1 2 3 4 102] [100 1 2 3 4 101 5 6 7 102]]"; got != want || codec.truncated != 2 {
		t.Errorf("swapped: rows %s (%d truncated), want %s", got, codec.truncated, want)
	}
}

// A multiple-choice row whose context is too long keeps its question: the
// context, the longest segment, gives way from its end, as a premise does,
// and the question after it is not cut with it.
func TestChoiceTruncationKeepsTheQuestion(t *testing.T) {
	tok := data.NewCharTokenizer("abcdxyz ") // " " 0, a 1, b 2, c 3, d 4, x 5, y 6, z 7
	const S, D, E = 100, 101, 102
	codec := &taskCodec{info: &TaskInfo{Type: TaskMultipleChoice, MaxLen: 12, Special: SpecialTokens{S, D, E}}, tok: tok}
	ex := data.Example{Fields: map[string]string{"context": "aaaaaaaaaaaa", "question": "bc"}, Options: []string{"x", "yz"}}
	// <s> a a a a a " " b c $ x <e> and <s> a a a a " " b c $ y z <e>
	want := "[[100 1 1 1 1 1 0 2 3 101 5 102] [100 1 1 1 1 0 2 3 101 6 7 102]]"
	if got := fmt.Sprint(codec.encode(ex).rows); got != want || codec.truncated != 1 {
		t.Errorf("rows %s (%d truncated), want %s", got, codec.truncated, want)
	}
}

// Keeping the question does not cost the option: a row is cut between
// context and option as before, and only the context's share is split
// between story and question.
func TestChoiceTruncationSparesTheOption(t *testing.T) {
	tok := data.NewCharTokenizer("abcdxyz ")
	codec := &taskCodec{info: &TaskInfo{Type: TaskMultipleChoice, MaxLen: 18, Special: SpecialTokens{100, 101, 102}}, tok: tok}
	ex := data.Example{Fields: map[string]string{"context": "aaaaa", "question": "bbbb"}, Options: []string{"xxxxxxxxx"}}
	// context "aaaaa bbbb" (10) and option (9) in 15: 8 and 7, as with one context segment
	want := "[[100 1 1 1 1 0 2 2 2 101 5 5 5 5 5 5 5 102]]"
	if got := fmt.Sprint(codec.encode(ex).rows); got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
}
