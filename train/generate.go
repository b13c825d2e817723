package train

// gptctl generate: its options, and the samples drawn through the decoder,
// several at a time.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"gptctl/data"
	"gptctl/graph"
)

// GenerateOptions controls sampling.
type GenerateOptions struct {
	Prompt       string
	MaxNewTokens int
	Temperature  float64 // 0 = greedy
	TopK         int     // 0 = no limit
	TopP         float64 // 1 = no limit
	Seed         uint64
	NumSamples   int // 0 or 1: one; more are separated by a line of dashes
	// IgnoreEOT keeps sampling past the end-of-text token, which otherwise
	// ends a sample (as the end of its document) and is not printed.
	IgnoreEOT bool
	Threads   int // CPU threads; 0 = all cores
	// PromptFrom names where the prompt came from in errors ("" is
	// --prompt), or the file of Prompts.
	PromptFrom string
	// Stop ends a sample before the first occurrence of any of these
	// strings in its new text (not the prompt), which is not printed.
	Stop []string
	// JSON writes one JSON object a sample (a Sample) instead of the text
	// as it is produced.
	JSON bool
	// Prompts, when not empty, replaces Prompt: each is sampled from in
	// turn, NumSamples times (generate --prompts).
	Prompts []Prompt
	// BatchSize is how many samples are drawn together, each token of a
	// step one row of the same matrix products (0 or 1: one at a time).
	BatchSize int
	// RepetitionPenalty > 1 makes the tokens a sample already holds (its
	// prompt's too) less likely, as Hugging Face's repetition_penalty: a
	// positive logit is divided by it, a negative one multiplied. 0 or 1:
	// off.
	RepetitionPenalty float64
	// Special reads the tokenizer's special tokens in the prompts
	// ("<|endoftext|>" of a byte-level BPE) as their ids, as Hugging
	// Face's tokenizers do, instead of as the characters they are.
	Special bool
	// Device is where the model runs: auto (a usable GPU, else the CPU),
	// cpu or cuda; "" = cpu. Log gets the device notice (nil: none).
	Device string
	Log    io.Writer
	// Context stops the sampling between two steps of the model when it is
	// done (nil: never): the samples started are written as they stand,
	// with finish_reason "interrupted", the others not at all.
	Context context.Context
}

// DefaultGenerate is what gptctl generate draws with when given no flags
// beyond the model and prompt; a pretraining's sample_tokens samples too.
var DefaultGenerate = GenerateOptions{MaxNewTokens: 200, Temperature: 0.8, TopP: 1, Seed: 1, NumSamples: 1, BatchSize: 8, RepetitionPenalty: 1}

// Sample is one sample as generate --json writes it, a line each.
type Sample struct {
	// Line and ID name the prompt's line in a prompts file and its "id".
	Line   int             `json:"line,omitempty"`
	ID     json.RawMessage `json:"id,omitempty"`
	Sample int             `json:"sample"` // 0, 1, ... in the order drawn from its prompt
	Prompt string          `json:"prompt"`
	// Text follows the prompt: what the text output prints after it (the
	// new tokens, cut before a stop string; bytes that are not UTF-8, a
	// character cut by --max-new-tokens, become U+FFFD).
	Text   string `json:"text"`
	Tokens int    `json:"tokens"` // new tokens drawn, a stop string's included, the end-of-text token not
	// FinishReason says why the sample ended: "length" (--max-new-tokens),
	// "eot" (the model's end-of-text token), "stop" (a --stop string,
	// named by Stop) or "interrupted" (a signal stopped generate).
	FinishReason string `json:"finish_reason"`
	Stop         string `json:"stop,omitempty"`
}

func (o GenerateOptions) promptFlag() string {
	if o.PromptFrom == "" {
		return "--prompt"
	}
	return o.PromptFrom
}

// sampleSeparator ends each sample but the last when there are several.
const sampleSeparator = "---------------"

// Validate checks the sampling options.
func (o GenerateOptions) Validate() error {
	switch {
	case o.MaxNewTokens < 0:
		return &ConfigError{fmt.Errorf("--max-new-tokens %d must not be negative", o.MaxNewTokens)}
	case !(o.Temperature >= 0) || math.IsInf(o.Temperature, 1): // NaN fails every comparison
		return &ConfigError{fmt.Errorf("--temperature %v must be a finite number, not negative", o.Temperature)}
	case o.TopK < 0:
		return &ConfigError{fmt.Errorf("--top-k %d must not be negative", o.TopK)}
	case !(o.TopP > 0 && o.TopP <= 1):
		return &ConfigError{fmt.Errorf("--top-p %v is not in (0, 1]", o.TopP)}
	case o.NumSamples < 0:
		return &ConfigError{fmt.Errorf("--num-samples %d must not be negative", o.NumSamples)}
	case o.Threads < 0 || o.Threads > MaxThreads:
		return &ConfigError{fmt.Errorf("--threads %d is not in [0, %d] (0: all cores)", o.Threads, MaxThreads)}
	case o.RepetitionPenalty < 0 || math.IsNaN(o.RepetitionPenalty) || math.IsInf(o.RepetitionPenalty, 0):
		return &ConfigError{fmt.Errorf("--repetition-penalty %v must be a finite number, not negative (1: off)", o.RepetitionPenalty)}
	case o.BatchSize < 0:
		return &ConfigError{fmt.Errorf("--batch-size %d must not be negative", o.BatchSize)}
	case o.Device != "" && o.Device != "auto" && o.Device != "cpu" && o.Device != "cuda":
		return &ConfigError{fmt.Errorf("--device %q is not auto, cpu or cuda", o.Device)}
	case slices.Contains(o.Stop, ""):
		return &ConfigError{fmt.Errorf("--stop \"\": a stop string must not be empty")}
	}
	return nil
}

// Generate writes the prompt and then each sampled piece of text to w as it
// is produced, on the device o names.
func Generate(modelDir string, o GenerateOptions, w io.Writer) (err error) {
	defer func() {
		if nf := (*NonFiniteError)(nil); errors.As(err, &nf) {
			err = &NonFiniteError{fmt.Errorf("model %s: %w", modelDir, nf.err)}
		}
	}()
	if err := o.Validate(); err != nil {
		return err
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	device, err := SetupDevice(Config{Device: cmp.Or(o.Device, "cpu"), Threads: o.Threads}, log)
	if err != nil {
		return err
	}
	p, tok, err := LoadModelForText(modelDir, "text cannot be generated")
	if err != nil {
		return err
	}
	if why := gpuSamplingLimit(p.Config); device == "cuda" && why != "" {
		if o.Device == "cuda" {
			return &ConfigError{fmt.Errorf("--device cuda: %s; use --device cpu", why)}
		}
		fmt.Fprintf(log, "note: sampling on the CPU: %s\n", why)
		device = "cpu"
	}
	if err := samplingFits(p.Config, o, device); err != nil {
		return err
	}
	if device == "cuda" {
		err = sampleWith(tok, o, w, func(slots int) (decoder, error) { return newGPUDecoder(p, slots) })
		fix := "use --device cpu"
		if o.BatchSize > 1 {
			fix = fmt.Sprintf("lower --batch-size (%d) or use --device cpu", o.BatchSize)
		}
		return deviceMemory(err, fix)
	}
	return generate(p, tok, o, w)
}

// samplingFits refuses, on the host, sampling o's sequences at once from a
// model of cfg that cannot fit in twice the memory and swap: each
// sequence's logits (and, on the CPU, its key/value cache and the weights),
// where it would die out of memory after a long climb.
func samplingFits(cfg graph.Config, o GenerateOptions, device string) error {
	seqs := min(max(o.BatchSize, 1), max(len(o.Prompts), 1)*max(o.NumSamples, 1))
	per := 4 * float64(cfg.VocabSize) // the logits of its last token
	need := float64(seqs) * per
	if device == "cpu" {
		per += 4 * 2 * float64(cfg.NLayer) * float64(cfg.NCtx) * float64(cfg.NEmbd) // its keys and values
		per += 4 * 14 * float64(cfg.NEmbd)                                          // a row of a step's scratch
		need = cfg.ParamBytes(4) + float64(seqs)*per
	}
	if err := cfg.FitsMemory(need, 2, fmt.Sprintf("sampling %d sequences at once (--batch-size %d)", seqs, o.BatchSize)); err != nil {
		return &ConfigError{fmt.Errorf("%w: lower --batch-size", err)}
	}
	return nil
}

// gpuSamplingLimit says why a GPU cannot sample from a model of cfg ("" when
// it can): its attention kernel holds a token's keys in shared memory.
func gpuSamplingLimit(cfg graph.Config) string {
	hs := cfg.NEmbd / cfg.NHead
	if most := graph.DeviceDecoderMaxCtx(hs); cfg.NCtx > most {
		return fmt.Sprintf("the model's n_ctx %d is over the %d tokens the GPU's sampling attention holds at head size %d", cfg.NCtx, most, hs)
	}
	return ""
}

// decoder is the model as sampling runs it: graph.Decoder on the CPU,
// graph.DeviceDecoder on a GPU (which is also an io.Closer).
type decoder interface {
	Context() int
	Slots() int
	Len(slot int) int
	Reset(slot int)
	Feed(slots []int, ids [][]int) ([]float32, error)
}

// generate samples from p on the CPU, the prompt and the text coded by tok.
func generate(p *graph.Params, tok data.Tokenizer, o GenerateOptions, w io.Writer) error {
	return sampleWith(tok, o, w, func(slots int) (decoder, error) { return graph.NewDecoderSlots(p, slots) })
}

// sampleWith samples through the decoder of the given number of slots
// that open returns.
func sampleWith(tok data.Tokenizer, o GenerateOptions, w io.Writer, open func(slots int) (decoder, error)) error {
	encode := tok.Encode
	if o.Special {
		sp, ok := tok.(interface{ EncodeWithSpecial(string) []int })
		if !ok {
			return &ConfigError{fmt.Errorf("--special: the model's tokenizer (%s) has no special tokens to read in text (byte-level BPEs have <|endoftext|>); leave --special out", tok.Name())}
		}
		encode = sp.EncodeWithSpecial
	}
	prompts := o.Prompts
	if len(prompts) == 0 {
		prompts = []Prompt{{Text: o.Prompt}}
	}
	for _, pr := range prompts { // every prompt is checked before the first sample
		if why := data.CharTextProblem(tok, pr.Text); why != "" {
			if pr.Line > 0 {
				return inputErrorf("%s:%d: %s", o.PromptFrom, pr.Line, why)
			}
			return inputErrorf("%s: %s", o.promptFlag(), why)
		}
	}
	ns := max(o.NumSamples, 1)
	total := len(prompts) * ns
	dec, err := open(min(max(o.BatchSize, 1), total))
	if err != nil {
		return err
	}
	if c, ok := dec.(io.Closer); ok {
		defer c.Close()
	}
	g := &generation{o: o, tok: tok, encode: encode, dec: dec, out: &stickyWriter{w: w}, jobs: map[int]*genJob{},
		next: make([]int, dec.Slots()), slots: make([]*genJob, dec.Slots())}
	g.probs.New = func() any { p := make([]float64, tok.VocabSize()); return &p }
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
// text and newline, or its JSON object, and the held output of the samples
// after it, up to the next unfinished one.
func (g *generation) finish(j *genJob, slot int) {
	j.sample.Text = string(j.text.text)
	if g.o.JSON {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(j.sample) // a Sample always encodes
		g.emit(j, b.String())
	} else {
		g.emit(j, j.text.flush()+"\n")
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

// promptTail is the spaces the prompt's ids decode to beyond those typed:
// GPT-1 ends every word with one ("there</w>" decodes as "there "), and
// the new tokens follow it. "" for an empty prompt.
func promptTail(prompt, decoded string) string {
	if prompt == "" {
		return ""
	}
	typed := len(prompt) - len(strings.TrimRight(prompt, " "))
	if got := decoded[len(strings.TrimRight(decoded, " ")):]; len(got) > typed {
		return got[typed:]
	}
	return ""
}

// startToken is where an empty prompt starts: the end-of-text token, else a
// newline, else a full stop (GPT-1's ".</w>": the end of a sentence, where
// its vocabulary has neither), else id 0.
func startToken(tok interface {
	EOT() int
	Encode(string) []int
}) int {
	if e := tok.EOT(); e >= 0 {
		return e
	}
	for _, s := range []string{"\n", "."} {
		if ids := tok.Encode(s); len(ids) == 1 {
			return ids[0]
		}
	}
	return 0
}
