package train

import (
	"context"
	"fmt"
	"path/filepath"
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
