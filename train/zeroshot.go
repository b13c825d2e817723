package train

// Zero-shot multiple choice: a pretrained language model, no head, no
// finetuning. Each option is scored by the mean log-probability the model
// gives its tokens after the context and question, and the highest score is
// the answer: the heuristic of the GPT-1 paper's zero-shot analysis (its
// Figure 2), and the usual way to read HellaSwag-style tasks off a language
// model. It tells pretraining runs apart before any finetune.

import (
	"fmt"
	"math"
	"strings"

	"gptctl/data"
	"gptctl/graph"
)

// choiceRow is one option of one example as the model reads it: the
// context and question, then the option, whose tokens from first on are
// scored.
type choiceRow struct {
	ids   []int32
	first int // index in ids of the option's first token
}

// ZeroShotChoice scores every option of the labeled multiple-choice file
// with the language model in modelDir and returns the accuracy of taking
// the best-scored one, beside the accuracy of always taking option 0.
func ZeroShotChoice(modelDir, file string, task TaskConfig, o InferOptions) (_ map[string]any, err error) {
	defer func() { err = o.memory(err) }()
	if task.Type != TaskMultipleChoice {
		return nil, &ConfigError{fmt.Errorf("--task: zero-shot scoring takes a multiple_choice task, not %s", task.Type)}
	}
	device, err := o.setup()
	if err != nil {
		return nil, err
	}
	p, tok, err := LoadModelForText(modelDir, "the options cannot be encoded for it")
	if err != nil {
		return nil, err
	}
	f := task.TaskFormat
	f.SkipBadRows = o.SkipBadRows // the command's choice, as for finetuned models
	f.Unreadable = data.NoCharsKnown(tok)
	td, err := readTaskData(file, f, true, o.Log, "--skip-bad-rows", "")
	if err != nil {
		return nil, err
	}
	T := p.Config.NCtx
	rows, truncated, bare, drops := choiceRows(tok, td.Examples, T)
	if note := drops.unknownNote(); note != "" && o.Log != nil {
		fmt.Fprintf(o.Log, "%s: %s\n", file, note)
	}
	if truncated > 0 && o.Log != nil {
		fmt.Fprintf(o.Log, "%s: %d of %d examples lose the start of their context to fit n_ctx %d\n", file, truncated, len(td.Examples), T)
	}
	if bare > 0 && o.Log != nil {
		fmt.Fprintf(o.Log, "%s: %d of them have an option of n_ctx (%d) tokens or more, scored on its last %d tokens without any context\n", file, bare, T, T)
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.ids))
	}
	scores, err := scoreRows(p, rows, min(width, T), o, device)
	if err != nil {
		return nil, err
	}
	right, first, err := tallyChoices(td.Examples, scores, modelDir, file)
	if err != nil {
		return nil, err
	}
	n := float64(len(td.Examples))
	return map[string]any{
		"task": task.Type, "zero_shot": true, "file": file, "examples": len(td.Examples), "skipped": td.Skipped,
		"accuracy": float64(right) / n, "option0_accuracy": float64(first) / n, "truncated": truncated,
		"without_context": bare,
		"score":           "mean log-probability of the option's tokens",
	}, nil
}

// tallyChoices counts the examples whose best-scored option is their
// label (right) and those labeled option 0 (first), scores holding each
// example's options in turn. A score that is not finite is an error that
// names the model, the option and its line of file.
func tallyChoices(exs []data.Example, scores []float64, modelDir, file string) (right, first int, err error) {
	k := 0
	for _, ex := range exs {
		best := 0
		for j := range ex.Options {
			if v := scores[k+j]; math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, 0, &NonFiniteError{fmt.Errorf("model %s: its score of option %d on line %d of %s is %v: the model's outputs are not finite", modelDir, j, ex.Line, file, v)}
			}
			if scores[k+j] > scores[k+best] {
				best = j
			}
		}
		k += len(ex.Options)
		if best == ex.Label {
			right++
		}
		if ex.Label == 0 {
			first++
		}
	}
	return right, first, nil
}

// choiceRows is every option of every example as the model reads it, the
// number of examples truncated, of those with an option that fills the
// context alone (bare: scored without any context), and the characters a
// char-level model dropped. An example without context or question is read after the start
// token (startToken), so that every token of its options is scored, the
// first included.
func choiceRows(tok data.Tokenizer, exs []data.Example, T int) (rows []choiceRow, truncated, bare int, drops dropped) {
	for _, ex := range exs {
		context := choiceContext(ex.Fields)
		drops.see(tok, context)
		prefix := tok.Encode(context)
		if len(prefix) == 0 {
			prefix = []int{startToken(tok)}
		}
		cutAny, bareAny := false, false
		for _, opt := range ex.Options {
			option := " " + strings.TrimSpace(opt)
			drops.see(tok, option)
			ids := tok.Encode(option)
			r, cut := choiceSequence(prefix, ids, T)
			rows = append(rows, r)
			cutAny, bareAny = cutAny || cut, bareAny || len(ids) >= T
		}
		if cutAny {
			truncated++
		}
		if bareAny {
			bare++
		}
		drops.next()
	}
	return rows, truncated, bare, drops
}

// choiceSequence joins prefix and option ids within T tokens, dropping the
// start of the prefix (and, for an option longer than T, of the option)
// when they do not fit; cut says whether anything was dropped.
func choiceSequence(prefix, option []int, T int) (choiceRow, bool) {
	cut := false
	if len(option) > T {
		option, cut = option[len(option)-T:], true
	}
	if keep := T - len(option); len(prefix) > keep {
		prefix, cut = prefix[len(prefix)-keep:], true
	}
	ids := make([]int32, 0, len(prefix)+len(option))
	for _, id := range prefix {
		ids = append(ids, int32(id))
	}
	for _, id := range option {
		ids = append(ids, int32(id))
	}
	return choiceRow{ids: ids, first: max(len(prefix), 1)}, cut
}

// scoreRows returns, for each row, the mean log-probability of its tokens
// from first on, each given the tokens before it (an option that is the
// whole row loses its first token, which has nothing before it).
func scoreRows(p *graph.Params, rows []choiceRow, T int, o InferOptions, device string) ([]float64, error) {
	B := max(1, min(o.Batch, len(rows))) // a batch beyond the rows builds no larger graph
	if device == "cpu" {
		if err := fitsInference(p.Config, B, []int{T}, true, fmt.Sprintf("--batch-size %d (option rows of %d tokens)", B, T)); err != nil {
			return nil, &ConfigError{err}
		}
	}
	m, err := graph.New(p, B, T, graph.NewRNG(0), inferenceOptions(device)...)
	if err != nil {
		return nil, err
	}
	fwd, err := newForwardRun(m, m.Logits, device)
	if err != nil {
		return nil, err
	}
	defer fwd.close()
	V, stride := m.Vocab, m.Logits.Shape()[1]
	scores := make([]float64, len(rows))
	in := graph.Int32Data(m.Idx)
	for b0 := 0; b0 < len(rows); b0 += B {
		batch := rows[b0:min(b0+B, len(rows))]
		clear(in)
		for i, r := range batch {
			copy(in[i*T:], r.ids)
		}
		out, err := fwd.values()
		if err != nil {
			return nil, err
		}
		for i, r := range batch {
			var sum float64
			for pos := r.first; pos < len(r.ids); pos++ {
				row := out[(i*T+pos-1)*stride:][:V]
				sum += logSoftmaxAt(row, int(r.ids[pos]))
			}
			scores[b0+i] = sum / float64(max(1, len(r.ids)-r.first))
		}
		o.progress(b0+len(batch), len(rows))
	}
	return scores, nil
}

// logSoftmaxAt is log softmax(row)[id], in float64.
func logSoftmaxAt(row []float32, id int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for _, v := range row {
		z += math.Exp(float64(v) - mx)
	}
	return float64(row[id]) - mx - math.Log(z)
}
