package train

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/graph"
)

func TestClassificationMetrics(t *testing.T) {
	cases := []struct {
		name      string
		got, want float64
	}{
		{"accuracy", Accuracy([]int{0, 1, 1, 0}, []int{0, 1, 0, 0}), 0.75},
		{"accuracy empty", Accuracy(nil, nil), 0},
		{"accuracy length mismatch", Accuracy([]int{1}, []int{1, 1}), 0},
		// tp=2 fp=1 fn=1: 2*2/(2*2+1+1); sklearn f1_score gives 0.6667.
		{"f1", F1([]int{1, 1, 0, 1, 0, 0}, []int{1, 0, 0, 1, 1, 0}, 1), 2.0 / 3},
		{"f1 of class 0", F1([]int{1, 1, 0, 1, 0, 0}, []int{1, 0, 0, 1, 1, 0}, 0), 2.0 / 3},
		{"f1 no positives", F1([]int{0, 0}, []int{0, 0}, 1), 0},
		{"f1 empty", F1(nil, nil, 1), 0},
		// The scikit-learn f1_score docs example: macro 0.2667
		// (class F1s 0.8, 0, 0).
		{"macro f1", MacroF1([]int{0, 2, 1, 0, 0, 1}, []int{0, 1, 2, 0, 1, 2}, 3), 0.8 / 3},
		// Class 2 occurs nowhere: averaged over classes 0 and 1 only, as
		// sklearn does without labels=.
		{"macro f1 absent class", MacroF1([]int{1, 1, 0, 1, 0, 0}, []int{1, 0, 0, 1, 1, 0}, 3), 2.0 / 3},
		{"macro f1 empty", MacroF1(nil, nil, 2), 0},
		// The scikit-learn matthews_corrcoef docs example: -0.33
		// (tp=2 fn=1 fp=1 tn=0: (0-1)/sqrt(3*3*1*1)).
		{"matthews binary", Matthews([]int{1, -1, 1, 1}, []int{1, 1, 1, -1}), -1.0 / 3},
		{"matthews perfect", Matthews([]int{0, 1, 1, 0}, []int{0, 1, 1, 0}), 1},
		{"matthews inverted", Matthews([]int{1, 0, 0, 1}, []int{0, 1, 1, 0}), -1},
		// s=6 c=5 t=(2,2,2) p=(2,1,3): (30-12)/sqrt((36-14)*(36-12)) = 0.78335
		// (sklearn: 0.7833494518006403).
		{"matthews 3 classes", Matthews([]int{0, 0, 1, 2, 2, 2}, []int{0, 0, 1, 1, 2, 2}), 0.7833494518006403},
		{"matthews constant pred", Matthews([]int{1, 1, 1}, []int{0, 1, 0}), 0},
		{"matthews empty", Matthews(nil, nil), 0},
	}
	for _, c := range cases {
		if math.Abs(c.got-c.want) > 1e-12 || math.IsNaN(c.got) {
			t.Errorf("%s = %.10f, want %.10f", c.name, c.got, c.want)
		}
	}
}

func TestCorrelations(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{2, 4, 5, 4, 5}
	nan := math.NaN()
	cases := []struct {
		name      string
		got, want float64
	}{
		// sxy=6 sxx=10 syy=6: 6/sqrt(60); scipy.stats.pearsonr 0.7745966692414834.
		{"pearson", Pearson(x, y), 0.7745966692414834},
		{"pearson negative", Pearson(x, []float64{10, 8, 6, 4, 2}), -1},
		// y ranks (1, 2.5, 4.5, 2.5, 4.5): 7/sqrt(90); scipy.stats.spearmanr
		// 0.7378647873726218.
		{"spearman ties", Spearman(x, y), 0.7378647873726218},
		{"spearman monotone", Spearman([]float64{1, 2, 3, 4}, []float64{1, 8, 27, 64}), 1},
		{"spearman reversed", Spearman([]float64{3, 1, 2}, []float64{-3, -1, -2}), -1},
		{"pearson constant", Pearson(x, []float64{3, 3, 3, 3, 3}), 0},
		{"pearson constant non-representable", Pearson([]float64{0.1, 0.1, 0.1}, []float64{1, 2, 3}), 0},
		{"spearman constant", Spearman([]float64{7, 7, 7}, []float64{1, 2, 3}), 0},
		{"pearson empty", Pearson(nil, nil), 0},
		{"pearson one point", Pearson([]float64{1}, []float64{2}), 0},
		{"pearson length mismatch", Pearson(x, y[:4]), 0},
		{"pearson nan", Pearson([]float64{1, nan, 3}, []float64{1, 2, 3}), 0},
		{"spearman nan", Spearman([]float64{1, nan, 3}, []float64{1, 2, 3}), 0},
		{"pearson inf", Pearson([]float64{1, math.Inf(1), 3}, []float64{1, 2, 3}), 0},
		{"pearson huge", Pearson([]float64{1e200, 2e200, 3e200}, []float64{1, 2, 3}), 1},
	}
	for _, c := range cases {
		if math.Abs(c.got-c.want) > 1e-12 || math.IsNaN(c.got) {
			t.Errorf("%s = %.16f, want %.16f", c.name, c.got, c.want)
		}
	}
}

func TestRanksAverageTies(t *testing.T) {
	r, ok := ranks([]float64{10, 20, 10, 30, 20, 10})
	want := []float64{2, 4.5, 2, 6, 4.5, 2}
	for i := range want {
		if !ok || r[i] != want[i] {
			t.Fatalf("ranks = %v, want %v", r, want)
		}
	}
}

// Trimming metrics.jsonl on resume keeps every line up to the checkpoint's
// step, however long: a line of more than 1 MiB (a hand-edited file) used
// to end the copy, and the lines after it were lost.
func TestOpenMetricsKeepsLongLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	long := `{"step":2,"note":"` + strings.Repeat("x", 2<<20) + `"}`
	writeFile(t, path, `{"step":1}`+"\n"+long+"\n"+`{"step":3}`+"\n"+`{"step":4}`+"\n")
	m, err := openMetrics(path, 3, 3, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m.close()
	if got := stepsOf(readFile(t, path)); got != "1 2 3" {
		t.Errorf("steps kept: %s, want 1 2 3", got)
	}
}

// A resume whose metrics.jsonl lost lines the checkpoint had synced (a file
// cut short, emptied or damaged) says so, naming the file and the steps;
// one that lost only lines past the checkpoint says nothing.
func TestResumeWarnsOfLostMetricsLines(t *testing.T) {
	dir := t.TempDir()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=8", "log_interval=1", "checkpoint_interval=4"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "metrics.jsonl")
	lines := strings.SplitAfter(readFile(t, path), "\n")
	writeFile(t, path, strings.Join(lines[:3], "")+lines[3][:5]) // steps 1-3 and a torn line
	var log strings.Builder
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=10", "log_interval=1", "checkpoint_interval=4"), Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if line := lineWith(log.String(), "warning"); !strings.Contains(line, path+" ends at step 3") || !strings.Contains(line, "up to step 8") {
		t.Errorf("log after a resume on a cut metrics.jsonl:\n%s\nwant a warning naming the file, step 3 and step 8", log.String())
	}
	if got := stepsOf(readFile(t, path)); got != "1 2 3 9 10" {
		t.Errorf("steps: %s, want 1 2 3 9 10", got)
	}

	// Lines past the checkpoint, as a kill leaves them, are no loss.
	lines = strings.SplitAfter(readFile(t, path), "\n")
	writeFile(t, path, strings.Join(lines, "")+`{"step":11,"train_loss":1}`+"\n"+`{"step":1`)
	log.Reset()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=12", "log_interval=1", "checkpoint_interval=4"), Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "warning") {
		t.Errorf("a warning on a resume that lost nothing:\n%s", log.String())
	}

	// A damaged line before good ones (NULs where a crash left a block
	// unwritten) is dropped with a warning too.
	lines = strings.SplitAfter(readFile(t, path), "\n")
	writeFile(t, path, lines[0]+strings.Repeat("\x00", 40)+"\n"+strings.Join(lines[2:], ""))
	log.Reset()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=13", "log_interval=1", "checkpoint_interval=4"), Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if line := lineWith(log.String(), "warning"); !strings.Contains(line, path+": damaged lines dropped (not metrics lines, before its end): 1") {
		t.Errorf("log after a resume on a metrics.jsonl damaged in the middle:\n%s", log.String())
	}
}

// The validation cross-entropy of a confidently wrong prediction is its
// logit gap, as the training loss has it, not a value capped by the
// probabilities' floor.
func TestTaskLossOfLargeLogitGaps(t *testing.T) {
	info := &TaskInfo{Objective: graph.Classify, Labels: []string{"a", "b"}}
	exs := []taskExample{{label: 1, score: float32(math.NaN())}}
	for _, gap := range []float32{10, 60, 70, 100, 700} {
		outs := [][]float64{softmax64([]float32{gap, 0})}
		got := taskMetrics(info, exs, outs)["loss"]
		want := float64(gap) + math.Log1p(math.Exp(-float64(gap))) // -log softmax
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("logits [%g 0], label 1: loss %.9g, want %.9g", gap, got, want)
		}
	}
}
