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
