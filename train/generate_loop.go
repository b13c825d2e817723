package train

// The sampling loop's state: a generation draws the samples of a generate
// call in the decoder's slots, a token a step, and writes their output in
// the order of the samples.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"gptctl/data"
	"gptctl/graph"
)

// generation draws the samples of a generate call, up to one per decoder
// slot at a time. Each sample has its own random stream, drawn from the
// seed and its index, so the samples a seed gives do not depend on how
// many run together (to float32 rounding: a batch's products may round
// otherwise than one row's, and move a draw that falls within rounding of
// the boundary between two tokens). The output is that of drawing the
// samples one after another: the earliest unfinished sample prints as it
// goes, and the others hold their output until its turn.
type generation struct {
	o      GenerateOptions
	tok    data.Tokenizer
	encode func(string) []int // the prompts' encoding: tok's, with or without its special tokens
	dec    decoder
	out    *stickyWriter
	probs  sync.Pool       // *[]float64 of the tokenizer's size: a draw's scratch
	next   []int           // the tokens a step draws, by row
	slots  []*genJob       // the sample each decoder slot runs, nil when free
	jobs   map[int]*genJob // started samples whose output is not all written, by index
	head   int             // the sample whose output is written as it comes
	seen   []bool          // ids a penalty has been applied to, cleared after each sample's
	noted  bool            // whether a prompt over the context has been noted
}

// genJob is one sample being drawn.
type genJob struct {
	index  int
	ids    []int // the prompt's tokens, then the new ones
	fed    bool  // whether the decoder has the prompt
	rng    *rand.Rand
	sample Sample
	text   stopScanner  // the new text: the spaces the prompt decodes to beyond those typed, then the tokens
	held   bytes.Buffer // output waiting for its turn
	done   bool
}

// run draws ns samples of each prompt, as many at a time as the decoder
// has slots, until all are written, a write fails or the context stops.
func (g *generation) run(prompts []Prompt, ns int) error {
	o, total := g.o, len(prompts)*ns
	next := 0 // the next sample to start: prompt next/ns, its sample next%ns
	running := func() bool { return slices.ContainsFunc(g.slots, func(j *genJob) bool { return j != nil }) }
	stopped := func() bool { return o.Context != nil && o.Context.Err() != nil }
	for next < total || running() {
		for slot := range g.slots { // free slots take the next samples
			for g.slots[slot] == nil && next < total { // (a sample of no tokens ends as it starts)
				// A stop ends the samples running, before any other starts,
				// as does a failed write.
				if stopped() {
					return g.interrupt(context.Cause(o.Context), total)
				}
				if g.out.err != nil {
					return g.out.err
				}
				g.start(next, slot, prompts[next/ns], next%ns)
				next++
			}
		}
		if stopped() {
			return g.interrupt(context.Cause(o.Context), total)
		}
		if !running() {
			break
		}
		if err := g.step(); err != nil {
			return err
		}
	}
	return g.out.err
}

// start begins sample index, sample i of prompt pr, in slot.
func (g *generation) start(index, slot int, pr Prompt, i int) {
	ids := g.encode(pr.Text)
	if len(ids) == 0 {
		ids = []int{startToken(g.tok)}
	}
	j := &genJob{index: index, ids: ids, rng: rand.New(rand.NewPCG(g.o.Seed, 0x6e6+uint64(index))),
		sample: Sample{Line: pr.Line, ID: pr.ID, Sample: i, Prompt: pr.Text, FinishReason: "length"},
		text:   stopScanner{stops: g.o.Stop}}
	g.jobs[index] = j
	g.slots[slot] = j
	if T := g.dec.Context(); len(ids) > T && !g.noted && g.o.Log != nil {
		g.noted = true
		what := g.o.promptFlag()
		if pr.Line > 0 {
			what = fmt.Sprintf("%s:%d", g.o.PromptFrom, pr.Line)
		}
		fmt.Fprintf(g.o.Log, "note: the prompt (%s) is %d tokens, over the model's context of %d: the model sees its last %d (as of any longer prompt)\n",
			what, len(ids), T, T)
	}
	if !g.o.JSON {
		if index > 0 {
			g.emit(j, sampleSeparator+"\n")
		}
		g.emit(j, pr.Text)
	}
	// The spaces the prompt's last token decodes to beyond those typed
	// begin the new text: a stop string may begin with them.
	g.addText(j, slot, promptTail(pr.Text, g.tok.Decode(ids)))
}

// step feeds each running sample its new tokens and draws its next one.
func (g *generation) step() error {
	slots, feed := g.feed()
	logits, err := g.dec.Feed(slots, feed)
	if err != nil {
		return err
	}
	V, Vm := g.tok.VocabSize(), len(logits)/len(slots) // the tokenizer's ids, the model's rows
	for r, slot := range slots {
		for id, v := range logits[r*Vm : r*Vm+V] {
			if v-v != 0 { // NaN or ±Inf: the draw would be a blind pick
				job := g.slots[slot]
				return &NonFiniteError{fmt.Errorf("its logit of token %d is %v after %d tokens of sample %d: the model's outputs are not finite (the weights of a run that diverged? generate from an earlier checkpoint)",
					id, v, len(job.ids), job.index)}
			}
		}
	}
	if p := g.o.RepetitionPenalty; p != 0 && p != 1 {
		for r, slot := range slots {
			g.penalize(logits[r*Vm:r*Vm+V], g.slots[slot].ids, float32(p))
		}
	}
	// The draws, a row each, run in parallel (each sample has its own
	// random stream: the same draws in any order), each with scratch from
	// the pool, which holds about as many as run at once; the tokens are
	// then taken in row order.
	next := g.next[:len(slots)]
	graph.ParallelFor(len(slots), func(r int) {
		probs := g.probs.Get().(*[]float64)
		next[r] = sample(logits[r*Vm:r*Vm+V], *probs, g.o, g.slots[slots[r]].rng)
		g.probs.Put(probs)
	})
	for r, slot := range slots {
		g.take(g.slots[slot], slot, next[r])
	}
	if g.out.err != nil {
		return fmt.Errorf("writing the sample: %w", g.out.err)
	}
	return nil
}

// penalize applies the repetition penalty p to the logits of the ids in
// seen, once an id however often it occurs.
func (g *generation) penalize(logits []float32, seen []int, p float32) {
	if g.seen == nil {
		g.seen = make([]bool, len(logits))
	}
	for _, id := range seen {
		if id < len(logits) && !g.seen[id] {
			g.seen[id] = true
			if logits[id] > 0 {
				logits[id] /= p
			} else {
				logits[id] *= p
			}
		}
	}
	for _, id := range seen {
		if id < len(logits) {
			g.seen[id] = false
		}
	}
}

// feed returns the slots to feed in this step and each one's new tokens:
// the prompt first; once the text fills the context, the window that ends
// with the last token (the slot emptied for it); else the last token.
// Prompts and windows that would make the step's matrices longer than a
// context and a token a sample wait for a later step. The samples are
// served in their order, the one printing first: past the context, where a
// step holds one whole window, the printing sample goes on (and the others
// in turn after it), where the first slots alone did, the printing sample
// waiting behind later ones.
func (g *generation) feed() (slots []int, feed [][]int) {
	T := g.dec.Context()
	budget, used := T+len(g.slots), 0
	order := make([]int, 0, len(g.slots))
	for slot, j := range g.slots {
		if j != nil {
			order = append(order, slot)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return g.slots[a].index - g.slots[b].index })
	for _, slot := range order {
		j := g.slots[slot]
		window := j.ids[len(j.ids)-1:]
		fresh := !j.fed || g.dec.Len(slot) == T // a new window, the cache emptied for it
		if fresh {
			window = j.ids[max(0, len(j.ids)-T):]
		}
		if used > 0 && used+len(window) > budget {
			continue
		}
		if fresh {
			g.dec.Reset(slot)
			j.fed = true
		}
		used += len(window)
		slots, feed = append(slots, slot), append(feed, window)
	}
	return slots, feed
}

// take adds the token next to sample j, in slot, and ends the sample where
// it is the end-of-text token, completes a stop string or the last token.
func (g *generation) take(j *genJob, slot, next int) {
	if next == g.tok.EOT() && !g.o.IgnoreEOT {
		j.sample.FinishReason = "eot"
		g.finish(j, slot)
		return
	}
	j.ids = append(j.ids, next)
	j.sample.Tokens++
	g.addText(j, slot, g.tok.Decode([]int{next}))
}

// addText adds s to the new text of sample j, in slot, writes what is
// ready of it, and ends the sample where s completes a stop string or the
// sample has its last token (--max-new-tokens 0: at its start).
func (g *generation) addText(j *genJob, slot int, s string) {
	ready, stop := j.text.add(s)
	if !g.o.JSON {
		g.emit(j, ready)
	}
	switch {
	case stop != "":
		j.sample.FinishReason, j.sample.Stop = "stop", stop
		g.finish(j, slot)
	case j.sample.Tokens == g.o.MaxNewTokens:
		g.finish(j, slot)
	}
}

// emit writes a sample's output, or holds it until the samples before it
// are written.
func (g *generation) emit(j *genJob, s string) {
	if j.index == g.head {
		io.WriteString(g.out, s)
	} else {
		j.held.WriteString(s)
	}
}

// finish ends sample j, frees its slot and writes what is due: its last
// text (a character left incomplete as U+FFFD) and newline, or its JSON
// object, and the held output of the samples after it, up to the next
// unfinished one.
func (g *generation) finish(j *genJob, slot int) {
	rest, stop := j.text.end()
	if stop != "" {
		j.sample.FinishReason, j.sample.Stop = "stop", stop // the U+FFFD of a character left incomplete completed it
	}
	j.sample.Text = string(j.text.text)
	if g.o.JSON {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(j.sample) // a Sample always encodes
		g.emit(j, b.String())
	} else {
		g.emit(j, rest+"\n")
	}
	j.done, j.ids = true, nil
	g.slots[slot] = nil
	for {
		h := g.jobs[g.head]
		if h == nil || !h.done {
			return
		}
		delete(g.jobs, g.head)
		g.head++
		if h := g.jobs[g.head]; h != nil {
			g.out.Write(h.held.Bytes())
			h.held = bytes.Buffer{}
		}
	}
}

// interrupt ends the samples started, in order, as they stand, and returns
// the error that says what was written of the total.
func (g *generation) interrupt(cause error, total int) error {
	cut := 0
	for {
		slot := slices.IndexFunc(g.slots, func(j *genJob) bool { return j != nil && j.index == g.head })
		if slot < 0 { // the first not started: the rest are not either
			break
		}
		j := g.slots[slot]
		j.sample.FinishReason = "interrupted"
		g.finish(j, slot) // writes it, and the finished ones held after it
		cut++
	}
	if g.out.err != nil {
		return fmt.Errorf("writing the sample: %w", g.out.err)
	}
	return fmt.Errorf("generate stopped (%v): %d of %d samples written whole, %d cut short (finish_reason \"interrupted\")", cause, g.head-cut, total, cut)
}

// stickyWriter keeps the first error of its writer and fails every write
// after it, so that sampling stops at a full disk or a closed pipe.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}
