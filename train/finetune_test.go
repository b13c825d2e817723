package train

// The finetuning pipeline on small synthetic datasets that the code has
// never seen, each described by a YAML alone: TSV classification, JSONL
// similarity regression, CSV multiple choice. A tiny random "pretrained"
// model stands in for a real one.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gptctl/data"
	"gptctl/graph"
)

const synthChars = "abcdefghijklmnopqrstuvwxyz .,'"

// tinyModelDir writes a random 1-layer char-level model directory.
func tinyModelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := graph.Config{Arch: "gpt1", VocabSize: len(synthChars), NCtx: 32, NEmbd: 32, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeModelDir(dir, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// randWord is a word of 2-6 letters.
func randWord(r *rand.Rand) string {
	b := make([]byte, 2+r.IntN(5))
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

// synthTSV is a sentiment-like TSV: the label is "pos" when the text
// starts with "yes", "neg" when it starts with "no".
func synthTSV(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("id\tlabel\tsentence\r\n") // CRLF, columns in another order
	for i := 0; i < n; i++ {
		word, label := "no", "neg"
		if r.IntN(2) == 1 {
			word, label = "yes", "pos"
		}
		fmt.Fprintf(&b, "%d\t%s\t%s %s %s\r\n", i, label, word, randWord(r), randWord(r))
		if i == 5 {
			b.WriteString("\r\n") // a blank line
		}
	}
	return b.String()
}

// synthPairs is a similarity JSONL: every other pair is a word twice, score
// 5, the others two random words, score 0; each row has a field no role uses.
func synthPairs(n int) string {
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	for i := 0; i < n; i++ {
		x, y := randWord(r), randWord(r)
		score := 0.0
		if i%2 == 0 {
			y, score = x, 5
		}
		fmt.Fprintf(&b, `{"s1": %q, "s2": %q, "sim": %g, "extra": [1, 2]}`+"\n", x, y, score)
	}
	return b.String()
}

// synthClassifier is the config of a finetune of tinyModelDir on rows rows
// of synthTSV in dir (a fifth held out for validation), with the training
// keys of rest (YAML lines).
func synthClassifier(t *testing.T, dir string, rows int, rest string) FinetuneConfig {
	t.Helper()
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}
%s`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "d.tsv"), synthTSV(rows)), rest))
	cfg, err := LoadFinetune(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runFinetune(t *testing.T, yaml string, sets ...string) (*FinetuneSummary, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := LoadFinetune(writeFile(t, filepath.Join(dir, "task.yaml"), yaml), sets)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return sum, out
}

func TestFinetuneClassificationTSV(t *testing.T) {
	dir := t.TempDir()
	train := writeFile(t, filepath.Join(dir, "reviews.tsv"), "\ufeff"+synthTSV(400))
	yaml := fmt.Sprintf(`init_from: %s
task:
  type: classification
  train: %s
  val_fraction: 0.2
  header: true
  columns: {text: sentence, label: label}
  labels: [neg, pos]
lr: 3.0e-3
batch_size: 16
epochs: 4
eval_interval: 10
`, tinyModelDir(t), train)
	sum, out := runFinetune(t, yaml)
	if sum.Status != "completed" || sum.Step != 80 || sum.TrainExamples != 320 || sum.ValExamples != 80 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Val["accuracy"] < 0.95 || sum.BestValue == nil || *sum.BestValue < sum.Val["accuracy"] || sum.Baseline["accuracy"] > 0.65 {
		t.Errorf("val %v, best %v, baseline %v: want the rule learned", sum.Val, sum.BestValue, sum.Baseline)
	}
	metrics := readFile(t, filepath.Join(out, "metrics.jsonl"))
	for _, key := range []string{`"l1_loss"`, `"l2_loss"`, `"train_loss"`, `"tokens_per_s"`, `"val_accuracy"`, `"val_f1"`, `"val_mcc"`} {
		if !strings.Contains(metrics, key) {
			t.Errorf("metrics.jsonl lacks %s:\n%s", key, metrics)
		}
	}
	for _, f := range []string{"finetune.yaml", "summary.json", "best/task.json", "best/head.safetensors", "best/model.safetensors",
		"checkpoint/optimizer.safetensors", "checkpoint/state.json", "checkpoint/tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	if rec, err := readBest(out); err != nil || rec == nil || rec.Step != sum.BestStep || rec.Metric != "accuracy" || rec.Value != *sum.BestValue {
		t.Errorf("best/best.json %+v, %v; want step %d, accuracy %v", rec, err, sum.BestStep, *sum.BestValue)
	}
	res, err := EvalTask(filepath.Join(out, "best"), train, InferOptions{Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res["accuracy"].(float64) < 0.95 || res["examples"] != 400 || res["truncated"] != 0 {
		t.Errorf("eval %v", res)
	}
	long := writeFile(t, filepath.Join(dir, "long.tsv"), "id\tlabel\tsentence\n1\tpos\tyes "+strings.Repeat("ab ", 30)+"\n2\tneg\tno way\n")
	var log strings.Builder
	if res, err := EvalTask(out, long, InferOptions{Batch: 2, Log: &log}); err != nil || res["truncated"] != 1 ||
		!strings.Contains(log.String(), "long.tsv: 1 of 2 examples truncated to max_len 32") {
		t.Errorf("eval of a row longer than max_len: %v, %v, log %q", res, err, log.String())
	}
	text := writeFile(t, filepath.Join(dir, "notes.txt"), "yes it is\n")
	if _, err := EvalTask(out, text, InferOptions{Batch: 8}); err == nil ||
		!strings.Contains(err.Error(), `no column "label"`) || !strings.Contains(err.Error(), "read as tsv, the format the model was finetuned on") {
		t.Errorf("eval of a finetuned model on a text file: %v", err)
	}
	unlabeled := writeFile(t, filepath.Join(dir, "new.tsv"), "id\tsentence\n1\tyes it is\n2\tno way\n")
	var preds strings.Builder
	if n, err := PredictTask(out, unlabeled, &preds, InferOptions{Batch: 4}); err != nil || n != 2 {
		t.Fatalf("predict: %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(preds.String()), "\n")
	if !strings.HasPrefix(lines[0], `{"line":2,"label":"pos","probabilities":{"neg":`) || !strings.Contains(lines[1], `"label":"neg"`) {
		t.Errorf("predictions:\n%s", preds.String())
	}
	// Written a chunk of rows at a time (here 3 of the 400, in batches of
	// 2): the same predictions, in file order, as in one chunk (to float32
	// rounding: a row's batch and padded width differ, and with them the
	// order of a BLAS's sums).
	var whole, chunked strings.Builder
	if _, err := PredictTask(out, train, &whole, InferOptions{Batch: 2}); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { predictChunk = n }(predictChunk)
	predictChunk = 3
	if _, err := PredictTask(out, train, &chunked, InferOptions{Batch: 2}); err != nil {
		t.Fatal(err)
	}
	type pred struct {
		Line          int
		Label         string
		Probabilities map[string]float64
	}
	parse := func(s string) (ps []pred) {
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			var p pred
			if err := json.Unmarshal([]byte(line), &p); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	got, want := parse(chunked.String()), parse(whole.String())
	if len(got) != len(want) {
		t.Fatalf("predict in chunks of 3: %d predictions, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Line != w.Line || math.Abs(g.Probabilities["pos"]-w.Probabilities["pos"]) > 1e-6 ||
			g.Label != w.Label && math.Abs(w.Probabilities["pos"]-0.5) > 1e-6 {
			t.Errorf("predict in chunks of 3, prediction %d: %+v, want %+v", i, g, w)
		}
	}
	// The file is read whole before the work: a bad row anywhere stops
	// predict before its first prediction.
	bad := writeFile(t, filepath.Join(dir, "bad.tsv"), "id\tsentence\n"+strings.Repeat("1\tyes it is\n", 10)+"2\tno\textra\n")
	var partial strings.Builder
	if n, err := PredictTask(out, bad, &partial, InferOptions{Batch: 2}); n != 0 || partial.Len() != 0 || err == nil || !strings.Contains(err.Error(), "bad.tsv:12: has 3 columns") {
		t.Errorf("predict on a file whose last row is bad: %d predictions %q, %v; want none and bad.tsv:12", n, partial.String(), err)
	}
	// ... and then a chunk at a time: a file that grows meanwhile is
	// refused, not scored in part.
	grow := writeFile(t, filepath.Join(dir, "grow.tsv"), "id\tsentence\n"+strings.Repeat("1\tyes it is\n", 8))
	appended := false
	o := InferOptions{Batch: 2, Progress: func(done, _ int) {
		if done >= 2 && !appended {
			appended = true
			f, err := os.OpenFile(grow, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(strings.Repeat("2\tno way\n", 4))
			f.Close()
		}
	}}
	if _, err := PredictTask(out, grow, io.Discard, o); err == nil || !strings.Contains(err.Error(), "grow.tsv changed while predict read it (8 rows at first") {
		t.Errorf("predict on a file that grows: %v", err)
	}
	// A row edited to a length the first reading did not see (whose graph
	// was not checked to fit) is refused too. 40 rows of 2 kB: the second
	// reading has not reached the last when the edit is made.
	pad := strings.Repeat("x", 2000)
	rowsOf := func(last string) string {
		return "id\tsentence\n" + strings.Repeat(pad+"\tyes it is\n", 39) + pad + "\t" + last + "\n"
	}
	edit := writeFile(t, filepath.Join(dir, "edit.tsv"), rowsOf("no way"))
	edited := false
	o.Progress = func(done, _ int) {
		if done >= 2 && !edited {
			edited = true
			if err := os.WriteFile(edit, []byte(rowsOf("no "+strings.Repeat("ab ", 12))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := PredictTask(out, edit, io.Discard, o); err == nil || !strings.Contains(err.Error(), "edit.tsv changed while predict read it (40 rows at first") {
		t.Errorf("predict on a file whose last row grew: %v", err)
	}
	// A file of another format: by its extension, by Format where its name
	// does not say, else in the model's (the same rows as CSV, as .txt TSV
	// with and without --format, as .dat CSV with it).
	for _, c := range []struct{ name, format, body string }{
		{"new.csv", "", "id,sentence\n1,yes it is\n2,\"no way\"\n"},
		{"new.txt", "tsv", "id\tsentence\n1\tyes it is\n2\tno way\n"},
		{"new2.txt", "", "id\tsentence\n1\tyes it is\n2\tno way\n"},
		{"new.dat", "csv", "id,sentence\n1,yes it is\n2,\"no way\"\n"},
	} {
		var got strings.Builder
		o := InferOptions{Batch: 4, Format: c.format}
		if _, err := PredictTask(out, writeFile(t, filepath.Join(dir, c.name), c.body), &got, o); err != nil || got.String() != preds.String() {
			t.Errorf("predict %s: %v\n%s\nwant the predictions of new.tsv", c.name, err, got.String())
		}
	}
	if _, err := PredictTask(out, filepath.Join(dir, "notes.txt"), io.Discard, InferOptions{Batch: 4}); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("predict on a .txt file without a format: %v, want a pointer to --format", err)
	}
	// A file with no rows is nothing to predict; eval has nothing to measure.
	empty := writeFile(t, filepath.Join(dir, "empty.tsv"), "id\tsentence\n")
	var none strings.Builder
	if n, err := PredictTask(out, empty, &none, InferOptions{Batch: 4}); err != nil || n != 0 || none.Len() != 0 {
		t.Errorf("predict on a header-only file: %d predictions %q, %v; want none and no error", n, none.String(), err)
	}
	empty = writeFile(t, filepath.Join(dir, "empty.tsv"), "id\tlabel\tsentence\n")
	if _, err := EvalTask(out, empty, InferOptions{Batch: 4}); err == nil || !strings.Contains(err.Error(), "no examples") {
		t.Errorf("eval on a header-only file: %v, want no examples", err)
	}
}

// A JSONL similarity task with a score: both orders, regression.
func TestFinetuneSimilarityJSONL(t *testing.T) {
	dir := t.TempDir()
	yaml := fmt.Sprintf(`init_from: %s
task: {type: similarity, train: %s, columns: {a: s1, b: s2, score: sim}, val_fraction: 0.25}
batch_size: 8
max_steps: 6
eval_interval: 3
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "pairs.jsonl"), synthPairs(60)))
	sum, out := runFinetune(t, yaml, "lambda=0")
	if sum.Step != 6 || sum.BestMetric != "pearson" || sum.Val["mse"] <= 0 {
		t.Fatalf("summary %+v", sum)
	}
	if m := readFile(t, filepath.Join(out, "metrics.jsonl")); strings.Contains(m, "l1_loss") || !strings.Contains(m, "val_spearman") {
		t.Errorf("lambda 0 should log no l1_loss, and regression val_spearman:\n%s", m)
	}
	var preds strings.Builder
	if _, err := PredictTask(out, filepath.Join(dir, "pairs.jsonl"), &preds, InferOptions{Batch: 16}); err != nil || !strings.Contains(preds.String(), `"score":`) {
		t.Fatalf("predict: %v\n%s", err, preds.String())
	}
	// The same rows in a TSV or CSV file whose header names the JSON
	// fields: the same scores (a JSONL task sets no header: for a tsv/csv
	// file, its field names are the header's).
	var rows [][2]string
	for _, line := range strings.Split(strings.TrimSpace(synthPairs(60)), "\n") {
		var r struct{ S1, S2 string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, [2]string{r.S1, r.S2})
	}
	scores := func(preds string) (s []string) {
		for _, line := range strings.Split(strings.TrimSpace(preds), "\n") {
			s = append(s, line[strings.Index(line, `"score"`):])
		}
		return s
	}
	for _, sep := range []string{"\t", ","} {
		b := strings.Builder{}
		b.WriteString("s1" + sep + "s2\n")
		for _, r := range rows {
			b.WriteString(r[0] + sep + r[1] + "\n")
		}
		name := map[string]string{"\t": "pairs.tsv", ",": "pairs.csv"}[sep]
		var got strings.Builder
		if _, err := PredictTask(out, writeFile(t, filepath.Join(dir, name), b.String()), &got, InferOptions{Batch: 16}); err != nil {
			t.Fatalf("predict on %s of a JSONL-finetuned model: %v", name, err)
		}
		if !slices.Equal(scores(got.String()), scores(preds.String())) {
			t.Errorf("predict on %s:\n%s\nwant the scores of the JSONL file:\n%s", name, got.String(), preds.String())
		}
	}
}

// A CSV multiple-choice task with three options, quoted fields and label
// values named in the config.
func TestFinetuneMultipleChoiceCSV(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("story,q,o1,o2,o3,answer\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "\"once, a cat sat.\",\"what, then?\",it left,\"it said \"\"hi\"\"\",it slept,%c\n", "ABC"[i%3])
	}
	yaml := fmt.Sprintf(`init_from: %s
task:
  type: multiple_choice
  train: %s
  header: true
  columns: {context: story, question: q, option0: o1, option1: o2, option2: o3, label: answer}
  labels: [A, B, C]
  max_len: 24
batch_size: 4
max_steps: 4
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "mc.csv"), b.String()))
	sum, out := runFinetune(t, yaml)
	if sum.Step != 4 || sum.BestMetric != "accuracy" || sum.Truncated != 40 { // the context alone exceeds max_len
		t.Fatalf("summary %+v", sum)
	}
	info, err := readTaskInfo(filepath.Join(out, "best", taskFile))
	if err != nil || info.Objective != graph.Choose || info.NumOptions != 3 || info.Special.Extract != len(synthChars)+2 {
		t.Fatalf("task.json %+v, %v", info, err)
	}
}

// ARC-style multiple choice with 2 to 4 options per row (min_options): the
// head learns to pick "yes" wherever it sits, and a row's missing options
// get probability 0, in eval and predict too.
func TestFinetuneMultipleChoiceFewerOptions(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	for range 300 {
		n := 2 + r.IntN(3)
		right := r.IntN(n)
		var choices []string
		for j := range n {
			word := randWord(r)
			if j == right {
				word = "yes"
			}
			choices = append(choices, fmt.Sprintf(`{"text": %q, "label": "%c"}`, word, 'A'+j))
		}
		fmt.Fprintf(&b, `{"question": {"stem": "which one", "choices": [%s]}, "answerKey": "%c"}`+"\n", strings.Join(choices, ", "), 'A'+right)
	}
	file := writeFile(t, filepath.Join(dir, "arc.jsonl"), b.String())
	yaml := fmt.Sprintf(`init_from: %s
task:
  type: multiple_choice
  train: %s
  val_fraction: 0.2
  columns: {question: question.stem, option0: question.choices.0.text, option1: question.choices.1.text,
            option2: question.choices.2.text, option3: question.choices.3.text, label: answerKey}
  labels: [A, B, C, D]
  min_options: 2
lr: 3.0e-3
batch_size: 16
epochs: 4
eval_interval: 10
`, tinyModelDir(t), file)
	sum, out := runFinetune(t, yaml)
	if sum.TrainExamples != 240 || sum.Val["accuracy"] < 0.9 || sum.Baseline["accuracy"] > 0.5 {
		t.Fatalf("summary %+v: want the rule learned across 2 to 4 options", sum)
	}
	res, err := EvalTask(out, file, InferOptions{Batch: 7})
	if err != nil || res["examples"] != 300 || res["accuracy"].(float64) < 0.9 {
		t.Fatalf("eval %v, %v", res, err)
	}
	var preds bytes.Buffer
	if _, err := PredictTask(out, file, &preds, InferOptions{Batch: 7}); err != nil {
		t.Fatal(err)
	}
	info, err := readTaskInfo(filepath.Join(out, "best", taskFile))
	if err != nil {
		t.Fatal(err)
	}
	d, err := data.ReadTaskFile(file, info.Format, false)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&preds)
	for _, ex := range d.Examples {
		var p Prediction
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		var total float64
		for j, l := range []string{"A", "B", "C", "D"} {
			if j >= len(ex.Options) && p.Probabilities.Of(l) != 0 {
				t.Fatalf("line %d has %d options, yet P(%s) = %v", ex.Line, len(ex.Options), l, p.Probabilities.Of(l))
			}
			total += p.Probabilities.Of(l)
		}
		if math.Abs(total-1) > 1e-6 || p.Label[0]-'A' >= byte(len(ex.Options)) {
			t.Fatalf("line %d (%d options): %+v", ex.Line, len(ex.Options), p)
		}
	}
}

func TestFinetuneBadRows(t *testing.T) {
	dir := t.TempDir()
	train := writeFile(t, filepath.Join(dir, "bad.tsv"), "sentence\tlabel\nfine\t0\nalso fine\t1\nhmm\tmaybe\nok\t0\nyes\t1\n")
	yaml := fmt.Sprintf("init_from: %s\ntask: {type: classification, train: %s, val_fraction: 0.5, header: true, columns: {text: sentence, label: label}, labels: [\"0\", \"1\"]}\nmax_steps: 1\n",
		tinyModelDir(t), train)
	cfg, err := LoadFinetune(writeFile(t, filepath.Join(dir, "f.yaml"), yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard})
	var re *data.RowError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "bad.tsv:4") || !strings.Contains(err.Error(), `"maybe"`) {
		t.Fatalf("error %v, want a RowError at bad.tsv:4 naming the label", err)
	}
	cfg.Task.SkipBadRows = true
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run2"), Log: io.Discard})
	if err != nil || sum.Skipped != 1 || sum.TrainExamples+sum.ValExamples != 4 {
		t.Fatalf("with skip_bad_rows: %+v, %v", sum, err)
	}
	// A text the model reads nothing of (a char vocabulary without digits)
	// is as blank as an empty one.
	writeFile(t, train, "sentence\tlabel\nfine\t0\nalso fine\t1\n 1984 \t0\nok\t0\nyes\t1\n")
	cfg.Task.SkipBadRows = false
	_, err = Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run3"), Log: io.Discard})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), `bad.tsv:4: missing column "sentence" (text): none of its characters "1984" is in the model's vocabulary`) {
		t.Fatalf("a text of unknown characters: %v, want a RowError at bad.tsv:4", err)
	}
}

// A run interrupted and resumed ends with the same weights, moments and
// best model as a straight run (dropout on, so the model RNG must resume).
func TestFinetuneResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\neval_interval: 5\n")
	straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := func(step int) {
		if step == 7 {
			cancel(errors.New("test interruption"))
		}
	}
	if sum, err := Finetune(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: stop}); err != nil || sum.Status != "interrupted" {
		t.Fatalf("interrupted run: %+v, %v", sum, err)
	}
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: split, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	// A damaged latest checkpoint: the resume falls back to checkpoint.prev
	// and says why, on the line that says where it resumes.
	fallback := filepath.Join(dir, "fallback")
	if err := os.CopyFS(fallback, os.DirFS(split)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fallback, "checkpoint", "state.json"), "{torn")
	var log bytes.Buffer
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: fallback, Log: &log, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if line := lineWith(log.String(), "resuming"); !strings.Contains(line, "checkpoint.prev") || !strings.Contains(line, "state.json") {
		t.Errorf("resume line %q: want checkpoint.prev and why checkpoint/ was rejected", line)
	}
	for _, f := range []string{"checkpoint/model.safetensors", "checkpoint/head.safetensors", "checkpoint/optimizer.safetensors", "best/head.safetensors"} {
		if readFile(t, filepath.Join(straight, f)) != readFile(t, filepath.Join(split, f)) {
			t.Errorf("%s differs between the straight and the resumed run", f)
		}
	}
	// metrics.jsonl is the uninterrupted run's, but for the times: the
	// train_loss of step 10 averages steps 6-10 though 6 and 7 ran before
	// the interruption.
	if a, b := untimed(t, filepath.Join(straight, "metrics.jsonl")), untimed(t, filepath.Join(split, "metrics.jsonl")); a != b {
		t.Errorf("metrics.jsonl differs:\n%s\nvs, resumed at step 7:\n%s", a, b)
	}
}

// A finetune stopped before its first step (its data loads whole, a
// signal then stops it there) keeps metrics.jsonl and its TensorBoard
// events to the checkpoint it resumed from, as pretrain does
// (TestStoppedLoadingCutsMetrics): the lines a kill left past it are gone.
func TestFinetuneStoppedAtOnceCutsMetrics(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\nlog_interval: 2\ncheckpoint_interval: 4\n")
	straight := filepath.Join(dir, "straight")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	out := killedCopy(t, straight, filepath.Join(dir, "killed"), []string{"checkpoint", "summary.json"}) // past the step-8 checkpoint
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("stopped at once"))
	sum, err := Finetune(ctx, cfg, Options{OutDir: out, Resume: true, Log: io.Discard})
	if err != nil || sum.Status != "interrupted" || sum.Step != 8 {
		t.Fatalf("stopped at once at step 8: %+v, %v", sum, err)
	}
	const want = "2 4 6 8"
	if got := stepsOf(readFile(t, filepath.Join(out, "metrics.jsonl"))); got != want {
		t.Errorf("metrics.jsonl has steps %q, want %q", got, want)
	}
	if got := eventSteps(t, out, false); got != want {
		t.Errorf("the event files have steps %q, want %q", got, want)
	}
}

// The last evaluation, best value and train loss of a finetune go through
// its checkpoint: a session stopped before it evaluates or logs reports the
// run's, and a value never measured is absent, never 0 or null.
func TestFinetuneSummaryAcrossSessions(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\neval_interval: 5\nlog_interval: 2\n")
	out := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancelCause(context.Background())
	stopAt := func(at int) func(int) {
		return func(step int) {
			if step == at {
				cancel(nil)
			}
		}
	}
	if _, err := Finetune(ctx, cfg, Options{OutDir: out, Log: io.Discard, AfterStep: stopAt(3)}); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, filepath.Join(out, "summary.json")); strings.Contains(s, `"val"`) || strings.Contains(s, "best_value") ||
		strings.Contains(s, `"best"`) || strings.Contains(s, `"best_step"`) {
		t.Errorf("before any evaluation, summary.json (no best/ yet):\n%s", s)
	}
	ctx, cancel = context.WithCancelCause(context.Background())
	first, err := Finetune(ctx, cfg, Options{OutDir: out, Resume: true, Log: io.Discard, AfterStep: stopAt(7)})
	if err != nil || first.Step != 7 || first.Val == nil || first.BestValue == nil || first.TrainLoss == nil {
		t.Fatalf("session stopped at step 7: %+v, %v", first, err)
	}
	cancel(nil)
	second, err := Finetune(ctx, cfg, Options{OutDir: out, Resume: true, Log: io.Discard})
	if err != nil || second.Status != "interrupted" || second.Step != 7 {
		t.Fatalf("second session: %+v, %v", second, err)
	}
	if fmt.Sprint(second.Val) != fmt.Sprint(first.Val) || second.BestValue == nil || *second.BestValue != *first.BestValue || lossOf(second.TrainLoss) != lossOf(first.TrainLoss) {
		t.Errorf("after a session with no step: val %v, best %v, train loss %v; the run had %v, %v, %v",
			second.Val, second.BestValue, lossOf(second.TrainLoss), first.Val, *first.BestValue, lossOf(first.TrainLoss))
	}
}

// --resume of a finished finetune says so and leaves every file as it was.
func TestFinetuneResumeFinishedRun(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "batch_size: 8\nmax_steps: 4\neval_interval: 2\n")
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	var log bytes.Buffer
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: &log})
	if err != nil || !strings.Contains(log.String(), "is complete at step 4 (4 steps): nothing to do") {
		t.Fatalf("resume of a finished finetune: %v, log %q", err, log.String())
	}
	if diff := sameFiles(before, snapshot(t, out)); diff != "" {
		t.Errorf("resume of a finished finetune: %s", diff)
	}
	if sum == nil || sum.Status != "completed" || sum.Val == nil || sum.BestValue == nil {
		t.Errorf("summary %+v, want the run's", sum)
	}
	want := before["/summary.json"]
	os.Remove(filepath.Join(out, "summary.json")) // a kill after the last checkpoint
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	var a, b FinetuneSummary
	json.Unmarshal([]byte(want), &a)
	json.Unmarshal([]byte(readFile(t, filepath.Join(out, "summary.json"))), &b)
	if a.BestValue == nil || b.BestValue == nil || *a.BestValue != *b.BestValue {
		t.Errorf("best_value written from the checkpoint %v, the run's %v", b.BestValue, a.BestValue)
	}
	a.BestValue, b.BestValue, a.TokensPerS = nil, nil, 0 // tokens/s was the finished session's throughput
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Errorf("summary written from the checkpoint:\n%s\nthe run's:\n%s", jb, ja)
	}
}

// untimed returns the lines of a metrics.jsonl without elapsed_s and
// tokens_per_s, which differ between runs.
func untimed(t *testing.T, path string) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "elapsed_s")
		delete(m, "tokens_per_s")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

// random_init keeps the architecture and tokenizer but not the weights.
func TestFinetuneRandomInit(t *testing.T) {
	init := tinyModelDir(t)
	pre, _, err := LoadModel(init)
	if err != nil {
		t.Fatal(err)
	}
	for _, random := range []bool{false, true} {
		cfg := DefaultFinetune()
		cfg.InitFrom, cfg.RandomInit, cfg.Task.Type = init, random, TaskClassification
		cfg.Task.Labels = []string{"a", "b"}
		r := &ftRun{cfg: cfg, opt: Options{Log: io.Discard}}
		if err := r.initModel(); err != nil {
			t.Fatal(err)
		}
		w, p := r.model.params.Get("h.0.mlp.c_fc.weight").Data, pre.Get("h.0.mlp.c_fc.weight").Data
		if same := w[0] == p[0] && w[len(w)-1] == p[len(p)-1]; same == random {
			t.Errorf("random_init %v: weights taken from %s: %v", random, init, same)
		}
		if r.model.params.Config.NEmbd != 32 || r.model.tok.VocabSize() != len(synthChars) || r.model.info.Special.Start != len(synthChars) {
			t.Errorf("random_init %v: config %+v, special %+v", random, r.model.params.Config, r.model.info.Special)
		}
	}
}

// max_time stops a finetune cleanly before the limit, with a checkpoint.
func TestFinetuneMaxTime(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 100000\nmax_time: 400ms\n")
	out := filepath.Join(dir, "run")
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard})
	if err != nil || sum.Status != "interrupted" || !strings.Contains(sum.Interruption, "max_time 400ms") || sum.Step == 0 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint", "state.json")); err != nil {
		t.Error("no checkpoint after max_time")
	}
}

// Finetuning a finetuned model reuses its task tokens instead of adding
// three more, and keeps their trained embeddings.
func TestFinetuneAFinetunedModel(t *testing.T) {
	dir := t.TempDir()
	tsv := writeFile(t, filepath.Join(dir, "d.tsv"), synthTSV(40))
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}
batch_size: 8
max_steps: 3
`, tinyModelDir(t), tsv))
	cfg, err := LoadFinetune(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "first")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: first, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	m1, err := loadTaskModel(filepath.Join(first, "best"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.InitFrom = filepath.Join(first, "best")
	var log strings.Builder
	r := &ftRun{cfg: cfg, opt: Options{Log: &log}}
	if err := r.initModel(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "reusing its task tokens") {
		t.Errorf("log %q", log.String())
	}
	p1, p2 := m1.params, r.model.params
	if p2.Config.VocabSize != p1.Config.VocabSize || r.model.info.Special != m1.info.Special {
		t.Fatalf("second finetune: vocab %d, special %+v; the finetuned model has %d, %+v",
			p2.Config.VocabSize, r.model.info.Special, p1.Config.VocabSize, m1.info.Special)
	}
	wte, _ := graph.EmbeddingNames(p1.Config.Arch)
	a, b := p1.Get(wte).Data, p2.Get(wte).Data
	if a[len(a)-1] != b[len(b)-1] {
		t.Error("the trained <e> embedding was not kept")
	}
	// random_init keeps the ids of the task tokens, not their embeddings,
	// and says so.
	log.Reset()
	cfg.RandomInit = true
	r = &ftRun{cfg: cfg, opt: Options{Log: &log}}
	if err := r.initModel(); err != nil {
		t.Fatal(err)
	}
	if c := r.model.params.Get(wte).Data; r.model.info.Special != m1.info.Special || c[len(c)-1] == a[len(a)-1] ||
		!strings.Contains(log.String(), "keep their ids") || strings.Contains(log.String(), "reusing") {
		t.Errorf("random_init from a finetuned model: special %+v, log %q", r.model.info.Special, log.String())
	}
}

// A finetune resumes with its task: labels in another order, another type
// or max_len would change what the head means, and are refused by name;
// a training setting may change.
func TestFinetuneResumeKeepsTask(t *testing.T) {
	dir := t.TempDir()
	train := writeFile(t, filepath.Join(dir, "reviews.tsv"), synthTSV(40))
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos], max_len: 24}
batch_size: 8
max_steps: 2
`, tinyModelDir(t), train))
	out := filepath.Join(dir, "run")
	run := func(resume bool, sets ...string) error {
		cfg, err := LoadFinetune(yaml, sets)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Finetune(context.Background(), cfg, Options{OutDir: out, Resume: resume, Log: io.Discard})
		return err
	}
	if err := run(false); err != nil {
		t.Fatal(err)
	}
	for sets, want := range map[string]string{
		"task.labels=[pos, neg]": `task.labels ["pos", "neg"], but the run's model was finetuned with ["neg", "pos"]`,
		"task.max_len=16":        "task.max_len 16, but the run's model was finetuned with 24",
		"init_from=" + dir:       "init_from \"" + dir + "\", random_init false, but the run began from",
		"random_init=true":       "random_init true, but the run began from",
		"task.metric=loss":       "task.metric loss, but the run's model was finetuned with accuracy",
		"task.val_fraction=0.5":  "task.val_fraction 0.5, split_seed 1, but the run split its validation rows with 0.2, 1",
		"task.split_seed=7":      "split_seed 7, but the run split its validation rows with 0.2, 1",
		"task.val=" + train:      "task.val gives the file " + train + ", but the run validated on val_fraction 0.2 of the training file",
	} {
		var ce *ConfigError
		if err := run(true, sets, "max_steps=3"); !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("resume with %s: %v, want a config error with %q", sets, err, want)
		}
	}
	var ce *ConfigError
	if err := run(true, "max_steps=1"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "max_steps 1, but the run is at step 2") {
		t.Errorf("resume with max_steps below the run's step: %v", err)
	}
	if job := readFile(t, filepath.Join(out, "finetune.yaml")); strings.Contains(job, "init_from: "+dir+"\n") || strings.Contains(job, "random_init: true") {
		t.Errorf("finetune.yaml after refused resumes:\n%s", job)
	}
	if err := run(true, "max_steps=3", "lr=1e-4", "task.columns.text=sentence"); err != nil {
		t.Errorf("resume with another lr: %v", err)
	}
	if err := run(false); err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("a new finetune over the run: %v", err)
	}
}

// Warmup is the fraction of the steps rounded up, without floating-point
// noise adding a step: 7% of 100 steps is 7.
func TestWarmupSteps(t *testing.T) {
	for _, c := range []struct {
		f     float64
		total int
		want  int
	}{{0.07, 100, 7}, {0.002, 1000, 2}, {0.002, 100, 1}, {0.2, 3, 1}, {0, 50, 0}, {0.1, 10, 1}, {0.3, 10, 3}, {0.15, 10, 2}} {
		if got := warmupSteps(c.f, c.total); got != c.want {
			t.Errorf("warmupSteps(%v, %d) = %d, want %d", c.f, c.total, got, c.want)
		}
	}
}

// predict and eval stop at a row they cannot read, naming file and line,
// even for a model finetuned with skip_bad_rows; --skip-bad-rows skips it.
func TestTaskInferenceBadRows(t *testing.T) {
	dir := t.TempDir()
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos], skip_bad_rows: true}
max_steps: 2
eval_interval: 2
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "d.tsv"), synthTSV(40))))
	cfg, err := LoadFinetune(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, filepath.Join(dir, "new.tsv"), "id\tlabel\tsentence\n1\tpos\tyes a b\n2\tneg\n3\tneg\tno c d\n")
	var re *data.RowError
	// A text the model reads nothing of is a bad row where labels are read
	// (eval), and gets a prediction as a blank one does.
	digits := writeFile(t, filepath.Join(dir, "digits.tsv"), "id\tlabel\tsentence\n1\tpos\tyes a b\n2\tneg\t2024\n")
	if _, err := EvalTask(out, digits, InferOptions{Batch: 4}); !errors.As(err, &re) || re.Line != 3 || !strings.Contains(err.Error(), "none of its characters") {
		t.Errorf("eval of a text of unknown characters: %v, want a row error at line 3", err)
	}
	if n, err := PredictTask(out, digits, io.Discard, InferOptions{Batch: 4}); err != nil || n != 2 {
		t.Errorf("predict of a text of unknown characters: %d predictions, %v; want 2", n, err)
	}
	if _, err := PredictTask(out, file, io.Discard, InferOptions{Batch: 4}); !errors.As(err, &re) || re.Line != 3 {
		t.Errorf("predict: %v, want a row error at line 3", err)
	}
	if _, err := EvalTask(out, file, InferOptions{Batch: 4}); !errors.As(err, &re) || re.Line != 3 {
		t.Errorf("eval: %v, want a row error at line 3", err)
	}
	var preds, log strings.Builder
	n, err := PredictTask(out, file, &preds, InferOptions{Batch: 4, SkipBadRows: true, Log: &log})
	if err != nil || n != 2 || !strings.Contains(preds.String(), `"line":2`) || !strings.Contains(preds.String(), `"line":4`) ||
		!strings.Contains(log.String(), "skipped 1 bad row (--skip-bad-rows)") {
		t.Errorf("predict --skip-bad-rows: %d predictions, %v\n%s\nlog: %s", n, err, preds.String(), log.String())
	}
}

// A finetune resumed on task data that changed since its checkpoint (a
// label edited, a row added) is refused: its epochs and validation rows
// would not be the run's. The same data resumes.
func TestFinetuneResumeOnChangedData(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\neval_interval: 5\n")
	out := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancelCause(context.Background())
	if _, err := Finetune(ctx, cfg, Options{OutDir: out, Log: io.Discard, AfterStep: func(int) { cancel(nil) }}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "d.tsv")
	orig := readFile(t, file)
	for name, text := range map[string]string{
		"a label edited": strings.Replace(orig, "\tneg\t", "\tpos\t", 1),
		"a row added":    orig + "999\tpos\tyes a b\r\n",
	} {
		writeFile(t, file, text)
		_, err := Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: io.Discard})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "task data changed since the checkpoint") {
			t.Errorf("%s: %v, want an input error", name, err)
		}
	}
	writeFile(t, file, orig)
	if sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: io.Discard}); err != nil || sum.Status != "completed" {
		t.Errorf("resume on the same data: %+v, %v", sum, err)
	}
}

// A task.json that does not fit its model (edited by hand, or from another
// model) is bad input naming the file and the key, never a panic.
func TestTaskModelRefusesBadTaskJSON(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "epochs: 1\nbatch_size: 8\n")
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	best := filepath.Join(out, "best")
	good := readFile(t, filepath.Join(best, taskFile))
	data := writeFile(t, filepath.Join(dir, "p.tsv"), "id\tlabel\tsentence\n1\tpos\tyes it is\n")
	for _, c := range []struct{ edit, want string }{
		{`"max_len": 0`, "max_len 0 is not in [3, 32]"},
		{`"max_len": -3`, "max_len -3 is not in [3, 32]"},
		{`"max_len": 100000`, "max_len 100000 is not in [3, 32]"},
		{`"special_tokens": {"<s>": -1, "$": 1, "<e>": 2}`, "task token <s> = -1 is outside the vocabulary"},
		{`"special_tokens": {"<s>": 1, "$": 1, "<e>": 2}`, "are not three tokens"},
		{`"type": "ranking"`, `type "ranking" is not classification`},
		{`"type": "multiple_choice"`, `objective "classify" does not go with type multiple_choice`},
	} {
		var info map[string]any
		if err := json.Unmarshal([]byte(good), &info); err != nil {
			t.Fatal(err)
		}
		var patch map[string]any
		if err := json.Unmarshal([]byte("{"+c.edit+"}"), &patch); err != nil {
			t.Fatal(err)
		}
		maps.Copy(info, patch)
		b, _ := json.Marshal(info)
		os.WriteFile(filepath.Join(best, taskFile), b, 0o644)
		_, err := EvalTask(best, data, InferOptions{Batch: 2})
		_, perr := PredictTask(best, data, io.Discard, InferOptions{Batch: 2})
		for _, e := range []error{err, perr} {
			var ie *InputError
			if !errors.As(e, &ie) || !strings.Contains(e.Error(), "task.json: ") || !strings.Contains(e.Error(), c.want) {
				t.Errorf("task.json with %s: %v, want an InputError containing %q", c.edit, e, c.want)
			}
		}
	}
	// Without task.json, the head beside the weights still makes it a
	// task model: eval reads it as one and says what is missing, instead
	// of scoring the task file as text for a language model.
	os.Remove(filepath.Join(best, taskFile))
	if !IsTaskModel(best) {
		t.Error("a model with head.safetensors and no task.json is not taken for a task model")
	}
	_, err := EvalTask(best, data, InferOptions{Batch: 2})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no task.json beside its head.safetensors") {
		t.Errorf("eval of a task model without task.json: %v, want an InputError naming task.json", err)
	}
}

// predict writes the probabilities in class order, which a map would sort
// as text ("10" before "2"), and reads them back the same.
func TestLabelProbsKeepClassOrder(t *testing.T) {
	p := Prediction{Line: 3, Label: "10", Probabilities: LabelProbs{{"2", 0.25}, {"10", 0.5}, {"a\"b", 0.25}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"line":3,"label":"10","probabilities":{"2":0.25,"10":0.5,"a\"b":0.25}}`; string(b) != want {
		t.Errorf("marshalled %s, want %s", b, want)
	}
	var back Prediction
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Probabilities, p.Probabilities) || back.Probabilities.Of("10") != 0.5 {
		t.Errorf("read back %+v (%v), want %+v", back, err, p)
	}
	if b, _ := json.Marshal(Prediction{Line: 1, Score: new(float64)}); string(b) != `{"line":1,"score":0}` {
		t.Errorf("a regression prediction marshalled %s", b)
	}
}

// A batch_size beyond the examples builds a graph for the examples there
// are (it used to allocate batch_size rows and die out of memory), and one
// that could never fit in memory is refused before the run starts, naming
// the settings: four options of GPT-2's 1,024 tokens, 32 examples a batch.
func TestFinetuneBatchBeyondData(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 30, "batch_size: 100000000\nepochs: 1\n")
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard})
	if err != nil || sum.Status != "completed" || sum.Step != 1 {
		t.Fatalf("batch_size 1e8 on 24 training rows: %+v, %v", sum, err)
	}
	// So do eval, predict and zero-shot scoring with a --batch-size beyond
	// their examples, windows or option rows.
	huge := InferOptions{Batch: 100000000}
	if res, err := EvalTask(filepath.Join(dir, "run"), filepath.Join(dir, "d.tsv"), huge); err != nil || res["examples"] != 30 {
		t.Errorf("eval --batch-size 1e8: %v, %v", res, err)
	}
	var preds strings.Builder
	if n, err := PredictTask(filepath.Join(dir, "run"), filepath.Join(dir, "d.tsv"), &preds, huge); err != nil || n != 30 {
		t.Errorf("predict --batch-size 1e8: %d, %v", n, err)
	}
	lm := tinyModelDir(t)
	if res, err := EvalLM(lm, writeFile(t, filepath.Join(dir, "t.txt"), strings.Repeat("the cat sat. ", 20)), huge); err != nil || res.Tokens != 259 {
		t.Errorf("eval of an LM with --batch-size 1e8: %+v, %v", res, err)
	}
	mc := TaskConfig{Type: TaskMultipleChoice, TaskFormat: data.TaskFormat{Columns: map[string]string{
		"context": "ctx", "option0": "a", "option1": "b", "label": "label"}}}
	mcFile := writeFile(t, filepath.Join(dir, "mc.jsonl"), `{"ctx": "the cat", "a": "sat", "b": "ran", "label": 0}`+"\n")
	if res, err := ZeroShotChoice(lm, mcFile, mc, huge); err != nil || res["examples"] != 1 {
		t.Errorf("zero-shot with --batch-size 1e8: %v, %v", res, err)
	}
	graph.MemoryLimit = 24 << 30
	defer func() { graph.MemoryLimit = 0 }()
	gpt2 := graph.Config{Arch: "gpt2", NLayer: 12, NHead: 12, NEmbd: 768, NCtx: 1024, VocabSize: 50257}
	if err := fitsTraining(gpt2, 32*4, []int{1024}, "finetuning with batch_size 32 (128 sequences) and max_len 1024", io.Discard); err == nil || !strings.Contains(err.Error(), "batch_size 32 (128 sequences)") {
		t.Errorf("GPT-2 124M on 128 sequences of 1,024 tokens: %v, want it refused", err)
	}
	// The graphs of a finetune's padded lengths share their activations and
	// gradients: GPT-1's 116M at batch 8 in eight graphs needs what the
	// longest alone does.
	gpt1 := graph.Config{Arch: "gpt1", NLayer: 12, NHead: 12, NEmbd: 768, NCtx: 512, VocabSize: 40481}
	graph.MemoryLimit = int64((gpt1.ParamBytes(16)+stepBytes(gpt1, 8, 128))/2) + 1<<20
	if err := fitsTraining(gpt1, 8, []int{8, 16, 24, 32, 48, 64, 96, 128}, "eight graphs", io.Discard); err != nil {
		t.Errorf("GPT-1 at batch 8 in eight graphs, with half the longest's need: %v", err)
	}
	if err := fitsInference(gpt1, 8, []int{8, 16, 24, 32, 48, 64, 96, 128}, false, "eight graphs"); err != nil {
		t.Errorf("GPT-1 predicting at batch 8 in eight graphs, with half a training step's need: %v", err)
	}
	graph.MemoryLimit -= 2 << 20
	if err := fitsTraining(gpt1, 8, []int{128}, "one graph", io.Discard); err == nil {
		t.Errorf("GPT-1 at batch 8 in one graph of 128 tokens, with 1 MiB under half its need: fits")
	}
}

// A finetune's wall-time margin holds its next evaluation before it was
// ever timed (the validation examples' forward batches, each half a
// training step), and its checkpoints, as pretraining's does.
func TestFinetuneMaxTimeBudget(t *testing.T) {
	r := &ftRun{cfg: FinetuneConfig{EvalInterval: 0, CheckpointInterval: 5, LogInterval: 1}, perEpoch: 10, total: 30,
		val: make([]taskExample, 800), graphs: &graphSet{E: 8}}
	for range 4 {
		r.pace.step(10 * time.Millisecond)
	}
	ms := time.Millisecond
	if got := r.budget(3); got != 20*ms {
		t.Errorf("budget of a step that neither evaluates nor saves: %v, want 2 x 10ms", got)
	}
	if got := r.budget(10); got != 20*ms+100*10*ms/2 {
		t.Errorf("budget of the step ending epoch 1, before any evaluation: %v, want 2 x 10ms + 100 batches x 10ms/2", got)
	}
	r.pace.evaluated(2 * time.Second)
	r.pace.save = 300 * ms
	if got := r.budget(10); got != 20*ms+2*time.Second+2*300*ms {
		t.Errorf("budget of an evaluating, saving step after both were timed: %v", got)
	}
}

// A finetune's resume keeps batch_size and seed, from which each epoch's
// batches follow: a change would train some rows twice and skip others.
func TestFinetuneResumeKeepsBatches(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nmax_steps: 3\n")
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for key, set := range map[string]func(*FinetuneConfig){"batch_size": func(c *FinetuneConfig) { c.BatchSize = 4 }, "seed": func(c *FinetuneConfig) { c.Seed++ }} {
		c := cfg
		c.MaxSteps = 6
		set(&c)
		_, err := Finetune(context.Background(), c, Options{OutDir: out, Resume: true, Log: io.Discard})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--resume: "+key) {
			t.Errorf("--resume with another %s: %v, want a config error naming it", key, err)
		}
	}
}

// A val file that is the training file is read once (its skipped rows
// reported once) and warned about: the validation scores trained rows.
func TestFinetuneValIsTrainFile(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 30, "batch_size: 8\nmax_steps: 1\n")
	cfg.Task.Val = cfg.Task.Train
	var log bytes.Buffer
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run"), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TrainExamples != 30 || sum.ValExamples != 30 || !strings.Contains(log.String(), "is the training file") {
		t.Errorf("summary %+v\nlog:\n%s", sum, log.String())
	}
}

// On the CPU the memory check sizes the graphs the examples make (one for
// each padded length), not max_len: a model of a long context, whose
// max_len defaults to it, finetunes and predicts on short rows in 8 GiB
// (it was refused as needing some 70 GB for graphs of 8,192 tokens it
// never builds).
func TestFinetuneMemoryCheckOnExamples(t *testing.T) {
	graph.MemoryLimit = 8 << 30 // graphs of 8,192 tokens would need more than twice that
	defer func() { graph.MemoryLimit = 0 }()
	dir := t.TempDir()
	model := filepath.Join(dir, "long")
	cfgModel := graph.Config{Arch: "gpt2", VocabSize: len(synthChars), NCtx: 8192, NEmbd: 32, NHead: 4, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfgModel, graph.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(model, 0o755)
	if err := writeModelDir(model, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	cfg := synthClassifier(t, dir, 40, "max_steps: 1\n")
	cfg.InitFrom = model
	if sum, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard}); err != nil || sum.Step != 1 {
		t.Fatalf("finetune of an 8,192-token model on short rows: %+v, %v", sum, err)
	}
	var preds strings.Builder
	if n, err := PredictTask(filepath.Join(dir, "run"), filepath.Join(dir, "d.tsv"), &preds, InferOptions{Batch: 32}); err != nil || n != 40 {
		t.Errorf("predict: %d, %v", n, err)
	}
}

// Rows skipped are listed in the log, each with its file and line, the
// first ten of them, and the count of the others.
func TestSkippedRowsListed(t *testing.T) {
	var b strings.Builder
	b.WriteString("sentence\tlabel\n")
	for i := range 14 {
		label := "pos"
		if i%7 != 0 {
			label = "maybe" // 12 bad rows
		}
		fmt.Fprintf(&b, "row %d\t%s\n", i, label)
	}
	file := writeFile(t, filepath.Join(t.TempDir(), "t.tsv"), b.String())
	f := data.TaskFormat{Header: true, Columns: map[string]string{"text": "sentence", "label": "label"}, Labels: []string{"neg", "pos"}, SkipBadRows: true}
	var log strings.Builder
	td, err := readTaskData(file, f, true, &log, "skip_bad_rows", "")
	if err != nil || td.Skipped != 12 {
		t.Fatalf("%v, %+v", err, td)
	}
	if s := log.String(); strings.Count(s, `label "maybe"`) != 10 || !strings.Contains(s, "t.tsv:3:") || !strings.Contains(s, "and 2 more") {
		t.Errorf("log:\n%s", s)
	}
}

// A finetune with skip_bad_rows lists every row it skipped, of its
// training and validation files, in DIR/skipped_rows.txt, which its log
// names past the first ten.
func TestFinetuneListsSkippedRows(t *testing.T) {
	dir := t.TempDir()
	var bad strings.Builder
	for i := range 13 {
		fmt.Fprintf(&bad, "%d\tmaybe\tyes a b\r\n", 100+i)
	}
	train := writeFile(t, filepath.Join(dir, "d.tsv"), synthTSV(30)+bad.String())
	val := writeFile(t, filepath.Join(dir, "v.tsv"), "id\tlabel\tsentence\n1\tpos\tyes a b\n2\tno\tno a\n3\tneg\tno b c\n")
	cfg, err := LoadFinetune(writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val: %s, header: true, columns: {text: sentence, label: label}, labels: [neg, pos], skip_bad_rows: true}
max_steps: 1
`, tinyModelDir(t), train, val)), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	var log strings.Builder
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: &log})
	if err != nil || sum.Skipped != 14 {
		t.Fatalf("%v; %d rows skipped, want 14", err, sum.Skipped)
	}
	list := filepath.Join(out, skippedRowsFile)
	if !strings.Contains(log.String(), "and 3 more (every one in "+list+")") {
		t.Errorf("log:\n%s", log.String())
	}
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 14 || !strings.HasPrefix(lines[0], train+":33: ") || !strings.HasPrefix(lines[12], train+":45: ") ||
		!strings.HasPrefix(lines[13], val+":3: ") || !strings.Contains(lines[13], `label "no"`) {
		t.Errorf("%s:\n%s", list, b)
	}
	// A run that skips none leaves no list, an earlier run's neither (a
	// failed run's directory can be reused).
	again := filepath.Join(dir, "again")
	os.Mkdir(again, 0o755)
	writeFile(t, filepath.Join(again, skippedRowsFile), "an earlier run's list\n")
	cfg.Task.Train, cfg.Task.Val = writeFile(t, filepath.Join(dir, "clean.tsv"), synthTSV(30)), ""
	cfg.Task.ValFraction = 0.2
	if sum, err := Finetune(context.Background(), cfg, Options{OutDir: again, Log: io.Discard}); err != nil || sum.Skipped != 0 {
		t.Fatalf("%v; %+v", err, sum)
	}
	if _, err := os.Stat(filepath.Join(again, skippedRowsFile)); !os.IsNotExist(err) {
		t.Errorf("a run that skipped no row has %s (%v)", skippedRowsFile, err)
	}
}

// A CPU finetune builds the training graph of its longest examples before
// any other, in its setup, and a shorter graph built later holds next to
// nothing of its own: its activations and gradients fit in the buffers that
// one makes.
func TestFinetuneBuildsLongestGraphFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "batch_size: 4\nepochs: 1\n")
	out := filepath.Join(dir, "run")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := newFinetuneRun(cfg, Options{OutDir: out, Log: io.Discard}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	longest, shortest := 0, math.MaxInt
	for _, e := range r.train {
		longest, shortest = max(longest, e.width), min(shortest, e.width)
	}
	T := paddedLen(longest, r.model.info.MaxLen)
	if paddedLen(shortest, r.model.info.MaxLen) == T {
		t.Fatalf("the examples' widths %d-%d pad to one length %d: the test needs two", shortest, longest, T)
	}
	g := r.graphs.byT[T]
	if len(r.graphs.byT) != 1 || g == nil || g.tr == nil {
		t.Fatalf("after setup: graphs for %v, want the trained graph of length %d alone", slices.Sorted(maps.Keys(r.graphs.byT)), T)
	}
	short, err := r.graphs.get(shortest)
	if err == nil {
		_, err = short.trainer()
	}
	if err != nil {
		t.Fatal(err)
	}
	own, arena := short.task.Machine().Floats()
	if m := short.task.Model; own+arena >= m.B*m.T*m.Params.Config.NEmbd {
		t.Errorf("the graph of %d tokens holds %d floats of its own and %d in its arena, more than one activation (%d x %d x %d)",
			m.T, own, arena, m.B, m.T, m.Params.Config.NEmbd)
	}
}

// sameWidthTSV is a classification TSV whose rows all encode to one width:
// "yes" or "not" and two 4-letter words, label pos for yes.
func sameWidthTSV(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 9))
	word := func() string {
		b := make([]byte, 4)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return string(b)
	}
	var b strings.Builder
	b.WriteString("sentence\tlabel\n")
	for range n {
		lead, label := "not", "neg"
		if r.IntN(2) == 1 {
			lead, label = "yes", "pos"
		}
		fmt.Fprintf(&b, "%s %s %s\t%s\n", lead, word(), word(), label)
	}
	return b.String()
}

// grad_accum n of batch_size b makes the step one batch of n*b makes: on
// eight rows of one width (so that a batch's rows weigh alike in its L1
// too), one step of 2 x 4, or of 3 + 3 + 2, gives the weights (to float32
// rounding, which Adam's first step makes lr-sized where a gradient is near
// zero: 1e-5 of lr 1e-3), losses and gradient norm of one step of 8, L1
// included. Over epochs, a step takes
// grad_accum batches and an epoch every row once; a resume keeps it.
func TestFinetuneGradAccum(t *testing.T) {
	dir := t.TempDir()
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val: %s, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}
dropout: 0
head_dropout: 0
lr: 1.0e-3
log_interval: 1
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "train.tsv"), sameWidthTSV(8, 1)), writeFile(t, filepath.Join(dir, "val.tsv"), sameWidthTSV(6, 2))))
	run := func(name string, sets ...string) (*FinetuneSummary, string) {
		t.Helper()
		cfg, err := LoadFinetune(yaml, sets)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return sum, out
	}
	whole, wholeDir := run("whole", "batch_size=8", "max_steps=1")
	// 2 x 4 rows, and 3 + 3 + 2 (each batch weighing by its rows).
	for _, c := range [][2]string{{"batch_size=4", "grad_accum=2"}, {"batch_size=3", "grad_accum=3"}} {
		accum, accumDir := run(c[0]+c[1], c[0], c[1], "max_steps=1")
		if math.Abs(lossOf(whole.TrainLoss)-lossOf(accum.TrainLoss)) > 1e-6 || accum.Step != 1 {
			t.Errorf("one step of %s, %s: %+v\none of 8: %+v", c[0], c[1], accum, whole)
		}
		metricsClose(t, filepath.Join(accumDir, metricsName), filepath.Join(wholeDir, metricsName), 1e-5)
		for _, f := range []string{"model.safetensors", "head.safetensors"} {
			tensorsClose(t, c[0]+", "+c[1]+" against batch 8: "+f, filepath.Join(accumDir, "checkpoint", f), filepath.Join(wholeDir, "checkpoint", f), 1e-5, nil)
		}
	}

	// 8 rows in batches of 3 (3, 3, 2), two a step: 2 steps an epoch, the
	// second of one batch; every row once an epoch.
	tokens := func(out string) int64 {
		var st finetuneState
		if err := readState(filepath.Join(out, checkpointDir), &st); err != nil {
			t.Fatal(err)
		}
		return st.TokensSeen
	}
	epochs, epochsDir := run("epochs", "batch_size=3", "grad_accum=2", "epochs=3")
	if epochs.Step != 6 || epochs.Epoch != 3 || tokens(epochsDir) != 3*tokens(wholeDir) {
		t.Errorf("3 epochs of 8 rows in micro-batches of 3, two a step: %d steps, epoch %v, %d tokens; want 6, 3 and 3 x %d",
			epochs.Step, epochs.Epoch, tokens(epochsDir), tokens(wholeDir))
	}
	cfg, err := LoadFinetune(yaml, []string{"batch_size=3", "grad_accum=4", "epochs=3"})
	if err != nil {
		t.Fatal(err)
	}
	var ce *ConfigError
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "epochs"), Resume: true, Log: io.Discard}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "grad_accum 4, but the run's is 2") {
		t.Errorf("a resume with another grad_accum: %v", err)
	}
	// lambda weighs L1 in train_loss: a change would mix two objectives in
	// the averages of the log row about the resume.
	if cfg, err = LoadFinetune(yaml, []string{"batch_size=3", "grad_accum=2", "epochs=3", "lambda=0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "epochs"), Resume: true, Log: io.Discard}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "--resume: lambda 0, but the run's is 0.5") {
		t.Errorf("a resume with another lambda: %v", err)
	}
}

// patience stops a finetune after that many evaluations without a better
// task metric, as completed; a resume with the same patience does nothing,
// one without patience goes on to the end.
func TestFinetunePatience(t *testing.T) {
	dir := t.TempDir()
	// 48 training rows in batches of 8: 6 steps an epoch, 60 in all. A
	// learning rate of 1e-30 leaves every evaluation as the first.
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 10\neval_interval: 2\nlr: 1.0e-30\npatience: 2\n")
	out := filepath.Join(dir, "run")
	var log strings.Builder
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	why := "no better val accuracy in 2 evaluations after step 2 (patience 2)"
	if sum.Status != "completed" || sum.Step != 6 || sum.MaxSteps != 60 || sum.BestStep != 2 || sum.StoppedEarly != why {
		t.Errorf("summary %+v, want completed at step 6 of 60, best step 2, stopped early: %s", sum, why)
	}
	if !strings.Contains(log.String(), "stopping early at step 6: "+why) {
		t.Errorf("log %q does not say it stops early", log.String())
	}
	var written FinetuneSummary
	if status, step := readSummary(out, &written); status != "completed" || step != 6 || written.StoppedEarly != why {
		t.Errorf("summary.json: %s at step %d, stopped early %q", status, step, written.StoppedEarly)
	}
	log.Reset()
	again, err := Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: &log})
	if err != nil || again.Step != 6 || !strings.Contains(log.String(), "stopped early at step 6") || !strings.Contains(log.String(), "nothing to do") {
		t.Errorf("resume with the same patience: %+v, %v, log %q", again, err, log.String())
	}
	cfg.Patience = 0
	rest, err := Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: io.Discard})
	if err != nil || rest.Step != 60 || rest.StoppedEarly != "" {
		t.Errorf("resume without patience: %+v, %v; want the run to step 60", rest, err)
	}
}

// A kill after an evaluation that improved (and wrote best/) and before
// the next checkpoint, or before the first checkpoint: the resumed finetune
// counts the evaluations it makes again for patience as they counted, and
// ends as the run without the kill; best/ keeps its model meanwhile.
func TestFinetuneResumeAfterBestKeepsPatience(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 200, "batch_size: 8\nepochs: 3\neval_interval: 5\ncheckpoint_interval: 20\nlr: 1.0e-2\npatience: 1\n")
	cfg.Task.Metric = "loss"
	straight := filepath.Join(dir, "straight")
	want, err := Finetune(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if want.BestStep <= 20 {
		t.Fatalf("best step %d: the test needs a best evaluation after the step-20 checkpoint", want.BestStep)
	}
	head := readFile(t, filepath.Join(straight, "best", "head.safetensors"))
	for _, c := range killsPastBest {
		run := killedCopy(t, straight, filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")), c.cut)
		var log strings.Builder
		got, err := Finetune(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: &log})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Step != want.Step || got.BestStep != want.BestStep || *got.BestValue != *want.BestValue || got.StoppedEarly != want.StoppedEarly {
			t.Errorf("%s: resumed run ends at step %d, best %v at step %d, stopped early %q; without the kill: step %d, best %v at step %d, %q\n%s",
				c.name, got.Step, *got.BestValue, got.BestStep, got.StoppedEarly, want.Step, *want.BestValue, want.BestStep, want.StoppedEarly, log.String())
		}
		if readFile(t, filepath.Join(run, "best", "head.safetensors")) != head {
			t.Errorf("%s: best/ holds another head than the run without the kill", c.name)
		}
	}
}

// A finetune's wall time counts its evaluations and checkpoints, as
// pretraining's does: the summary's, and the checkpoint's a resume goes on
// from, were the time of the last step, before its evaluation and save.
func TestFinetuneWallTimeCountsEvaluations(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nmax_steps: 4\neval_interval: 2\ncheckpoint_interval: 2\n")
	out := filepath.Join(dir, "run")
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(out, "metrics.jsonl"))), "\n")
	var last struct {
		Step    int     `json:"step"`
		Elapsed float64 `json:"elapsed_s"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Step != 4 {
		t.Fatalf("last metrics line %q: %v", lines[len(lines)-1], err)
	}
	if !(sum.WallSeconds > last.Elapsed) {
		t.Errorf("wall_seconds %v, the last step's elapsed_s %v: the last evaluation and checkpoint are not counted", sum.WallSeconds, last.Elapsed)
	}
}

// A finetune resumed with max_steps at the step it stopped at, short of
// its end and of an evaluation, is refused, as pretraining's is; at an
// epoch's end, which it evaluated at, the run is complete there. A
// max_steps below the step is refused with the fewest steps the resume
// takes, which it does take.
func TestFinetuneResumeMaxStepsAtStoppedStep(t *testing.T) {
	for _, c := range []struct {
		stop   int
		refuse bool
		least  int
	}{{7, true, 8}, {6, false, 6}} { // 6 steps an epoch, evaluated at each epoch's end
		dir := t.TempDir()
		cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 10\n")
		out := filepath.Join(dir, "run")
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := func(step int) {
			if step == c.stop {
				cancel(errors.New("test interruption"))
			}
		}
		if sum, err := Finetune(ctx, cfg, Options{OutDir: out, Log: io.Discard, AfterStep: stop}); err != nil || sum.Step != c.stop {
			t.Fatalf("interrupted run: %+v, %v", sum, err)
		}
		resume := func(maxSteps int) (*FinetuneSummary, error) {
			cfg.MaxSteps = maxSteps
			return Finetune(context.Background(), cfg, Options{OutDir: out, Resume: true, Log: io.Discard})
		}
		var ce *ConfigError
		_, err := resume(c.stop - 1)
		if want := fmt.Sprintf("set max_steps to %d or more", c.least); !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("resume at step %d with max_steps %d: %v, want it refused saying %q", c.stop, c.stop-1, err, want)
		}
		sum, err := resume(c.stop)
		switch {
		case c.refuse && (!errors.As(err, &ce) || !strings.Contains(err.Error(), "max_steps 7 makes step 7, where the run stopped on its way to 60")):
			t.Errorf("resume at step 7 with max_steps 7: %v, want it refused", err)
		case !c.refuse && (err != nil || sum.Status != "completed" || sum.Step != 6):
			t.Errorf("resume at step 6, evaluated, with max_steps 6: %+v, %v; want it complete", sum, err)
		}
		if c.refuse {
			if sum, err := resume(c.least); err != nil || sum.Status != "completed" || sum.Step != c.least {
				t.Errorf("resume at step %d with max_steps %d, the value the refusal named: %+v, %v; want it complete", c.stop, c.least, sum, err)
			}
		}
	}
}

// A task file that cannot be opened is named by its config key, task.train
// or task.val, and the config that set it.
func TestFinetuneMissingTaskFile(t *testing.T) {
	dir := t.TempDir()
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}
max_steps: 1
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "d.tsv"), synthTSV(20))))
	nope := filepath.Join(dir, "nope.tsv")
	for _, key := range []string{"train", "val"} {
		cfg, err := LoadFinetune(yaml, []string{"task." + key + "=" + nope})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run-"+key), Log: io.Discard})
		want := fmt.Sprintf("finetune config %s with --set task.%s=%s: task.%s: open %s: no such file or directory", yaml, key, nope, key, nope)
		var ie *InputError
		if !errors.As(err, &ie) || err.Error() != want {
			t.Errorf("a missing task.%s: %v\nwant an InputError %q", key, err, want)
		}
	}
}

// predict of a file of no rows writes nothing and exits cleanly, but says
// so; it takes rows that lack only the trailing label cell it does not
// read, and reads "-" as standard input in the model's format.
func TestPredictEdgeFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "max_steps: 1\nbatch_size: 8\n")
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"", "id\tlabel\tsentence\n"} {
		empty := writeFile(t, filepath.Join(dir, "empty.tsv"), body)
		var preds, log strings.Builder
		n, err := PredictTask(out, empty, &preds, InferOptions{Batch: 4, Log: &log})
		if want := "note: " + empty + " has no rows (a header at most): no predictions to write\n"; err != nil || n != 0 || preds.Len() != 0 || log.String() != want {
			t.Errorf("predict of %q: %d predictions, %v, log %q; want none, no error and %q", body, n, err, log.String(), want)
		}
	}
	// The label column comes last in this file: a row may lack it.
	short := writeFile(t, filepath.Join(dir, "short.tsv"), "id\tsentence\tlabel\n1\tyes a b\tpos\n2\tno c d\n")
	var preds strings.Builder
	if n, err := PredictTask(out, short, &preds, InferOptions{Batch: 4}); err != nil || n != 2 || !strings.Contains(preds.String(), `"line":3`) {
		t.Errorf("predict of a row without its last, label cell: %d predictions, %v", n, err)
	}
	if _, err := EvalTask(out, short, InferOptions{Batch: 4}); err == nil || !strings.Contains(err.Error(), "short.tsv:3: has 2 columns, the header has 3") {
		t.Errorf("eval of a row without its label cell: %v, want it refused", err)
	}
	// An unknown label names where the labels come from: the model, not
	// a task config the eval has none of.
	unknown := writeFile(t, filepath.Join(dir, "unknown.tsv"), "id\tsentence\tlabel\n1\tyes a b\tmaybe\n")
	if _, err := EvalTask(out, unknown, InferOptions{Batch: 4}); err == nil || !strings.Contains(err.Error(), `unknown.tsv:2: label "maybe" is not one of`) ||
		!strings.Contains(err.Error(), "(the labels the model was finetuned with)") {
		t.Errorf("eval of a row with an unknown label: %v", err)
	}
	stdin, err := os.Open(short)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	was := os.Stdin
	os.Stdin = stdin
	defer func() { os.Stdin = was }()
	var fromStdin strings.Builder
	if n, err := PredictTask(out, "-", &fromStdin, InferOptions{Batch: 4}); err != nil || n != 2 || fromStdin.String() != preds.String() {
		t.Errorf("predict --data -: %d predictions, %v\n%s\nwant those of the file:\n%s", n, err, fromStdin.String(), preds.String())
	}
}

// The finetune log counts in the singular where there is one, and writes
// a huge metric with an exponent, not as a number of 40 digits.
func TestFinetuneLogWording(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, `{"s1": "a b", "s2": "c d", "sim": %d}`+"\n", int64(i%2)*2e18)
	}
	b.WriteString(`{"s1": "a b!", "s2": "c d", "sim": 0}` + "\n") // one example with a character outside the vocabulary
	cfg, err := LoadFinetune(writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: similarity, train: %s, columns: {a: s1, b: s2, score: sim}, val_fraction: 0.2}
max_steps: 1
on_nonfinite: skip
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "pairs.jsonl"), b.String()))), nil)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run"), Log: &log}) // the log before training is what counts
	for _, want := range []string{"head regress with 1 output\n", "plan: 1 step (1 per epoch)", "task: 1 example has characters outside the model's vocabulary, which are dropped: \"!\"\n"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if !regexp.MustCompile(`; baseline mse [1-9]\.[0-9]+e\+3[56], pearson 0\.0000, spearman 0\.0000\n`).MatchString(log.String()) {
		t.Errorf("log lacks the baseline's mse with an exponent:\n%s", log.String())
	}
}

// A finetune's summary has the last logged training loss once a line is
// logged, 0 included (lambda 0 on a task the model has learned), and none
// before.
func TestFinetuneSummaryTrainLoss(t *testing.T) {
	for _, c := range []struct {
		logged bool
		want   string
	}{{true, `"train_loss":0,`}, {false, ""}} {
		r := &ftRun{sum: &FinetuneSummary{}, state: finetuneState{Step: 4, HasTrainLoss: c.logged}, perEpoch: 2, opt: Options{OutDir: t.TempDir()}}
		r.fillSummary("completed")
		b := mustJSON(t, r.sum)
		if c.want != "" && !strings.Contains(b, c.want) || c.want == "" && strings.Contains(b, "train_loss") {
			t.Errorf("logged %v: summary %s, want %q", c.logged, b, c.want)
		}
	}
}

// Counts past any dataset: a batch_size or grad_accum beyond the examples
// makes one batch (one step) an epoch, as the README says, and epochs whose
// steps overflow the step count are refused naming the key, where they had
// made a run of a negative number of steps (or a panic).
func TestFinetuneHugeCounts(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "epochs: 2\n")
	cfg.BatchSize, cfg.GradAccum = math.MaxInt, math.MaxInt/2
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "big"), Log: io.Discard})
	if err != nil || sum.Step != 2 || sum.MaxSteps != 2 {
		t.Fatalf("batch_size and grad_accum past the examples: %+v, %v; want 2 steps, one an epoch", sum, err)
	}
	cfg = synthClassifier(t, dir, 40, "batch_size: 4\n")
	cfg.Epochs = math.MaxInt / 3
	_, err = Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "long"), Log: io.Discard})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "epochs ") || !strings.Contains(err.Error(), "set max_steps") {
		t.Errorf("epochs %d of 8 steps: %v; want a config error naming epochs", cfg.Epochs, err)
	}
}
