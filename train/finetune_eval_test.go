package train

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The finetune's log counts the truncated examples of both splits against
// both ("418 truncated" beside "400 training and 100 validation examples"
// read as the training ones). Eval of a finetuned model on a file whose
// name says it is no task file, such as text, says what it reads (its
// task's columns) and that its language model is not scored on text, with
// what to do; a task file with a problem gets its own message alone.
func TestFinetunedModelOnText(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "batch_size: 8\nmax_steps: 1\nthreads: 1\n")
	cfg.Task.MaxLen = 8 // "<s> yes xx yyy <e>" and longer are cut
	var log strings.Builder
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "ft"), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("32 training and 8 validation examples, max_len 8 (%d of the 40 examples truncated)", sum.Truncated)
	if sum.Truncated == 0 || !strings.Contains(log.String(), want) {
		t.Errorf("%d truncated; the log lacks %q:\n%s", sum.Truncated, want, log.String())
	}

	model := filepath.Join(dir, "ft", "best")
	text := writeFile(t, filepath.Join(dir, "t1.txt"), "Hello world, this is a short test of the model.\n")
	_, err = EvalTask(model, text, InferOptions{Batch: 2})
	if err == nil || !strings.Contains(err.Error(), `no column "label"`) ||
		!strings.Contains(err.Error(), "eval of a finetuned model reads task files, rows with its task's columns (label: label, text: sentence), for its task metrics, and does not score its language model on text (for a loss on text, eval the model it was finetuned from)") {
		t.Errorf("eval of a finetuned model on text: %v", err)
	}
	// A file without an extension, read in the model's format, whose
	// columns are right and a row further down is bad: a task file's
	// problem, not text.
	dev := writeFile(t, filepath.Join(dir, "dev"), "sentence\tlabel\nyes ab\tpos\nno cd\tmaybe\n")
	if _, err := EvalTask(model, dev, InferOptions{Batch: 2}); err == nil || !strings.Contains(err.Error(), `"maybe"`) || strings.Contains(err.Error(), "on text") {
		t.Errorf("eval of a task file without an extension, with a bad label on line 3: %v", err)
	}
	tsv := writeFile(t, filepath.Join(dir, "bad.tsv"), "id\tsentence\n1\tyes ab\n")
	if _, err := EvalTask(model, tsv, InferOptions{Batch: 2}); err == nil || !strings.Contains(err.Error(), `no column "label"`) || strings.Contains(err.Error(), "on text") {
		t.Errorf("eval of a task file without its label column: %v", err)
	}
}

// Prediction on the CPU builds the graph of its longest examples first,
// and the shorter graphs after it share its activations: each holds next
// to nothing of its own, and the predictions are those of a model that
// predicts each length alone.
func TestPredictorSharesLongestGraph(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "batch_size: 8\nmax_steps: 1\nthreads: 1\n")
	ft := filepath.Join(dir, "ft")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: ft, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	m, err := loadTaskModel(filepath.Join(ft, "best"))
	if err != nil {
		t.Fatal(err)
	}
	exs, _, _, err := readTaskExamples(m, filepath.Join(dir, "d.tsv"), false, InferOptions{Batch: 4, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	o := InferOptions{Batch: 4}
	lens := graphLens(m.info.MaxLen, exs)
	if len(lens) < 2 {
		t.Fatalf("the examples pad to %v: the test needs two lengths", lens)
	}
	p, err := m.newPredictor(o, "cpu", lens, len(exs))
	if err != nil {
		t.Fatal(err)
	}
	longest := lens[len(lens)-1]
	if got := slices.Sorted(maps.Keys(p.s.byT)); !slices.Equal(got, []int{longest}) {
		t.Fatalf("after setup: graphs of %v tokens, want %d", got, longest)
	}
	preds, err := p.run(exs, 0)
	if err != nil {
		t.Fatal(err)
	}
	for T, g := range p.s.byT {
		own, arena := g.task.Machine().Floats()
		if mm := g.task.Model; T < longest && own+arena >= mm.B*mm.T*mm.Params.Config.NEmbd {
			t.Errorf("the graph of %d tokens holds %d floats of its own and %d in its arena, more than one activation", T, own, arena)
		}
	}
	for i, e := range exs { // each alone, in a graph of its own length
		alone, err := m.predict([]taskExample{e}, InferOptions{Batch: 1}, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		for j := range alone[0] {
			if d := math.Abs(alone[0][j] - preds[i][j]); d > 1e-5 {
				t.Fatalf("example %d: output %d is %g in a batch, %g alone", i, j, preds[i][j], alone[0][j])
			}
		}
	}
}
