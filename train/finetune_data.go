package train

// The input transformations of GPT-1 (figure 1 of the paper): every example
// becomes one token sequence per row of its head,
//
//	classification   <s> text <e>
//	entailment       <s> premise $ hypothesis <e>
//	similarity       <s> a $ b <e>  and  <s> b $ a <e>
//	multiple choice  <s> context question $ option_i <e>, one per option
//
// Truncation policy: a sequence longer than max_len (specials included)
// loses tokens from the end of its longest segment, one at a time, until it
// fits; a tie goes to the later segment. A short hypothesis or option thus
// survives a long premise or story, and a single text keeps its start. The
// context and question of a multiple-choice row are one segment, and its
// cut falls on the longer of the two, so that a long story does not take
// the question after it.

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gptctl/data"
)

// taskExample is one example as token sequences and its target.
type taskExample struct {
	rows  [][]int32 // each <s> ... <e>
	label int32     // class or right option; -1 when unlabeled
	score float32   // regression target; NaN when unlabeled
	line  int       // where the row starts in its file
	width int       // the longest row
}

// taskCodec encodes examples for one model and task.
type taskCodec struct {
	info      *TaskInfo
	tok       data.Tokenizer
	truncated int // examples that lost tokens

	dropped
}

// dropped collects the characters a char-level tokenizer drops from
// examples (those outside its vocabulary) and counts the examples that
// lost any.
type dropped struct {
	unknown map[rune]bool
	lossy   int
	lost    bool // the example being encoded lost some
}

// see notes the characters of s that tok drops, for the example at hand.
func (d *dropped) see(tok data.Tokenizer, s string) {
	for _, r := range data.UnknownChars(tok, s) {
		if d.unknown == nil {
			d.unknown = map[rune]bool{}
		}
		d.unknown[r], d.lost = true, true
	}
}

// next ends an example: it counts if it lost characters.
func (d *dropped) next() {
	if d.lost {
		d.lossy++
	}
	d.lost = false
}

// unknownNote says what a char-level model could not read, for a log; ""
// when nothing was dropped.
func (d *dropped) unknownNote() string {
	if d.lossy == 0 {
		return ""
	}
	chars := make([]rune, 0, len(d.unknown))
	for r := range d.unknown {
		chars = append(chars, r)
	}
	slices.Sort(chars)
	have := "have"
	if d.lossy == 1 {
		have = "has"
	}
	return fmt.Sprintf("%s %s characters outside the model's vocabulary, which are dropped: %s", plural(d.lossy, "example"), have, data.QuoteChars(chars))
}

// plural is n and the noun, in the plural unless n is 1: "1 output", "3
// outputs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (c *taskCodec) encodeAll(exs []data.Example) []taskExample {
	out := make([]taskExample, len(exs))
	for i, ex := range exs {
		out[i] = c.encode(ex)
	}
	return out
}

func (c *taskCodec) encode(ex data.Example) taskExample {
	e := taskExample{label: -1, score: float32(math.NaN()), line: ex.Line}
	if ex.HasLabel {
		if c.info.Objective == "regress" {
			e.score = float32(ex.Score)
		} else {
			e.label = int32(ex.Label)
		}
	}
	rows, cut := c.segments(ex)
	for _, segs := range rows {
		row, t := c.sequence(segs)
		cut = cut || t
		e.rows = append(e.rows, row)
		e.width = max(e.width, len(row))
	}
	if cut {
		c.truncated++
	}
	c.next()
	return e
}

// segments returns the segments of each row of an example. A similarity
// pair is truncated here, once, so that both orders read the same text
// (cut says it was); sequence truncates the other rows.
func (c *taskCodec) segments(ex data.Example) (rows [][][]int32, cut bool) {
	f := ex.Fields
	switch c.info.Type {
	case TaskEntailment:
		return [][][]int32{{c.text(f["premise"]), c.text(f["hypothesis"])}}, false
	case TaskSimilarity:
		// The pair is cut in an order of its own, the greater text
		// (compared by ids) second, so that where the rule's tie-break
		// decides which loses a token, the same text does whichever
		// column holds it: a row and its swap read the same two texts.
		a, b := c.text(f["a"]), c.text(f["b"])
		swap := slices.Compare(a, b) > 0
		pair := [][]int32{a, b}
		if swap {
			pair = [][]int32{b, a}
		}
		cut = truncate(pair, c.info.MaxLen-len(pair)-1)
		if a, b = pair[0], pair[1]; swap {
			a, b = b, a
		}
		return [][][]int32{{a, b}, {b, a}}, cut
	case TaskMultipleChoice:
		// The context and the question are one segment of the row, whose
		// cut falls on the longer of them: a long story loses its end, not
		// the question after it.
		ctx := c.text(choiceContext(f))
		story := c.text(f["context"])
		question := ctx[len(story):]
		if len(story) == len(ctx) || !slices.Equal(ctx[:len(story)], story) {
			story, question = ctx, nil // no question, or not encoded apart
		}
		rows := make([][][]int32, len(ex.Options))
		for i, o := range ex.Options {
			// The row is cut as two segments, context and option, as
			// before; then what the context keeps is shared between the
			// story and the question, the longer giving way.
			segs := [][]int32{ctx, c.text(o)}
			cut = truncate(segs, c.info.MaxLen-3) || cut
			parts := [][]int32{story, question}
			truncate(parts, len(segs[0]))
			rows[i] = [][]int32{append(slices.Clone(parts[0]), parts[1]...), segs[1]}
		}
		return rows, cut
	}
	return [][][]int32{{c.text(f["text"])}}, false
}

// choiceContext is what a multiple-choice option follows: the context and
// the question, joined by a space.
func choiceContext(f map[string]string) string {
	return strings.TrimSpace(strings.TrimSpace(f["context"]) + " " + strings.TrimSpace(f["question"]))
}

func (c *taskCodec) text(s string) []int32 {
	s = strings.TrimSpace(s)
	c.see(c.tok, s)
	ids := c.tok.Encode(s)
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// sequence joins segments as <s> s0 $ s1 ... <e>, truncated to max_len;
// cut reports whether tokens were dropped.
func (c *taskCodec) sequence(segs [][]int32) (row []int32, cut bool) {
	sp := c.info.Special
	cut = truncate(segs, c.info.MaxLen-len(segs)-1)
	row = append(row, int32(sp.Start))
	for i, s := range segs {
		if i > 0 {
			row = append(row, int32(sp.Delim))
		}
		row = append(row, s...)
	}
	return append(row, int32(sp.Extract)), cut
}

// truncate shortens the segments (in place) to at most budget tokens in
// all, taking from the end of the longest first (the later one on a tie).
func truncate(segs [][]int32, budget int) bool {
	total := 0
	for _, s := range segs {
		total += len(s)
	}
	cut := total > budget
	for ; total > budget && total > 0; total-- {
		longest := 0
		for i, s := range segs {
			if len(s) >= len(segs[longest]) {
				longest = i
			}
		}
		segs[longest] = segs[longest][:len(segs[longest])-1]
	}
	return cut
}
