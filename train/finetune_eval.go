package train

// Task metrics, and gptctl eval and predict for finetuned models.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/kernels"
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
			nll -= math.Log(math.Max(outs[i][e.label], 1e-30))
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

// readTaskExamples reads and encodes a data file for a finetuned model. Its
// format is o.Format when set, else the one its extension names, else the
// one the model was finetuned with.
func readTaskExamples(m *taskModel, file string, needLabel bool, o InferOptions) ([]taskExample, *data.TaskData, int, error) {
	f := m.info.Format
	_, err := (data.TaskFormat{}).FileFormat(file)
	modelFormat := err != nil && o.Format == "" // neither the flag nor the name says
	if !modelFormat {
		f.Format = o.Format
	}
	format, err := f.FileFormat(file)
	if err != nil {
		return nil, nil, 0, inputErrorf("%s: a finetuned model reads task files (.tsv, .csv or .jsonl, or another name with --format) with the columns it was finetuned on (%s)",
			file, columnList(m.info.Format.Columns))
	}
	if m.info.Format.Format == "jsonl" && format != "jsonl" {
		f.Header = true // the JSON fields are the names of a tsv/csv file's header
	}
	f.SkipBadRows = o.SkipBadRows // the command's choice, not the finetune's
	td, err := readTaskData(file, f, needLabel, o.Log, "--skip-bad-rows")
	if err != nil {
		if modelFormat {
			err = fmt.Errorf("%w (read as %s, the format the model was finetuned on; --format sets another)", err, f.Format)
		}
		return nil, nil, 0, err
	}
	codec := &taskCodec{info: m.info, tok: m.tok}
	exs := codec.encodeAll(td.Examples)
	if note := codec.unknownNote(); note != "" && o.Log != nil {
		fmt.Fprintf(o.Log, "%s: %s\n", file, note)
	}
	if codec.truncated > 0 && o.Log != nil {
		fmt.Fprintf(o.Log, "%s: %d of %d examples truncated to max_len %d (the longest segment first)\n", file, codec.truncated, len(exs), m.info.MaxLen)
	}
	return exs, td, codec.truncated, nil
}

// asInputError marks a task-file problem that is not already a RowError
// as bad input.
func asInputError(err error) error {
	var re *data.RowError
	if errors.As(err, &re) {
		return err
	}
	return &InputError{Err: err}
}

// EvalTask computes the task metrics of a finetuned model on a labeled file.
func EvalTask(modelDir, file string, o InferOptions) (_ map[string]any, err error) {
	defer func() { err = o.memory(err) }()
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
		return nil, err
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

// Prediction is one line of gptctl predict's output.
type Prediction struct {
	Line          int        `json:"line"`
	Label         string     `json:"label,omitempty"`
	Probabilities LabelProbs `json:"probabilities,omitempty"`
	Score         *float64   `json:"score,omitempty"`
}

// LabelProbs are the probabilities of the labels (or options), written as
// one JSON object in class order (a map would sort "10" before "2").
type LabelProbs []LabelProb

// LabelProb is the probability of one label.
type LabelProb struct {
	Label string
	P     float64
}

// Of returns the probability of label, 0 for one not listed.
func (l LabelProbs) Of(label string) float64 {
	for _, lp := range l {
		if lp.Label == label {
			return lp.P
		}
	}
	return 0
}

func (l LabelProbs) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, lp := range l {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(lp.Label)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(lp.P)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func (l *LabelProbs) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("probabilities: want a JSON object, got %s", b)
	}
	*l = (*l)[:0]
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var p float64
		if err := dec.Decode(&p); err != nil {
			return err
		}
		*l = append(*l, LabelProb{Label: t.(string), P: p})
	}
	return nil
}

// PredictTask writes one JSON prediction per example of file (labels are
// not needed) to w and returns how many it wrote.
func PredictTask(modelDir, file string, w io.Writer, o InferOptions) (_ int, err error) {
	defer func() { err = o.memory(err) }()
	device, err := o.setup()
	if err != nil {
		return 0, err
	}
	m, err := loadTaskModel(modelDir)
	if err != nil {
		return 0, err
	}
	exs, _, _, err := readTaskExamples(m, file, false, o)
	if err != nil {
		return 0, err
	}
	enc, written := json.NewEncoder(w), 0
	err = m.predictEach(exs, o, device, predictChunk, func(first int, outs [][]float64) error {
		part := exs[first : first+len(outs)]
		if err := finiteOutputs("model "+modelDir, part, outs); err != nil {
			return err
		}
		for i, o := range outs {
			p := Prediction{Line: part[i].line}
			if m.info.Objective == graph.Regress {
				p.Score = &o[0]
			} else {
				p.Label, p.Probabilities = m.info.labelName(argmax(o)), make(LabelProbs, len(o))
				for c, v := range o {
					p.Probabilities[c] = LabelProb{m.info.labelName(c), v}
				}
			}
			if err := enc.Encode(p); err != nil {
				return err
			}
			written++
		}
		return nil
	})
	return written, err
}

// predictChunk is how many rows predict scores before it writes their
// predictions: the output grows as the work goes (a full disk is found
// early), and only a chunk's outputs are held.
var predictChunk = 4096

// finiteOutputs is a *NonFiniteError naming the first example whose head
// outputs are not finite: a model that diverged in training.
func finiteOutputs(model string, exs []taskExample, outs [][]float64) error {
	for i, o := range outs {
		for _, v := range o {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return &NonFiniteError{fmt.Errorf("%s: its output for line %d is %v: the weights are not finite (lower lr)", model, exs[i].line, v)}
			}
		}
	}
	return nil
}

// predict returns the head's outputs for exs, in batches of o.Batch
// examples, on device. On the GPU every batch is padded to max_len: one graph, compiled
// once.
func (m *taskModel) predict(exs []taskExample, o InferOptions, device string) ([][]float64, error) {
	outs := make([][]float64, 0, len(exs))
	err := m.predictEach(exs, o, device, len(exs), func(_ int, part [][]float64) error {
		outs = append(outs, part...)
		return nil
	})
	return outs, err
}

// predictEach is predict in chunks of chunk examples, in order, each
// chunk's outputs passed to emit with the index of its first example; the
// graphs are built once, for all of them.
func (m *taskModel) predictEach(exs []taskExample, o InferOptions, device string, chunk int, emit func(first int, outs [][]float64) error) error {
	// A batch beyond the examples builds no larger graph.
	E, head := min(o.Batch, max(1, len(exs))), m.info.head()
	if device == "cpu" { // a graph for each padded length of the examples, kept
		lens := graphLens(m.info.MaxLen, exs)
		what := fmt.Sprintf("--batch-size %d (%d sequences, in graphs of %v tokens)", E, E*head.Rows, lens)
		if err := fitsInference(m.params.Config, E*head.Rows, lens, what); err != nil {
			return &ConfigError{err}
		}
	}
	s := newGraphSet(m.params, head, E, m.info.MaxLen, kernels.NewRNG(0))
	if device == "cuda" {
		s.fixedT, s.opts, s.forwardOnGPU = m.info.MaxLen, modelOptions(device), true
		defer func() {
			if s.fwd != nil {
				s.fwd.close()
			}
		}()
	}
	for first := 0; first < len(exs); first += max(chunk, 1) {
		part := exs[first:min(first+max(chunk, 1), len(exs))]
		s.progress = func(done, _ int) { o.progress(first+done, len(exs)) } // counted over all of exs
		outs, err := s.predict(context.Background(), part)
		if err != nil {
			return err
		}
		if err := emit(first, outs); err != nil {
			return err
		}
	}
	return nil
}

// columnList writes a task's column mapping as role: column, sorted.
func columnList(cols map[string]string) string {
	parts := make([]string, 0, len(cols))
	for _, role := range slices.Sorted(maps.Keys(cols)) {
		parts = append(parts, role+": "+cols[role])
	}
	return strings.Join(parts, ", ")
}
