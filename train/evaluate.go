package train

// gptctl eval for language models: the mean next-token loss over a whole
// text file, or over the token shards of a split, in consecutive (or
// overlapping) windows of the model's context.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"gptctl/data"
	"gptctl/graph"
)

// LMEval is the result of evaluating a language model on a file.
type LMEval struct {
	Loss       float64 `json:"loss"`
	Perplexity float64 `json:"perplexity"`
	Tokens     int     `json:"tokens"`
	Stride     int     `json:"stride"` // new tokens per window: each token after the first window sees at least n_ctx - stride before it
	File       string  `json:"file"`
	Split      string  `json:"split,omitempty"`  // shards: the split scored
	Shards     int     `json:"shards,omitempty"` // shards: how many (a window never spans two)
}

// MarshalJSON writes a perplexity that overflows, e^loss beyond a float64
// (a loss above about 709.8), as null: JSON has no infinity.
func (e LMEval) MarshalJSON() ([]byte, error) {
	type plain LMEval // its fields, without this method
	v := struct {
		Loss       float64  `json:"loss"`
		Perplexity *float64 `json:"perplexity"`
		plain
	}{Loss: e.Loss, plain: plain(e)}
	if !math.IsInf(e.Perplexity, 0) {
		v.Perplexity = &e.Perplexity
	}
	return json.Marshal(v)
}

// EvalLM computes the loss of the model in modelDir on every token of path
// (each predicted from up to n_ctx tokens before it, window by window): a
// text file, encoded as it is read, or a directory of token shards made by
// gptctl data prepare, whose o.Split shards ("val" unless set) are read
// through their memory maps, so a corpus of any size can be scored.
func EvalLM(modelDir, path string, o InferOptions) (_ *LMEval, err error) {
	defer func() { err = o.memory(err) }()
	device, err := o.setup()
	if err != nil {
		return nil, err
	}
	p, tok, err := LoadModelForText(modelDir, "text cannot be encoded for it")
	if err != nil {
		return nil, err
	}
	if n := p.Config.NCtx; o.Stride > n {
		return nil, &ConfigError{fmt.Errorf("--stride %d is more than the model's context (n_ctx %d): windows would skip tokens; use 1 to %d (0: %d)", o.Stride, n, n, n)}
	}
	res := &LMEval{File: path}
	srcs, closeSrcs, err := evalSources(res, path, o.Split, tok)
	if err != nil {
		return nil, err
	}
	defer closeSrcs()
	T, S, total, err := windowSizes(srcs, path, p.Config.NCtx, o.Stride)
	if err != nil {
		return nil, err
	}
	o.Batch = min(o.Batch, total) // a batch beyond the windows there are builds no larger graph
	if device == "cpu" {
		if err := fitsInference(p.Config, o.Batch, []int{T}, false, fmt.Sprintf("evaluation with --batch-size %d (windows of %d tokens)", o.Batch, T)); err != nil {
			return nil, &ConfigError{err}
		}
	}
	w, err := newLMWindows(p, T, S, device, o)
	if err != nil {
		return nil, err
	}
	defer w.run.close()
	w.total = total
	for _, src := range srcs {
		if err := w.score(src); err != nil {
			return nil, err
		}
	}
	res.Loss = w.nll / float64(w.count)
	res.Perplexity, res.Tokens, res.Stride = math.Exp(res.Loss), w.count, S
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) { // JSON cannot carry it; a perplexity that overflows is written as null
		return nil, &NonFiniteError{fmt.Errorf("model %s: the loss over %s is %v: the model's outputs are not finite", modelDir, path, res.Loss)}
	}
	return res, nil
}

// windowSizes is the length T of EvalLM's windows of srcs (up to n_ctx
// nCtx tokens, each predicting the next), their stride S (--stride, T
// where it is 0) and how many there are; a source with no window of two
// tokens is refused.
func windowSizes(srcs []windowReader, path string, nCtx, stride int) (T, S, total int, err error) {
	longest := 0
	for _, src := range srcs {
		longest = max(longest, src.Len())
	}
	if longest < 2 {
		if len(srcs) > 1 { // windows do not span shards
			return 0, 0, 0, inputErrorf("data %s: its shards hold at most %d token each, and a window does not span two; prepare it again with a larger --shard-tokens", path, longest)
		}
		unit := "tokens"
		if longest == 1 {
			unit = "token"
		}
		return 0, 0, 0, inputErrorf("data %s: %d %s; at least 2 are needed", path, longest, unit)
	}
	T = min(nCtx, longest-1)
	S = T
	if stride > 0 {
		S = min(stride, T)
	}
	for _, src := range srcs {
		total += windowCount(src.Len()-1, T, S)
	}
	return T, S, total, nil
}

// evalSources opens the token streams EvalLM scores at path: the split
// shards of a directory (recorded in res), or the ids of a text file. The
// caller calls closeSrcs when done with them.
func evalSources(res *LMEval, path, split string, tok data.Tokenizer) (srcs []windowReader, closeSrcs func(), err error) {
	if !isDir(path) {
		if split != "" {
			return nil, nil, inputErrorf("data %s: a split (%s) is chosen only in a directory of shards made by gptctl data prepare", path, split)
		}
		ids, err := encodeCorpus("data", path, tok) // as pretraining reads it
		if err != nil {
			return nil, nil, err
		}
		return []windowReader{memWindows{ids}}, func() {}, nil
	}
	set, err := openEvalShards(path, split, tok)
	if err != nil {
		return nil, nil, err
	}
	for _, sh := range set.Shards() {
		srcs = append(srcs, sh)
	}
	res.Split, res.Shards = cmp.Or(split, "val"), len(srcs)
	return srcs, func() { set.Close() }, nil
}

// newLMWindows builds the model's loss over batches of o.Batch windows of T
// tokens on device, and a scorer of windows that move on S tokens (S <= T).
func newLMWindows(p *graph.Params, T, S int, device string, o InferOptions) (*lmWindows, error) {
	m, err := graph.New(p, o.Batch, T, graph.NewRNG(0), inferenceOptions(device)...)
	if err != nil {
		return nil, err
	}
	loss, targets, err := m.LMLoss()
	if err != nil {
		return nil, err
	}
	run, err := newForwardRun(m, loss, device)
	if err != nil {
		return nil, err
	}
	return &lmWindows{run: run, in: graph.Int32Data(m.Idx), tg: graph.Int32Data(targets), batch: o.Batch, T: T, S: S,
		buf: make([]int32, T+1), o: o}, nil
}

// windowReader is a token stream scored window by window: a text's ids in
// memory, or one memory-mapped shard.
type windowReader interface {
	Len() int
	// Window copies the ids at [start, start+len(dst)) into dst.
	Window(dst []int32, start int) error
}

type memWindows struct{ memTokens }

func (t memWindows) Window(dst []int32, start int) error {
	t.memTokens.Window(dst, start)
	return nil
}

// lmWindows scores token streams in windows of T tokens that move on S at
// a time, batch windows per forward pass, and sums their losses.
type lmWindows struct {
	run         *forwardRun
	in, tg, buf []int32
	batch, T, S int
	nll         float64
	count       int
	done, total int // windows, for progress
	o           InferOptions
}

// windowCount is the windows of T tokens, each S on from the last, that
// score n positions.
func windowCount(n, T, S int) int {
	if n <= 0 {
		return 0
	}
	return 1 + (max(0, n-T)+S-1)/S
}

// score adds the loss of every token of src after its first. Window k
// covers positions k*S .. k*S+T-1 and scores those the window before it did
// not reach: all of the first, then the last S.
func (w *lmWindows) score(src windowReader) error {
	n := src.Len() - 1 // positions with a next token
	for start, scored := 0, 0; scored < n; {
		for b := 0; b < w.batch; b++ {
			ids := w.buf[:max(0, min(w.T+1, n+1-start))]
			if err := src.Window(ids, min(start, n)); err != nil {
				return err
			}
			for t := 0; t < w.T; t++ {
				i, pos := b*w.T+t, start+t
				switch {
				case pos >= n:
					w.in[i], w.tg[i] = 0, -1 // padding, not counted
				case pos < scored:
					w.in[i], w.tg[i] = ids[t], -1 // context only
				default:
					w.in[i], w.tg[i] = ids[t], ids[t+1]
				}
			}
			scored = max(scored, min(start+w.T, n))
			start += w.S
		}
		l, err := w.run.values()
		if err != nil {
			return err
		}
		rows, err := w.run.lossRows()
		if err != nil {
			return err
		}
		if rows > 0 {
			w.nll += float64(l[0]) * float64(rows)
			w.count += rows
		}
		w.done += w.batch
		w.o.progress(w.done, w.total)
	}
	return nil
}

// openEvalShards opens the prefix ("val" unless set) shards of a prepared
// directory, which the model's tokenizer must have made.
func openEvalShards(dir, prefix string, tok data.Tokenizer) (*data.ShardSet, error) {
	prefix = cmp.Or(prefix, "val")
	if prefix != "val" && prefix != "train" {
		return nil, inputErrorf("split %q: want val or train", prefix)
	}
	if err := data.CheckPrepared(dir); err != nil { // a prepare's stage, or one it left half moved
		return nil, err
	}
	if shards, _ := data.ShardFiles(dir, "train"); len(shards) == 0 {
		if vals, _ := data.ShardFiles(dir, "val"); len(vals) == 0 {
			if what := modelDir(dir); what != "" {
				return nil, inputErrorf("data %s is a model or run directory (it has %s), not text to score: --model names the model, --data the text", dir, what)
			}
			glob := filepath.Join(dir, "*.txt")
			return nil, inputErrorf("data %s is a directory without token shards: eval reads a text or .jsonl file, a glob of them (--data '%s'), or the shards gptctl data prepare writes (gptctl data prepare --tokenizer MODEL_DIR --data '%s' --out SHARDS_DIR, then --data SHARDS_DIR)",
				dir, glob, glob)
		}
	}
	if prefix == "val" && onlyTrainShards(dir) {
		return nil, inputErrorf("data %s: no validation shards (data prepare wrote none: --val-fraction 0, or too little text for the fraction); --split train scores its training shards", dir)
	}
	if err := checkSavedTokenizer("data", dir, tok); err != nil {
		return nil, err
	}
	var s split
	if err := s.openShards("data", dir, []string{prefix}, tok); err != nil {
		return nil, err
	}
	return s.sh, nil
}
