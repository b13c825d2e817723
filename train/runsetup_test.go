package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gptctl/graph"
)

// Pretraining from a finetuned model continues its language model: the
// task tokens <s>, $ and <e> (the last rows of its token embedding) and its
// head are dropped, with a note, so that the run's model is a plain
// language model (no task.json) and a later finetune adds its task tokens
// at the same ids, where before the old rows stayed on as vocabulary no
// text reaches and the finetune added three more. task.json whose tokens
// are not the last rows is refused.
func TestInitFromFinetunedModel(t *testing.T) {
	dir := t.TempDir()
	ftCfg := synthClassifier(t, dir, 40, "batch_size: 8\nmax_steps: 2\nthreads: 1\n")
	ft := filepath.Join(dir, "ft")
	if _, err := Finetune(context.Background(), ftCfg, Options{OutDir: ft, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	tm, err := loadTaskModel(filepath.Join(ft, "best"))
	if err != nil {
		t.Fatal(err)
	}
	V := tm.info.Special.Start // the language model's vocabulary
	if tm.params.Config.VocabSize != V+3 {
		t.Fatalf("the finetuned model has %d tokens, want %d + 3", tm.params.Config.VocabSize, V)
	}

	// bench measures the shape pretraining continues: without them.
	if shape, err := initShape(filepath.Join(ft, "best")); err != nil || shape.VocabSize != V {
		t.Errorf("bench's shape of the finetuned model: vocab %d (%v), want %d", shape.VocabSize, err, V)
	}

	corpus := writeFile(t, filepath.Join(dir, "text.txt"), strings.Repeat("the quick brown fox jumps over the lazy dog, it's said. ", 60))
	cfg := tinyConfig(t, "init_from="+filepath.Join(ft, "best"), "data="+corpus, "max_steps=1", "lr=1e-9", "min_lr=0",
		"warmup_steps=0", "dropout=0", "threads=1", "checkpoint_interval=0")
	run := filepath.Join(dir, "pre")
	var log strings.Builder
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "is a finetuned model (classification): pretraining continues its language model, without its task tokens <s> $ <e>") {
		t.Errorf("the log does not say the task tokens were dropped:\n%s", log.String())
	}
	p, _, err := LoadModel(run)
	if err != nil {
		t.Fatal(err)
	}
	wte, _ := graph.EmbeddingNames(p.Config.Arch)
	if p.Config.VocabSize != V || p.Get(wte).Shape[0] != V || IsTaskModel(run) {
		t.Fatalf("pretrained from the finetuned model: vocab %d, embedding %v, task model %v; want %d rows, no task", p.Config.VocabSize, p.Get(wte).Shape, IsTaskModel(run), V)
	}
	if got, want := p.Get(wte).Data[:32], tm.params.Get(wte).Data[:32]; !slices.EqualFunc(got, want, func(a, b float32) bool { return a-b < 1e-6 && b-a < 1e-6 }) {
		t.Errorf("the vocabulary's embeddings changed: %v, want %v", got[:4], want[:4])
	}

	// A finetune of the run adds its task tokens where the old ones were.
	ftCfg.InitFrom = run
	r := &ftRun{cfg: ftCfg, opt: Options{Log: io.Discard}}
	if err := r.initModel(); err != nil {
		t.Fatal(err)
	}
	if sp := r.model.info.Special; sp.Start != V || r.model.params.Config.VocabSize != V+3 {
		t.Errorf("finetune of the run: task tokens %+v in a vocabulary of %d; want them at %d-%d", sp, r.model.params.Config.VocabSize, V, V+2)
	}

	// task.json whose tokens are not the embedding's last rows.
	best := filepath.Join(ft, "best")
	b, err := os.ReadFile(filepath.Join(best, "task.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(best, "task.json"), strings.Replace(string(b), `"<e>": `, `"<e>": 1`, 1))
	os.Remove(filepath.Join(best, "best.json")) // else its checksums refuse the edit
	_, err = Pretrain(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "pre2"), Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "are not the last three ids of its vocabulary") {
		t.Errorf("task tokens not at the end: %v", err)
	}
}
