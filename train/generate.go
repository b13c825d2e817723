package train

// gptctl generate: its options, the model and device it samples on, and
// the prompts it samples from, several at a time (generate_loop.go).

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

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
	// Text follows the prompt: what the text output prints after it, byte
	// for byte (the new tokens, cut before a stop string). It is UTF-8:
	// bytes that are not, a character cut at the sample's end among them,
	// become U+FFFD, one for each maximal subpart, as Hugging Face's decode
	// makes them (errors="replace").
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
	case len(o.Prompts) > 1 && o.NumSamples > math.MaxInt/len(o.Prompts): // the count of samples would overflow
		return &ConfigError{fmt.Errorf("--num-samples %d times the %d prompts of %s is over %d samples: lower --num-samples", o.NumSamples, len(o.Prompts), o.PromptFrom, math.MaxInt)}
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
	for _, st := range o.Stop {
		if !utf8.ValidString(st) {
			return &ConfigError{fmt.Errorf("--stop %q is not UTF-8, as a sample's text is (other bytes become U+FFFD): it would never match", st)}
		}
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
	encode, err := promptEncoder(tok, o.Special)
	if err != nil {
		return err
	}
	prompts, err := checkPrompts(tok, o)
	if err != nil {
		return err
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
	return g.run(prompts, ns)
}

// promptEncoder is how the prompts are encoded: by tok, reading its
// special tokens in the text with --special, which a tokenizer without
// them refuses.
func promptEncoder(tok data.Tokenizer, special bool) (func(string) []int, error) {
	if !special {
		return tok.Encode, nil
	}
	sp, ok := tok.(interface{ EncodeWithSpecial(string) []int })
	if !ok {
		return nil, &ConfigError{fmt.Errorf("--special: the model's tokenizer (%s) has no special tokens to read in text (byte-level BPEs have <|endoftext|>); leave --special out", tok.Name())}
	}
	return sp.EncodeWithSpecial, nil
}

// checkPrompts returns the prompts to sample, --prompt's when no list was
// given, each checked against the tokenizer before the first sample.
func checkPrompts(tok data.Tokenizer, o GenerateOptions) ([]Prompt, error) {
	prompts := o.Prompts
	if len(prompts) == 0 {
		prompts = []Prompt{{Text: o.Prompt}}
	}
	for _, pr := range prompts {
		if why := data.CharTextProblem(tok, pr.Text); why != "" {
			if pr.Line > 0 {
				return nil, inputErrorf("%s:%d: %s", o.PromptFrom, pr.Line, why)
			}
			return nil, inputErrorf("%s: %s", o.promptFlag(), why)
		}
	}
	return prompts, nil
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
