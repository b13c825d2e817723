package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/graph"
)

// scoreRows gives each row the mean log-probability of its option tokens:
// minus the LM cross-entropy over exactly those positions, computed by the
// graph's own loss one row at a time; batches with padding rows, options at
// the start of a row and rows shorter than the graph included.
func TestScoreRowsIsOptionLogProb(t *testing.T) {
	cfg := graph.Config{Arch: "gpt2", VocabSize: 23, NCtx: 12, NEmbd: 16, NHead: 2, NLayer: 2, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(4))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var rows []choiceRow
	for i := range 7 {
		n := 2 + r.IntN(cfg.NCtx-1)
		row := choiceRow{first: 1 + r.IntN(n-1)}
		if i == 3 {
			row.first = 1 // the whole row is the option: its first token has nothing before it
		}
		for range n {
			row.ids = append(row.ids, int32(r.IntN(cfg.VocabSize)))
		}
		rows = append(rows, row)
	}
	got, err := scoreRows(p, rows, cfg.NCtx, InferOptions{Batch: 3}, "cpu")
	if err != nil {
		t.Fatal(err)
	}

	m, loss, targets, prog := oneRowLM(t, p, cfg.NCtx)
	for i, row := range rows {
		in, tg := graph.Int32Data(m.Idx), graph.Int32Data(targets)
		clear(in)
		copy(in, row.ids)
		for j := range tg {
			tg[j] = -1
			if j+1 >= row.first && j+1 < len(row.ids) {
				tg[j] = row.ids[j+1]
			}
		}
		if err := m.Run(prog); err != nil {
			t.Fatal(err)
		}
		want := -float64(m.Value(loss)[0])
		if math.Abs(got[i]-want) > 1e-5 {
			t.Errorf("row %d (%d tokens, option from %d): score %.6f, the graph's loss gives %.6f", i, len(row.ids), row.first, got[i], want)
		}
	}
}

func TestChoiceSequence(t *testing.T) {
	for _, c := range []struct {
		prefix, option []int
		T              int
		want           []int32
		first          int
		cut            bool
	}{
		{[]int{1, 2, 3}, []int{4, 5}, 8, []int32{1, 2, 3, 4, 5}, 3, false},
		{[]int{1, 2, 3}, []int{4, 5}, 4, []int32{2, 3, 4, 5}, 2, true}, // the prefix loses its start
		{[]int{1, 2, 3}, []int{4, 5, 6}, 2, []int32{5, 6}, 1, true},    // so does an option longer than T
		{nil, []int{4, 5}, 8, []int32{4, 5}, 1, false},                 // no prefix: the option's first token is not scored
	} {
		r, cut := choiceSequence(c.prefix, c.option, c.T)
		if fmt.Sprint(r.ids) != fmt.Sprint(c.want) || r.first != c.first || cut != c.cut {
			t.Errorf("choiceSequence(%v, %v, %d) = %v from %d (cut %v), want %v from %d (cut %v)",
				c.prefix, c.option, c.T, r.ids, r.first, cut, c.want, c.first, c.cut)
		}
	}
}

// A language model pretrained on "NAME is red." lines picks " red." among
// three endings zero-shot, where the first option is right a third of the
// time; a finetuned-style task of another kind is refused.
func TestZeroShotChoice(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	var corpus, task strings.Builder
	for range 3000 {
		fmt.Fprintf(&corpus, "%s is red.\n", randWord(r))
	}
	for i := range 60 {
		opts := []string{randWord(r) + ".", randWord(r) + ".", randWord(r) + "."}
		opts[i%3] = "red."
		fmt.Fprintf(&task, `{"ctx": "%s is", "endings": [%q, %q, %q], "label": %d}`+"\n", randWord(r), opts[0], opts[1], opts[2], i%3)
	}
	cfg := tinyConfig(t, "data="+writeFile(t, filepath.Join(dir, "corpus.txt"), corpus.String()), "max_steps=150", "dropout=0",
		"lr=3e-3", "batch_size=16", "checkpoint_interval=0", "eval_interval=0")
	out := filepath.Join(dir, "lm")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	mc := TaskConfig{Type: TaskMultipleChoice, TaskFormat: data.TaskFormat{Columns: map[string]string{
		"context": "ctx", "option0": "endings.0", "option1": "endings.1", "option2": "endings.2", "label": "label"}}}
	file := writeFile(t, filepath.Join(dir, "task.jsonl"), task.String())
	res, err := ZeroShotChoice(out, file, mc, InferOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	if res["examples"] != 60 || res["accuracy"].(float64) < 0.9 || math.Abs(res["option0_accuracy"].(float64)-1.0/3) > 1e-9 {
		t.Errorf("zero-shot %v: want the ending the corpus taught", res)
	}
	mc.Type = TaskClassification
	if _, err := ZeroShotChoice(out, file, mc, InferOptions{Batch: 16}); err == nil || !strings.Contains(err.Error(), "multiple_choice") {
		t.Errorf("a classification task: %v", err)
	}
}

// An example without context or question is read after the start token, so
// that every token of its options is scored: an option of one token used to
// have none scored and win with a score of 0.
func TestChoiceRowsWithoutContext(t *testing.T) {
	tok := data.NewCharTokenizer("abc .\n")
	exs := []data.Example{
		{Fields: map[string]string{}, Options: []string{"", "abc."}},
		{Fields: map[string]string{"context": "ab", "question": ""}, Options: []string{"c"}},
	}
	rows, truncated, _, drops := choiceRows(tok, exs, 16)
	if len(rows) != 3 || truncated != 0 || drops.unknownNote() != "" {
		t.Fatalf("rows %v, truncated %d, %q", rows, truncated, drops.unknownNote())
	}
	start := int32(tok.Encode("\n")[0]) // a char vocabulary has no end-of-text token: the newline
	for i, want := range []string{" ", " abc."} {
		ids := tok.Encode(want)
		if r := rows[i]; r.first != 1 || r.ids[0] != start || len(r.ids) != 1+len(ids) {
			t.Errorf("option %q without context: ids %v scored from %d, want the start token, then %v all scored", want, r.ids, r.first, ids)
		}
	}
	if r := rows[2]; r.first != 2 || len(r.ids) != 4 {
		t.Errorf("option after context \"ab\": ids %v scored from %d", r.ids, r.first)
	}
}

// Zero-shot eval stops at a bad row unless --skip-bad-rows, whatever the
// task config's skip_bad_rows, as eval of a finetuned model does.
func TestZeroShotSkipBadRows(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "mc.tsv"), "ctx\to1\to2\tans\nthe cat\tsat\tran\t0\nthe dog\tbarked\t\tzz\nthe cow\tate\tslept\t1\n")
	task := TaskConfig{Type: TaskMultipleChoice, Train: file}
	task.Header, task.SkipBadRows = true, true
	task.Columns = map[string]string{"context": "ctx", "option0": "o1", "option1": "o2", "label": "ans"}
	var re *data.RowError
	if _, err := ZeroShotChoice(tinyModelDir(t), file, task, InferOptions{Batch: 4}); !errors.As(err, &re) || re.Line != 3 {
		t.Errorf("without --skip-bad-rows: %v, want a row error at line 3", err)
	}
	task.SkipBadRows = false
	res, err := ZeroShotChoice(tinyModelDir(t), file, task, InferOptions{Batch: 4, SkipBadRows: true, Log: io.Discard})
	if err != nil || res["examples"] != 2 {
		t.Errorf("with --skip-bad-rows: %v, %v", res, err)
	}
}

// An option a char-level model can read nothing of ("42" without digits)
// is a bad row, as a blank one is: read as nothing, it used to score best
// on every row.
func TestZeroShotUnreadableOption(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "mc.tsv"), "ctx\to1\to2\tans\nthe cat\tsat\tran\t0\nthe dog\tbarked\t42\t1\nthe cow\tate\tslept\t1\n")
	task := TaskConfig{Type: TaskMultipleChoice, Train: file}
	task.Header = true
	task.Columns = map[string]string{"context": "ctx", "option0": "o1", "option1": "o2", "label": "ans"}
	var re *data.RowError
	if _, err := ZeroShotChoice(tinyModelDir(t), file, task, InferOptions{Batch: 4}); !errors.As(err, &re) || re.Line != 3 || !strings.Contains(err.Error(), `none of its characters "42" is in the model's vocabulary`) {
		t.Errorf("zero-shot: %v, want a row error at line 3 naming the characters", err)
	}
	res, err := ZeroShotChoice(tinyModelDir(t), file, task, InferOptions{Batch: 4, SkipBadRows: true, Log: io.Discard})
	if err != nil || res["examples"] != 2 || res["skipped"] != 1 {
		t.Errorf("zero-shot with --skip-bad-rows: %v, %v", res, err)
	}
}

// Zero-shot scoring counts truncated examples, not options, and says which
// characters a char-level model dropped (two options of unknown characters
// used to score alike, the tie going to option 0, without a word).
func TestChoiceRowsTruncatedAndUnknown(t *testing.T) {
	tok := data.NewCharTokenizer("abc .\n")
	exs := []data.Example{
		{Fields: map[string]string{"context": "abcabcabcabc"}, Options: []string{"a", "b", "c"}},
		{Fields: map[string]string{"context": "ab"}, Options: []string{"日本", "€€"}},
		{Fields: map[string]string{"context": "aZ"}, Options: []string{"a", "b"}},
		{Fields: map[string]string{"context": "ab"}, Options: []string{"a", "abcabcabc"}},
	}
	_, truncated, bare, drops := choiceRows(tok, exs, 8)
	if truncated != 2 || bare != 1 {
		t.Errorf("truncated %d, without context %d; want 2 examples (of their options) truncated, 1 with an option of n_ctx tokens or more", truncated, bare)
	}
	if got, want := drops.unknownNote(), `2 examples have characters outside the model's vocabulary, which are dropped: "Z€日本"`; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
}

// A diverged language model (weights finite, outputs not) gets no
// zero-shot accuracy: every score NaN, option 0 would win every example.
func TestZeroShotNonFiniteModel(t *testing.T) {
	dir := t.TempDir()
	cfg := graph.Config{Arch: "gpt1", VocabSize: len(synthChars), NCtx: 32, NEmbd: 32, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.List[0].Data {
		p.List[0].Data[i] = math.MaxFloat32
	}
	lm := t.TempDir()
	if err := writeModelDir(lm, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, filepath.Join(dir, "mc.jsonl"), `{"ctx": "the cat", "a": "sat", "b": "ran", "label": 1}`+"\n")
	mc := TaskConfig{Type: TaskMultipleChoice, TaskFormat: data.TaskFormat{Columns: map[string]string{
		"context": "ctx", "option0": "a", "option1": "b", "label": "label"}}}
	var nf *NonFiniteError
	if res, err := ZeroShotChoice(lm, file, mc, InferOptions{Batch: 2}); !errors.As(err, &nf) || !strings.Contains(err.Error(), "line 1 of") {
		t.Errorf("NaN weights: %v, %v; want a non-finite error naming the line", res, err)
	}
}
