package train

// gptctl predict for finetuned models: a JSON prediction a row of a data
// file, written a chunk of rows at a time.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"gptctl/graph"
)

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
	j := &predictJob{m: m, modelDir: modelDir, file: file, ctx: o.ctx(), lens: map[int]bool{}}
	if err := j.check(t, o.Log); err != nil {
		return 0, err
	}
	if j.count == 0 { // a batch job's empty day: not an error, but said
		if o.Log != nil {
			fmt.Fprintf(o.Log, "note: %s has no rows (a header at most): no predictions to write\n", t.src.Path)
		}
		return 0, nil
	}
	p, err := m.newPredictor(o, device, slices.Sorted(maps.Keys(j.lens)), j.count)
	if err != nil {
		return 0, err
	}
	defer p.close()
	j.p, j.enc = p, json.NewEncoder(w)
	j.chunk = make([]taskExample, 0, min(predictChunk, j.count))
	err = j.predict(t)
	return j.written, err
}

// predictJob is what PredictTask's two readings of a file share: the rows
// read so far (the context is checked every 1,024), the padded lengths the
// first found, and the chunk of examples the second has yet to score.
type predictJob struct {
	m              *taskModel
	modelDir, file string
	ctx            context.Context
	rows           int
	lens           map[int]bool // padded lengths the first reading saw
	count          int          // rows the first reading found

	p       *taskPredictor
	enc     *json.Encoder
	chunk   []taskExample
	written int
}

// stopped counts a row read and, every 1,024 rows, says whether predict's
// context is done.
func (j *predictJob) stopped() error {
	if j.rows++; j.rows%1024 == 0 && j.ctx.Err() != nil {
		return errPredictStopped
	}
	return nil
}

// check is the first reading of t: every row checked, the padded lengths
// noted, and the file's notes written to log.
func (j *predictJob) check(t *inferFile, log io.Writer) error {
	codec := &taskCodec{info: j.m.info, tok: j.m.tok}
	td, err := t.scan(codec, log, func(e taskExample) error {
		j.lens[paddedLen(e.width, j.m.info.MaxLen)] = true
		return j.stopped()
	})
	if errors.Is(err, errPredictStopped) {
		return fmt.Errorf("predict stopped (%v) while it checked %s", context.Cause(j.ctx), j.file)
	}
	if err != nil {
		return err
	}
	t.notes(codec, td.Count, log)
	j.count = td.Count
	return nil
}

// predict is the second reading of t: predictChunk examples at a time,
// each chunk's predictions written before it reads on. A row more than the
// first reading found, or one of a length it did not see, is refused.
func (j *predictJob) predict(t *inferFile) error {
	again, err := t.scan(&taskCodec{info: j.m.info, tok: j.m.tok}, nil, func(e taskExample) error {
		if j.written+len(j.chunk) == j.count || !j.lens[paddedLen(e.width, j.m.info.MaxLen)] {
			return errChanged // more rows, or a length whose graph was not checked
		}
		if j.chunk = append(j.chunk, e); len(j.chunk) == predictChunk {
			return j.flush()
		}
		return j.stopped()
	})
	if errors.Is(err, errPredictStopped) {
		return fmt.Errorf("predict stopped (%v) after %d of %d rows", context.Cause(j.ctx), j.written, j.count)
	}
	switch {
	case errors.Is(err, errChanged) || err == nil && again.Count < j.count:
		return inputErrorf("%s changed while predict read it (%d rows at first, then other rows): score a copy that stays as it is", j.file, j.count)
	case err == nil && len(j.chunk) > 0:
		err = j.flush()
	}
	return err
}

// flush scores the chunk and writes its predictions, one JSON line each.
func (j *predictJob) flush() error {
	outs, err := j.p.run(j.chunk, j.written)
	if errors.Is(err, errEvalStopped) {
		return fmt.Errorf("predict stopped (%v) after %d of %d rows", context.Cause(j.ctx), j.written, j.count)
	}
	if err != nil {
		return err
	}
	if err := finiteOutputs("model "+j.modelDir, j.chunk, outs); err != nil {
		return err
	}
	for i, out := range outs {
		if err := j.enc.Encode(j.m.prediction(j.chunk[i].line, out)); err != nil {
			return err
		}
		j.written++
	}
	j.chunk = j.chunk[:0]
	return nil
}

// prediction is the Prediction for the model's output out on the example
// of a line: a score, or a label and every label's probability.
func (m *taskModel) prediction(line int, out []float64) Prediction {
	pr := Prediction{Line: line}
	if m.info.Objective == graph.Regress {
		pr.Score = &out[0]
		return pr
	}
	pr.Label, pr.Probabilities = m.info.labelName(argmax(out)), make(LabelProbs, len(out))
	for c, v := range out {
		pr.Probabilities[c] = LabelProb{m.info.labelName(c), v}
	}
	return pr
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
