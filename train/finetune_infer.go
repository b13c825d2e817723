package train

// What eval and predict of a finetuned model share: a data file read and
// encoded as the model reads it (inferFile), and the head's outputs
// computed for its examples (taskPredictor).

import (
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
	src, err := data.OpenTaskSource(o.ctx(), file)
	if errors.Is(err, data.ErrStopped) { // a signal, not the file's fault
		return nil, fmt.Errorf("stopped while reading %s: %w", file, err)
	}
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
