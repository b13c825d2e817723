package train

// Task metrics, and gptctl eval for finetuned models (predict is in
// finetune_predict.go; what both read and run, in finetune_infer.go).

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"gptctl/data"
	"gptctl/graph"
)

// taskMetrics scores head outputs against the labeled examples: accuracy,
// F1 (of class 1 for two classes, macro otherwise), Matthews correlation and
// the cross-entropy; or Pearson, Spearman and the mean squared error.
func taskMetrics(info *TaskInfo, exs []taskExample, outs [][]float64) map[string]float64 {
	if info.Objective == graph.Regress {
		var pred, gold []float64
		for i, e := range exs {
			if !math.IsNaN(float64(e.score)) {
				pred, gold = append(pred, outs[i][0]), append(gold, float64(e.score))
			}
		}
		mse := meanSquaredError(pred, gold)
		return map[string]float64{"pearson": Pearson(pred, gold), "spearman": Spearman(pred, gold), "mse": mse, "loss": mse}
	}
	var pred, gold []int
	var nll float64
	for i, e := range exs {
		if e.label >= 0 {
			pred, gold = append(pred, argmax(outs[i])), append(gold, int(e.label))
			// The probabilities are float64, from float32 logits: exact
			// to a logit gap of about 744, where they underflow to 0.
			nll -= math.Log(math.Max(outs[i][e.label], math.SmallestNonzeroFloat64))
		}
	}
	k := len(outs[0])
	f1 := MacroF1(pred, gold, k)
	if k == 2 {
		f1 = F1(pred, gold, 1)
	}
	return map[string]float64{"accuracy": Accuracy(pred, gold), "f1": f1, "mcc": Matthews(pred, gold),
		"loss": nll / math.Max(1, float64(len(pred)))}
}

// baselineMetrics are the metrics of the trivial predictor fitted on train:
// the majority class (or option), or the mean score.
func baselineMetrics(info *TaskInfo, train, val []taskExample) map[string]float64 {
	k := max(len(info.Labels), info.NumOptions, 1)
	counts := make([]float64, k)
	var sum, n float64
	for _, e := range train {
		if e.label >= 0 && int(e.label) < k {
			counts[e.label]++
		}
		if !math.IsNaN(float64(e.score)) {
			sum, n = sum+float64(e.score), n+1
		}
	}
	out := make([]float64, k)
	out[argmax(counts)] = 1
	if info.Objective == graph.Regress {
		out = []float64{sum / math.Max(n, 1)}
	}
	outs := make([][]float64, len(val))
	for i := range outs {
		outs[i] = out
	}
	m := taskMetrics(info, val, outs)
	delete(m, "loss") // a one-hot prediction has no meaningful cross-entropy
	return m
}

// metricsText writes metrics as "name value" pairs in name order, each
// value with 4 decimals, or 4 significant digits and an exponent where it
// is 1e6 or more in size (the MSE of huge scores).
func metricsText(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		format := "%s %.4f"
		if math.Abs(m[k]) >= 1e6 {
			format = "%s %.4g"
		}
		parts = append(parts, fmt.Sprintf(format, k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func meanSquaredError(pred, gold []float64) float64 {
	var s float64
	for i := range pred {
		s += (pred[i] - gold[i]) * (pred[i] - gold[i])
	}
	return s / math.Max(1, float64(len(pred)))
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// EvalTask computes the task metrics of a finetuned model on a labeled file.
func EvalTask(modelDir, file string, o InferOptions) (_ map[string]any, err error) {
	defer func() { err = o.memory(err) }()
	defer trainingGC()() // the graphs live throughout, as a training job's buffers do
	device, err := o.setup()
	if err != nil {
		return nil, err
	}
	m, err := loadTaskModel(modelDir)
	if err != nil {
		return nil, err
	}
	exs, td, truncated, err := readTaskExamples(m, file, true, o)
	if err != nil {
		return nil, notTextHint(err, m, file, o)
	}
	outs, err := m.predict(exs, o, device)
	if err != nil {
		return nil, err
	}
	if err := finiteOutputs("model "+modelDir, exs, outs); err != nil {
		return nil, err
	}
	res := map[string]any{"task": m.info.Type, "file": file, "examples": len(exs), "skipped": td.Skipped, "truncated": truncated}
	for k, v := range taskMetrics(m.info, exs, outs) {
		res[k] = v
	}
	return res, nil
}

// notTextHint adds to err, eval's failure to read file for the finetuned
// model m, what eval of such a model reads, where neither file's name nor
// --format says it is a task file and the file failed as a whole or at its
// first line (its columns): it may be text, on which eval of a finetuned
// model scores nothing. A bad row further down is a task file's.
func notTextHint(err error, m *taskModel, file string, o InferOptions) error {
	var re *data.RowError
	if !errors.As(err, &re) || re.Line > 1 {
		return err
	}
	if _, nameErr := (data.TaskFormat{}).FileFormat(file); nameErr == nil || o.Format != "" {
		return err
	}
	return fmt.Errorf("%w; eval of a finetuned model reads task files, rows with its task's columns (%s), for its task metrics, and does not score its language model on text (for a loss on text, eval the model it was finetuned from)",
		err, columnList(m.info.Format.Columns))
}
