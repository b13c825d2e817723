package train

// gptctl generate: sampling with temperature, top-k and top-p (nucleus).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"

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
}

// Prompt is one line of a prompts file.
type Prompt struct {
	Line int             // 1-based
	ID   json.RawMessage // the line's "id", if any, given back in its samples
	Text string
}

// ReadPrompts reads a prompts file (name for errors): JSON lines, each an
// object with a string "prompt" (and any other keys, an "id" given back
// with the samples) or a JSON string; blank lines are skipped.
func ReadPrompts(b []byte, name string) ([]Prompt, error) {
	var ps []Prompt
	for i, line := range bytes.Split(data.TrimBOM(b), []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		p := Prompt{Line: i + 1}
		var obj struct {
			Prompt *string         `json:"prompt"`
			ID     json.RawMessage `json:"id"`
		}
		switch {
		case line[0] == '"':
			if err := json.Unmarshal(line, &p.Text); err != nil {
				return nil, inputErrorf("%s:%d: %v", name, p.Line, err)
			}
		case line[0] == '{':
			if err := json.Unmarshal(line, &obj); err != nil {
				return nil, inputErrorf("%s:%d: %v", name, p.Line, err)
			}
			if obj.Prompt == nil {
				return nil, inputErrorf("%s:%d: the object has no \"prompt\" string", name, p.Line)
			}
			p.Text, p.ID = *obj.Prompt, obj.ID
		default:
			return nil, inputErrorf("%s:%d: a line is a JSON object {\"prompt\": \"...\"} or a JSON string, not %.40q", name, p.Line, line)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, inputErrorf("%s: no prompts (JSON lines {\"prompt\": \"...\"})", name)
	}
	return ps, nil
}

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
	Tokens int    `json:"tokens"` // new tokens drawn, the end-of-text token not counted
	// FinishReason says why the sample ended: "length" (--max-new-tokens),
	// "eot" (the model's end-of-text token) or "stop" (a --stop string,
	// named by Stop).
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
	case o.BatchSize < 0:
		return &ConfigError{fmt.Errorf("--batch-size %d must not be negative", o.BatchSize)}
	case slices.Contains(o.Stop, ""):
		return &ConfigError{fmt.Errorf("--stop \"\": a stop string must not be empty")}
	}
	return nil
}

// Generate writes the prompt and then each sampled piece of text to w as it
// is produced.
func Generate(modelDir string, o GenerateOptions, w io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Threads > 0 {
		runtime.GOMAXPROCS(o.Threads)
	}
	p, tok, err := LoadModelForText(modelDir, "text cannot be generated")
	if err != nil {
		return err
	}
	return generate(p, tok, o, w)
}

// generate samples from p, the prompt and the text coded by tok.
func generate(p *graph.Params, tok data.Tokenizer, o GenerateOptions, w io.Writer) error {
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
	dec, err := graph.NewDecoderSlots(p, min(max(o.BatchSize, 1), total))
	if err != nil {
		return err
	}
	g := &generation{o: o, tok: tok, dec: dec, out: &stickyWriter{w: w}, jobs: map[int]*genJob{},
		probs: make([]float64, tok.VocabSize()), slots: make([]*genJob, dec.Slots())}
	next := 0 // the next sample to start: prompt next/ns, its sample next%ns
	for {
		for slot := range g.slots { // free slots take the next samples
			for g.slots[slot] == nil && next < total { // (a sample of no tokens ends as it starts)
				g.start(next, slot, prompts[next/ns], next%ns)
				next++
			}
		}
		if !slices.ContainsFunc(g.slots, func(j *genJob) bool { return j != nil }) {
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
	o     GenerateOptions
	tok   data.Tokenizer
	dec   *graph.Decoder
	out   *stickyWriter
	probs []float64
	slots []*genJob       // the sample each decoder slot runs, nil when free
	jobs  map[int]*genJob // started samples whose output is not all written, by index
	head  int             // the sample whose output is written as it comes
}

// genJob is one sample being drawn.
type genJob struct {
	index  int
	ids    []int // the prompt's tokens, then the new ones
	fed    bool  // whether the decoder has the prompt
	rng    *rand.Rand
	sample Sample
	tail   string // the spaces the prompt decodes to beyond those typed
	text   stopScanner
	held   bytes.Buffer // output waiting for its turn
	done   bool
}

// start begins sample index, sample i of prompt pr, in slot.
func (g *generation) start(index, slot int, pr Prompt, i int) {
	ids := g.tok.Encode(pr.Text)
	if len(ids) == 0 {
		ids = []int{startToken(g.tok)}
	}
	j := &genJob{index: index, ids: ids, rng: rand.New(rand.NewPCG(g.o.Seed, 0x6e6+uint64(index))),
		sample: Sample{Line: pr.Line, ID: pr.ID, Sample: i, Prompt: pr.Text, FinishReason: "length"},
		tail:   promptTail(pr.Text, g.tok.Decode(ids)), text: stopScanner{stops: g.o.Stop}}
	g.jobs[index] = j
	g.slots[slot] = j
	if !g.o.JSON {
		if index > 0 {
			g.emit(j, sampleSeparator+"\n")
		}
		g.emit(j, pr.Text+j.tail)
	}
	if g.o.MaxNewTokens == 0 {
		g.finish(j, slot)
	}
}

// step feeds each running sample its new tokens (the prompt first; once
// the text fills the context, the window that ends with the last token)
// and draws its next token. Prompts that would make the step's matrices
// longer than a context and a token a sample wait for a later step.
func (g *generation) step() error {
	T := g.dec.Context()
	budget := T + len(g.slots)
	var slots, rows []int
	var feed [][]int
	used := 0
	for slot, j := range g.slots {
		if j == nil {
			continue
		}
		window := j.ids[len(j.ids)-1:]
		if !j.fed || g.dec.Len(slot) == T {
			window = j.ids[max(0, len(j.ids)-T):]
		}
		if used > 0 && used+len(window) > budget {
			continue
		}
		if len(window) > 1 || !j.fed {
			g.dec.Reset(slot)
			j.fed = true
		}
		used += len(window)
		slots, rows, feed = append(slots, slot), append(rows, len(rows)), append(feed, window)
	}
	logits, err := g.dec.Feed(slots, feed)
	if err != nil {
		return err
	}
	V, eot := len(g.probs), g.tok.EOT()
	Vm := len(logits) / len(slots)
	for r, slot := range slots {
		j := g.slots[slot]
		next := sample(logits[r*Vm:r*Vm+V], g.probs, g.o, j.rng)
		if next == eot && !g.o.IgnoreEOT {
			j.sample.FinishReason = "eot"
			g.finish(j, slot)
			continue
		}
		j.ids = append(j.ids, next)
		j.sample.Tokens++
		ready, stop := j.text.add(g.tok.Decode([]int{next}))
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
	if g.out.err != nil {
		return fmt.Errorf("writing the sample: %w", g.out.err)
	}
	return nil
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
	j.sample.Text = j.tail + string(j.text.text)
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

// stopScanner collects a sample's new text and finds the first stop string
// in it as tokens arrive. Text that may be the start of a stop string is
// held back until the next tokens show whether it is.
type stopScanner struct {
	stops   []string
	text    []byte // the new text so far, cut before a stop string once found
	emitted int    // bytes of text handed out to print
}

// add appends a token's text. It returns the text now safe to print and,
// if the text reached a stop string, that string (the text then ends
// before its first occurrence; the earliest of several, the first given
// where two start at the same byte).
func (s *stopScanner) add(piece string) (ready, stop string) {
	longest := 0
	for _, st := range s.stops {
		longest = max(longest, len(st))
	}
	// The text before piece holds no stop string, so one found now ends
	// in piece and starts at most longest-1 bytes before it.
	from := max(s.emitted, len(s.text)-longest+1)
	s.text = append(s.text, piece...)
	cut := -1
	for _, st := range s.stops {
		if i := bytes.Index(s.text[from:], []byte(st)); i >= 0 && (cut < 0 || from+i < cut) {
			cut, stop = from+i, st
		}
	}
	if cut >= 0 {
		s.text = s.text[:cut]
		return s.flush(), stop
	}
	hold := 0 // the longest end of the text that begins a stop string
	for _, st := range s.stops {
		for k := min(len(st)-1, len(s.text)-s.emitted); k > hold; k-- {
			if bytes.HasSuffix(s.text, []byte(st[:k])) {
				hold = k
				break
			}
		}
	}
	end := len(s.text) - hold
	ready = string(s.text[s.emitted:end])
	s.emitted = end
	return ready, ""
}

// flush returns the text held back: at the end of a sample, all of it.
func (s *stopScanner) flush() string {
	ready := string(s.text[s.emitted:])
	s.emitted = len(s.text)
	return ready
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

// sample draws an id from logits under temperature, top-k and top-p, in
// that order, as Hugging Face's generate applies them: top-k keeps the k
// most probable ids and any tied with the k-th; top-p keeps the fewest most
// probable of those whose share of their mass reaches it. The candidates
// are all ids in order when neither limits them; otherwise the most
// probable ones, most probable first, found by a heap (a full sort of
// GPT-2's 50,257 ids took 20 ms a token).
func sample(logits []float32, probs []float64, o GenerateOptions, rng *rand.Rand) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if o.Temperature == 0 {
		return best
	}
	mx := float64(logits[best])
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp((float64(v) - mx) / o.Temperature)
		sum += probs[i]
	}
	V := len(logits)
	if (o.TopK <= 0 || o.TopK >= V) && o.TopP >= 1 {
		u := rng.Float64() * sum // may be 0: an id of probability 0 is never drawn
		for id, p := range probs {
			if u -= p; u <= 0 && p > 0 {
				return id
			}
		}
		return best
	}
	var cand []int
	switch {
	case o.TopK > 0 && o.TopK < V: // the k most probable, then the nucleus of those, renormalised
		cand = topIDs(probs, o.TopK)
		// Ids tied with the k-th stay, as Hugging Face's top-k keeps every
		// id at least as probable as the k-th: those of them left out come
		// after the last one in (the lower id first among equals).
		last := cand[len(cand)-1]
		for id := last + 1; id < V; id++ {
			if probs[id] == probs[last] {
				cand = append(cand, id)
			}
		}
		var mass float64
		for _, id := range cand {
			mass += probs[id]
		}
		cand = cand[:nucleus(cand, probs, mass, o.TopP)]
	case o.TopP < 1: // the nucleus: the fewest top ids whose mass reaches top_p
		cand = nucleusIDs(probs, sum, o.TopP)
	}
	var total float64
	for _, id := range cand {
		total += probs[id]
	}
	if len(cand) == 0 { // no probability to go by: logits that are not finite (a diverged model)
		return best
	}
	u := rng.Float64() * total
	for _, id := range cand {
		if u -= probs[id]; u <= 0 && probs[id] > 0 {
			return id
		}
	}
	return cand[len(cand)-1]
}

// nucleus returns how many of cand (ids, most probable first) it takes for
// their share of mass to reach topP: all of them when topP >= 1 or their
// whole share falls short.
func nucleus(cand []int, probs []float64, mass, topP float64) int {
	if topP >= 1 {
		return len(cand)
	}
	var c float64
	for keep, id := range cand {
		if c += probs[id] / mass; c >= topP {
			return keep + 1
		}
	}
	return len(cand)
}

// nucleusIDs returns, in id order, the nucleus of probs (whose total is
// sum): the fewest most probable ids whose mass reaches topP of sum, the
// lower id first among equal probabilities; every id of positive
// probability if rounding leaves the mass short. It selects the threshold
// probability by partitioning, in expected linear time, rather than
// sorting: a flat distribution's nucleus is most of the vocabulary.
func nucleusIDs(probs []float64, sum, topP float64) []int {
	target := topP * sum
	vals := slices.Clone(probs)
	thr, ties := 0.0, len(probs) // the threshold, and how many ids equal to it are in
	above := 0.0                 // the mass of the ids above every value in vals
	for len(vals) > 0 {
		pivot := vals[len(vals)/2]
		// vals[:lt] > pivot, vals[lt:gt] == pivot, vals[gt:] < pivot
		lt, i, gt := 0, 0, len(vals)
		for i < gt {
			switch v := vals[i]; {
			case v > pivot:
				vals[lt], vals[i] = v, vals[lt]
				lt, i = lt+1, i+1
			case v < pivot:
				gt--
				vals[gt], vals[i] = v, vals[gt]
			default:
				i++
			}
		}
		var hi float64
		for _, v := range vals[:lt] {
			hi += v
		}
		switch eq := pivot * float64(gt-lt); {
		case above+hi >= target:
			vals = vals[:lt]
			continue
		case above+hi+eq >= target && pivot > 0:
			thr = pivot
			ties = min(gt-lt, max(1, int(math.Ceil((target-above-hi)/pivot))))
		default:
			above += hi + eq
			vals = vals[gt:]
			continue
		}
		break
	}
	var cand []int
	for id, p := range probs {
		switch {
		case p > thr:
			cand = append(cand, id)
		case p == thr && p > 0 && ties > 0:
			cand = append(cand, id)
			ties--
		}
	}
	return cand
}

// topIDs returns the ids of the k largest probs, the largest first (equal
// probabilities: the lower id first), through a min-heap of k ids.
func topIDs(probs []float64, k int) []int {
	below := func(a, b int) bool { // a ranks below b
		if probs[a] != probs[b] {
			return probs[a] < probs[b]
		}
		return a > b
	}
	h := make([]int, 0, k)
	down := func(i int) {
		for {
			m, l, r := i, 2*i+1, 2*i+2
			if l < len(h) && below(h[l], h[m]) {
				m = l
			}
			if r < len(h) && below(h[r], h[m]) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for id := range probs {
		switch {
		case len(h) < k:
			h = append(h, id)
			for i := len(h) - 1; i > 0 && below(h[i], h[(i-1)/2]); i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case below(h[0], id):
			h[0] = id
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if below(b, a) {
			return -1
		}
		return 1
	})
	return h
}
