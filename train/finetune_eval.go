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

// inferFile is a data file for a finetuned model, read as the model reads
// it: in the format o.Format names, else the one its extension names, else
// the one the model was finetuned with.
type inferFile struct {
	src         *data.TaskSource
	f           data.TaskFormat
	modelFormat bool // neither --format nor the file's name said the format
	m           *taskModel
	needLabel   bool
}

func openInferFile(m *taskModel, file string, needLabel bool, o InferOptions) (*inferFile, error) {
	f := m.info.Format
	_, err := (data.TaskFormat{}).FileFormat(file)
	modelFormat := err != nil && o.Format == "" // neither the flag nor the name says
	if !modelFormat {
		f.Format = o.Format
	}
	format, err := f.FileFormat(file)
	if err != nil {
		return nil, inputErrorf("%s: a finetuned model reads task files (.tsv, .csv or .jsonl, or another name with --format) with the columns it was finetuned on (%s)",
			file, columnList(m.info.Format.Columns))
	}
	if m.info.Format.Format == "jsonl" && format != "jsonl" {
		f.Header = true // the JSON fields are the names of a tsv/csv file's header
	}
	f.SkipBadRows = o.SkipBadRows // the command's choice, not the finetune's
	f.Unreadable = data.NoCharsKnown(m.tok)
	f.LabelHint = "the labels the model was finetuned with"
	if len(f.Labels) == 0 {
		f.LabelHint = fmt.Sprintf("the model was finetuned with integer labels from %d", f.LabelBase)
	}
	src, err := data.OpenTaskSource(file)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return &inferFile{src: src, f: f, modelFormat: modelFormat, m: m, needLabel: needLabel}, nil
}

// scan reads the file, encoding each example with codec for fn, and logs
// the rows skipped (--skip-bad-rows) when log is not nil.
func (t *inferFile) scan(codec *taskCodec, log io.Writer, fn func(taskExample) error) (*data.TaskData, error) {
	var fnErr error
	td, err := t.src.Scan(t.f, t.needLabel, func(ex data.Example) error {
		fnErr = fn(codec.encode(ex))
		return fnErr
	})
	if err != nil {
		if fnErr != nil {
			return nil, err // not the file's
		}
		err = asInputError(err)
		if t.modelFormat {
			err = fmt.Errorf("%w (read as %s, the format the model was finetuned on; --format sets another)", err, t.f.Format)
		}
		return nil, err
	}
	logSkips(td, log, "--skip-bad-rows", "")
	return td, nil
}

// notes logs what encoding the file's td.Count examples with codec lost.
func (t *inferFile) notes(codec *taskCodec, n int, log io.Writer) {
	if log == nil {
		return
	}
	if note := codec.unknownNote(); note != "" {
		fmt.Fprintf(log, "%s: %s\n", t.src.Path, note)
	}
	if codec.truncated > 0 {
		fmt.Fprintf(log, "%s: %d of %d examples truncated to max_len %d (the longest segment first)\n", t.src.Path, codec.truncated, n, t.m.info.MaxLen)
	}
}

// readTaskExamples reads and encodes a data file for a finetuned model
// (see inferFile).
func readTaskExamples(m *taskModel, file string, needLabel bool, o InferOptions) ([]taskExample, *data.TaskData, int, error) {
	t, err := openInferFile(m, file, needLabel, o)
	if err != nil {
		return nil, nil, 0, err
	}
	codec := &taskCodec{info: m.info, tok: m.tok}
	var exs []taskExample
	td, err := t.scan(codec, o.Log, func(e taskExample) error {
		exs = append(exs, e)
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	t.notes(codec, len(exs), o.Log)
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
// not needed) to w and returns how many it wrote. It reads the file twice,
// whatever its size: once to check every row and see the lengths the
// examples need, then predictChunk examples at a time, writing each chunk's
// predictions before it reads on. A file whose rows change in number, or
// in a padded length the first reading did not see, between the two is
// refused; other edits are scored as the second reading finds them.
func PredictTask(modelDir, file string, w io.Writer, o InferOptions) (_ int, err error) {
	defer func() { err = o.memory(err) }()
	defer trainingGC()() // the graphs live throughout, as a training job's buffers do
	device, err := o.setup()
	if err != nil {
		return 0, err
	}
	m, err := loadTaskModel(modelDir)
	if err != nil {
		return 0, err
	}
	t, err := openInferFile(m, file, false, o)
	if err != nil {
		return 0, err
	}
	ctx, rows := o.ctx(), 0
	stopped := func() error { // checked every 1,024 rows read
		if rows++; rows%1024 == 0 && ctx.Err() != nil {
			return errPredictStopped
		}
		return nil
	}
	codec, lens := &taskCodec{info: m.info, tok: m.tok}, map[int]bool{}
	td, err := t.scan(codec, o.Log, func(e taskExample) error {
		lens[paddedLen(e.width, m.info.MaxLen)] = true
		return stopped()
	})
	if errors.Is(err, errPredictStopped) {
		return 0, fmt.Errorf("predict stopped (%v) while it checked %s", context.Cause(ctx), file)
	}
	if err != nil {
		return 0, err
	}
	t.notes(codec, td.Count, o.Log)
	if td.Count == 0 { // a batch job's empty day: not an error, but said
		if o.Log != nil {
			fmt.Fprintf(o.Log, "note: %s has no rows (a header at most): no predictions to write\n", t.src.Path)
		}
		return 0, nil
	}
	p, err := m.newPredictor(o, device, slices.Sorted(maps.Keys(lens)), td.Count)
	if err != nil {
		return 0, err
	}
	defer p.close()
	enc, written := json.NewEncoder(w), 0
	chunk := make([]taskExample, 0, min(predictChunk, td.Count))
	flush := func() error {
		outs, err := p.run(chunk, written)
		if errors.Is(err, errEvalStopped) {
			return fmt.Errorf("predict stopped (%v) after %d of %d rows", context.Cause(ctx), written, td.Count)
		}
		if err != nil {
			return err
		}
		if err := finiteOutputs("model "+modelDir, chunk, outs); err != nil {
			return err
		}
		for i, out := range outs {
			pr := Prediction{Line: chunk[i].line}
			if m.info.Objective == graph.Regress {
				pr.Score = &out[0]
			} else {
				pr.Label, pr.Probabilities = m.info.labelName(argmax(out)), make(LabelProbs, len(out))
				for c, v := range out {
					pr.Probabilities[c] = LabelProb{m.info.labelName(c), v}
				}
			}
			if err := enc.Encode(pr); err != nil {
				return err
			}
			written++
		}
		chunk = chunk[:0]
		return nil
	}
	again, err := t.scan(&taskCodec{info: m.info, tok: m.tok}, nil, func(e taskExample) error {
		if written+len(chunk) == td.Count || !lens[paddedLen(e.width, m.info.MaxLen)] {
			return errChanged // more rows, or a length whose graph was not checked
		}
		if chunk = append(chunk, e); len(chunk) == predictChunk {
			return flush()
		}
		return stopped()
	})
	if errors.Is(err, errPredictStopped) {
		return written, fmt.Errorf("predict stopped (%v) after %d of %d rows", context.Cause(ctx), written, td.Count)
	}
	switch {
	case errors.Is(err, errChanged) || err == nil && again.Count < td.Count:
		return written, inputErrorf("%s changed while predict read it (%d rows at first, then other rows): score a copy that stays as it is", file, td.Count)
	case err == nil && len(chunk) > 0:
		err = flush()
	}
	return written, err
}

// errPredictStopped stops a reading of predict's file when its context is
// cancelled.
var errPredictStopped = errors.New("predict stopped")

// errChanged stops the second reading of a file that has more rows than
// the first found, or a row of another padded length.
var errChanged = errors.New("the file changed")

// predictChunk is how many rows predict scores before it writes their
// predictions: the output grows as the work goes (a full disk is found
// early), and only a chunk's examples and outputs are held.
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
	p, err := m.newPredictor(o, device, graphLens(m.info.MaxLen, exs), len(exs))
	if err != nil {
		return nil, err
	}
	defer p.close()
	return p.run(exs, 0)
}

// taskPredictor computes the head's outputs for total examples, passed to
// run in parts, in order; its graphs are built once, for all of them.
type taskPredictor struct {
	s     *graphSet
	o     InferOptions
	total int
}

// newPredictor checks that the graphs for examples padded to lens fit in
// memory (on the CPU, where a graph is kept for each) and sets them up.
func (m *taskModel) newPredictor(o InferOptions, device string, lens []int, total int) (*taskPredictor, error) {
	// A batch beyond the examples builds no larger graph.
	E, head := min(o.Batch, max(1, total)), m.info.head()
	if device == "cpu" {
		what := fmt.Sprintf("--batch-size %d (%d sequences, in graphs of %v tokens)", E, E*head.Rows, lens)
		if err := fitsInference(m.params.Config, E*head.Rows, lens, false, what); err != nil {
			return nil, &ConfigError{err}
		}
	}
	s := newGraphSet(m.params, head, E, m.info.MaxLen, graph.NewRNG(0))
	if device == "cuda" {
		s.fixedT, s.opts, s.forwardOnGPU = m.info.MaxLen, modelOptions(device), true
	} else {
		s.opts = append(inferenceOptions(device), graph.SharedActivations(graph.NewActivationBuffers()))
		if T := longestLen(lens); T > 0 { // the longest graph first: the others fit in its buffers
			if _, err := s.get(T); err != nil {
				return nil, err
			}
		}
	}
	return &taskPredictor{s: s, o: o, total: total}, nil
}

// run returns the outputs for exs, whose first is example first of all.
func (p *taskPredictor) run(exs []taskExample, first int) ([][]float64, error) {
	p.s.progress = func(done, _ int) { p.o.progress(first+done, p.total) } // counted over all
	return p.s.predict(p.o.ctx(), exs)
}

func (p *taskPredictor) close() {
	if p.s.fwd != nil {
		p.s.fwd.close()
	}
}

// columnList writes a task's column mapping as role: column, sorted.
func columnList(cols map[string]string) string {
	parts := make([]string, 0, len(cols))
	for _, role := range slices.Sorted(maps.Keys(cols)) {
		parts = append(parts, role+": "+cols[role])
	}
	return strings.Join(parts, ", ")
}
