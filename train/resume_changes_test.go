package train

import (
	"errors"
	"strings"
	"testing"

	"gptctl/graph"
)

// A resume that changes several settings a run keeps names every one, each
// on its line, not the first alone.
func TestResumeTellsEveryChange(t *testing.T) {
	have := Default()
	want := have
	want.NLayer, want.NHead, want.Seed, want.BatchSize, want.Tokenizer = have.NLayer+1, have.NHead*2, have.Seed+1, have.BatchSize+1, "byte"
	err := keepsModel(want, have)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("keepsModel: %v, want a ConfigError", err)
	}
	lines := strings.Split(err.Error(), "\n")
	for i, w := range []string{"--resume: n_layer", "--resume: n_head", "--resume: tokenizer \"byte\"", "--resume: seed", "--resume: batch_size"} {
		if len(lines) != 5 || !strings.HasPrefix(lines[i], w) {
			t.Errorf("keepsModel: %q\nline %d, want %q first", lines, i, w)
		}
	}

	ft := FinetuneConfig{BatchSize: 8, GradAccum: 1, Seed: 1, Lambda: 0.5, InitFrom: "m"}
	ft.Task.Val = "dev.tsv"
	ft2 := ft
	ft2.BatchSize, ft2.Seed, ft2.Lambda, ft2.InitFrom = 4, 2, 0, "other"
	ft2.Task.Val = ""
	err = keepsFinetune(ft2, ft)
	for _, w := range []string{"--resume: task.val gives", "--resume: batch_size 4", "--resume: seed 2", "--resume: lambda 0", `--resume: init_from "other"`} {
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), w) || strings.Count(err.Error(), "\n") != 4 {
			t.Errorf("keepsFinetune: %v\nlacks %q, or is not 5 lines", err, w)
		}
	}

	task := TaskConfig{Type: TaskClassification, MaxLen: 32, Metric: "f1"}
	task.Columns = map[string]string{"text": "s", "label": "l"}
	task.Labels = []string{"b", "a"}
	info := &TaskInfo{Type: TaskClassification, Labels: []string{"a", "b"}, MaxLen: 16, Objective: "classify", Metric: "accuracy"}
	err = keepsTask(task, info, 64)
	for _, w := range []string{"--resume: task.labels", "--resume: task.max_len 32", `--resume: task.metric f1`} {
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), w) || strings.Count(err.Error(), "\n") != 2 {
			t.Errorf("keepsTask: %v\nlacks %q, or is not 3 lines", err, w)
		}
	}
	if ch := modelChanges(graph.Config{Arch: "gpt1", NLayer: 2, VocabSize: 10}, graph.Config{Arch: "gpt2", NLayer: 4, VocabSize: 12}); len(ch) != 3 {
		t.Errorf("modelChanges: %v, want arch, n_layer and vocab_size", ch)
	}
}
