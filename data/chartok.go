package data

// Character- and byte-level tokenizers. The char tokenizer's vocabulary is
// the sorted set of characters of the corpus it was built from; the byte
// tokenizer maps each byte to itself.

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CharTokenizerFile is the file a char or byte tokenizer is saved in.
const CharTokenizerFile = "tokenizer.json"

// CharTokenizer maps each distinct character of its corpus to an id.
type CharTokenizer struct {
	chars []rune
	ids   map[rune]int
	ascii [utf8.RuneSelf]int32 // the ids of ASCII characters, -1 for those outside the vocabulary
}

// NewCharTokenizer builds the vocabulary of text: its distinct characters,
// sorted. Invalid UTF-8 bytes become U+FFFD.
func NewCharTokenizer(text string) *CharTokenizer {
	set := map[rune]bool{}
	for _, r := range text {
		set[r] = true
	}
	chars := make([]rune, 0, len(set))
	for r := range set {
		chars = append(chars, r)
	}
	slices.Sort(chars)
	return newCharTokenizer(chars)
}

// CharTokenizerOf builds the vocabulary of the documents of inputs (files
// or glob patterns, as data prepare reads them: a text file whole, a .jsonl
// file the text of each line), reading them as a stream: the vocabulary
// pretrain builds from the same text, so the same ids.
func CharTokenizerOf(inputs []string) (*CharTokenizer, error) {
	files, _, err := expandInputs(inputs)
	if err != nil {
		return nil, err
	}
	var set CharSet
	for _, path := range files {
		if err := charsOf(path, set.Add); err != nil {
			return nil, err
		}
	}
	return set.Tokenizer(), nil
}

// CharSet collects the distinct characters of texts streamed through Add,
// for a char vocabulary. The zero value is empty and ready to use.
type CharSet struct {
	ascii [utf8.RuneSelf]bool
	other map[rune]bool
}

// Add adds the characters of s (an invalid UTF-8 byte as U+FFFD).
func (c *CharSet) Add(s string) {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < utf8.RuneSelf {
			c.ascii[b] = true
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if c.other == nil {
			c.other = map[rune]bool{}
		}
		c.other[r] = true
		i += n - 1
	}
}

// Tokenizer is the char tokenizer of the characters added.
func (c *CharSet) Tokenizer() *CharTokenizer {
	var chars []rune
	for b, seen := range c.ascii {
		if seen {
			chars = append(chars, rune(b))
		}
	}
	chars = append(chars, slices.Collect(maps.Keys(c.other))...)
	slices.Sort(chars)
	return newCharTokenizer(chars)
}

// charsOf calls add with the text of the documents of one input file.
func charsOf(path string, add func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return &InputError{fmt.Errorf("input: %w", err)}
	}
	defer f.Close()
	jsonl, err := CorpusJSONL(f, path)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return &InputError{fmt.Errorf("input %s: tokenizer char reads the inputs twice, for their characters and then their ids, and this is not a file that can be read again (a pipe): give a file, or use tokenizer byte", path)}
	}
	if !jsonl {
		return ReadChunks(f, 1<<20, CharCuts, func(chunk string) error {
			if !utf8.ValidString(chunk) { // ReadChunks cuts between characters
				return &InputError{fmt.Errorf("%s is not valid UTF-8: a char vocabulary holds characters (use --tokenizer byte)", path)}
			}
			add(chunk)
			return nil
		})
	}
	return jsonlLines(f, path, func(s string, line int) error {
		text, err := JSONLText(s, path, line)
		add(text)
		return err
	})
}

func newCharTokenizer(chars []rune) *CharTokenizer {
	t := &CharTokenizer{chars: chars, ids: make(map[rune]int, len(chars))}
	for i := range t.ascii {
		t.ascii[i] = -1
	}
	for i, r := range chars {
		t.ids[r] = i
		if r < utf8.RuneSelf {
			t.ascii[r] = int32(i)
		}
	}
	return t
}

func (t *CharTokenizer) Name() string   { return "char" }
func (t *CharTokenizer) VocabSize() int { return len(t.chars) }
func (t *CharTokenizer) EOT() int       { return -1 }

// Encode returns the ids of text; characters outside the vocabulary are
// dropped (see Unknown to find them first).
func (t *CharTokenizer) Encode(text string) []int {
	ids := make([]int, 0, len(text))
	for i := 0; i < len(text); i++ {
		if b := text[i]; b < utf8.RuneSelf {
			if id := t.ascii[b]; id >= 0 {
				ids = append(ids, int(id))
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if id, ok := t.ids[r]; ok {
			ids = append(ids, id)
		}
		i += n - 1
	}
	return ids
}

// CharTextProblem says why tok, when it is a char tokenizer, cannot encode
// text exactly; "" when it can, and for other tokenizers, which encode any
// text. Read as UTF-8, a stray byte would be U+FFFD, silently one character
// for another where the vocabulary has it; an unknown character would be
// dropped.
func CharTextProblem(tok Tokenizer, text string) string {
	ct, ok := tok.(*CharTokenizer)
	switch {
	case !ok:
		return ""
	case !utf8.ValidString(text):
		return "the text is not valid UTF-8, as a char tokenizer reads it (tokenizer byte reads any bytes)"
	}
	if unk := ct.Unknown(text); len(unk) > 0 {
		return fmt.Sprintf("characters %s are not in the vocabulary (char, %d tokens)", RuneList(unk), ct.VocabSize())
	}
	return ""
}

// NoCharsKnown returns, for a char tokenizer, the TaskFormat.Unreadable
// that finds text none of whose characters but spaces is in its
// vocabulary, which it would encode as nothing or spaces; nil for other
// tokenizers, which encode any text.
func NoCharsKnown(tok Tokenizer) func(string) string {
	ct, ok := tok.(*CharTokenizer)
	if !ok {
		return nil
	}
	return func(text string) string {
		for _, r := range text {
			if _, known := ct.ids[r]; known && !unicode.IsSpace(r) {
				return ""
			}
		}
		text = strings.TrimSpace(text)
		return fmt.Sprintf("none of its characters %s is in the model's vocabulary (char, %d tokens)", RuneList(ct.Unknown(text)), ct.VocabSize())
	}
}

// UnknownChars returns the distinct characters of text that tok, when it is
// char-level, would drop; nil for other tokenizers, which encode any text.
func UnknownChars(tok Tokenizer, text string) []rune {
	if ct, ok := tok.(*CharTokenizer); ok {
		return ct.Unknown(text)
	}
	return nil
}

// RuneList writes characters for an error message: quoted (QuoteChars),
// the first 20 of them, and how many there are when there are more.
func RuneList(rs []rune) string {
	const most = 20
	if len(rs) <= most {
		return QuoteChars(rs)
	}
	return fmt.Sprintf("%s... (%d in all)", QuoteChars(rs[:most]), len(rs))
}

// QuoteChars writes characters as a quoted string for a message, each one
// that would not show on its own escaped: a combining mark (it would draw
// over the quote or the character before it), and what strconv.Quote
// escapes (a control, a zero-width or other invisible character).
func QuoteChars(chars []rune) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range chars {
		switch {
		case unicode.Is(unicode.M, r) && r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case unicode.Is(unicode.M, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			q := strconv.Quote(string(r))
			b.WriteString(q[1 : len(q)-1])
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Unknown returns the distinct characters of text outside the vocabulary.
func (t *CharTokenizer) Unknown(text string) []rune {
	var out []rune
	seen := map[rune]bool{}
	for i, r := range text {
		if r < utf8.RuneSelf && t.ascii[text[i]] >= 0 {
			continue
		}
		if _, ok := t.ids[r]; !ok && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func (t *CharTokenizer) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(t.chars) {
			b.WriteRune(t.chars[id])
		}
	}
	return b.String()
}

// ByteTokenizer maps each byte to its value: 256 ids.
type ByteTokenizer struct{}

func (ByteTokenizer) Name() string   { return "byte" }
func (ByteTokenizer) VocabSize() int { return 256 }
func (ByteTokenizer) EOT() int       { return -1 }

func (ByteTokenizer) Encode(text string) []int {
	ids := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int(text[i])
	}
	return ids
}

func (ByteTokenizer) Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

// charFile is the tokenizer.json gptctl wrote for char and byte tokenizers
// before it wrote Hugging Face's form.
type charFile struct {
	Type  string `json:"type"`
	Chars string `json:"chars,omitempty"`
}

// parseCharFile reads a char or byte tokenizer in gptctl's earlier form,
// held in b (read from path).
func parseCharFile(b []byte, path string) (Tokenizer, error) {
	var f charFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	switch f.Type {
	case "byte":
		return ByteTokenizer{}, nil
	case "char":
		if f.Chars == "" || !utf8.ValidString(f.Chars) {
			return nil, fmt.Errorf("tokenizer %s: chars is empty or not UTF-8", path)
		}
		chars := []rune(f.Chars)
		if !slices.IsSorted(chars) || len(slices.Compact(slices.Clone(chars))) != len(chars) {
			return nil, fmt.Errorf("tokenizer %s: chars must be sorted and distinct", path)
		}
		return newCharTokenizer(chars), nil
	}
	return nil, fmt.Errorf("tokenizer %s: type %q is not char or byte", path, f.Type)
}
