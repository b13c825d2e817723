package data

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// EndOfText is the literal of GPT-2's document separator token.
const EndOfText = "<|endoftext|>"

// BPE is a byte-level byte-pair-encoding tokenizer in the format of OpenAI
// GPT-2 (encoder.json + vocab.bpe). It reproduces GPT-2 and tiktoken's "gpt2"
// encoding exactly. Any byte string round-trips: Decode(Encode(s)) == s.
//
// A BPE is safe for concurrent use.
type BPE struct {
	tokens   []string         // id -> the token's raw bytes
	index    map[string]int32 // raw bytes -> id, ordinary tokens only
	byteID   [256]int32       // the id of every single byte
	merges   mergeTable
	ranked   [][2]int32 // the merges in rank order, for Save
	specials map[string]int
	eot      int
	cache    *pieceCache
}

// newBPE builds a BPE from its tokens (id -> raw bytes), its merges in rank
// order and its special tokens (literal -> id), which must be among tokens.
func newBPE(tokens []string, ranked [][2]int32, specials map[string]int) (*BPE, error) {
	t := &BPE{
		tokens:   tokens,
		index:    make(map[string]int32, len(tokens)),
		merges:   make(mergeTable, len(ranked)),
		ranked:   ranked,
		specials: specials,
		eot:      -1,
		cache:    newPieceCache(),
	}
	for i := range t.byteID {
		t.byteID[i] = -1
	}
	isSpecial := make(map[int]bool, len(specials))
	for lit, id := range specials {
		if id < 0 || id >= len(tokens) || tokens[id] != lit {
			return nil, fmt.Errorf("special token %q: id %d does not hold it", lit, id)
		}
		isSpecial[id] = true
	}
	for id, tok := range tokens {
		switch {
		case isSpecial[id]:
		case len(tok) == 1:
			t.byteID[tok[0]] = int32(id)
			t.index[tok] = int32(id)
		default:
			t.index[tok] = int32(id)
		}
	}
	for b, id := range t.byteID {
		if id < 0 {
			return nil, fmt.Errorf("no token for byte 0x%02x (a byte-level vocabulary needs all 256)", b)
		}
	}
	for rank, m := range ranked {
		merged := tokens[m[0]] + tokens[m[1]]
		id, ok := t.index[merged]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q + %q): the merged token is not in the vocabulary", rank+1, tokens[m[0]], tokens[m[1]])
		}
		if _, dup := t.merges[pairKey(m[0], m[1])]; !dup {
			t.merges[pairKey(m[0], m[1])] = mergeRule{rank: int32(rank), id: id}
		}
	}
	if id, ok := specials[EndOfText]; ok {
		t.eot = id
	}
	return t, nil
}

// Name implements Tokenizer.
func (t *BPE) Name() string { return "gpt2-bpe" }

// VocabSize implements Tokenizer.
func (t *BPE) VocabSize() int { return len(t.tokens) }

// EOT returns the id of <|endoftext|>, or -1 when the vocabulary has none.
func (t *BPE) EOT() int { return t.eot }

// Encode returns the ids of text. Special tokens are not recognised: the
// literal "<|endoftext|>" in text is encoded as ordinary text, as tiktoken's
// encode_ordinary does. Use EncodeWithSpecial to map it to EOT.
func (t *BPE) Encode(text string) []int {
	return t.AppendEncode(make([]int, 0, len(text)/3+1), text)
}

// AppendEncode appends the ids of text to dst, as Encode, and returns it.
func (t *BPE) AppendEncode(dst []int, text string) []int {
	var sym []int32
	for i := 0; i < len(text); {
		j := nextPiece(text, i)
		dst, sym = t.appendPiece(dst, text[i:j], sym)
		i = j
	}
	return dst
}

// EncodeWithSpecial is Encode but maps every literal special token in text
// (for GPT-2 only "<|endoftext|>") to its id.
func (t *BPE) EncodeWithSpecial(text string) []int {
	dst := make([]int, 0, len(text)/3+1)
	// next holds where each special token occurs first at or after the
	// position it was looked for from (-1: nowhere), so that the text is
	// searched again for a token only once the one found was passed: a
	// token that never occurs is not looked for after every other.
	next := make(map[string]int, len(t.specials))
	for pos := 0; ; {
		at, lit := -1, "" // the first special token from pos, the longest on a tie
		for s := range t.specials {
			k, seen := next[s]
			if !seen || k >= 0 && k < pos {
				if k = strings.Index(text[pos:], s); k >= 0 {
					k += pos
				}
				next[s] = k
			}
			if k >= 0 && (at < 0 || k < at || k == at && len(s) > len(lit)) {
				at, lit = k, s
			}
		}
		if at < 0 {
			return t.AppendEncode(dst, text[pos:])
		}
		dst = append(t.AppendEncode(dst, text[pos:at]), t.specials[lit])
		pos = at + len(lit)
	}
}

// appendPiece appends the ids of one pre-tokenisation piece. sym is scratch
// space, returned for reuse.
func (t *BPE) appendPiece(dst []int, piece string, sym []int32) ([]int, []int32) {
	if id, ok := t.index[piece]; ok {
		return append(dst, int(id)), sym // a whole piece that is a token, as tiktoken
	}
	cacheable := len(piece) <= cacheMaxPiece
	if cacheable {
		if ids, ok := t.cache.get(piece); ok {
			for _, id := range ids {
				dst = append(dst, int(id))
			}
			return dst, sym
		}
	}
	sym = sym[:0]
	for k := 0; k < len(piece); k++ {
		sym = append(sym, t.byteID[piece[k]])
	}
	merged := t.merges.apply(sym)
	for _, id := range merged {
		dst = append(dst, int(id))
	}
	if cacheable {
		t.cache.put(piece, append([]int32(nil), merged...))
	}
	return dst, sym
}

// Decode returns the bytes of ids concatenated, which need not be valid
// UTF-8 when ids is a slice of a longer sequence. An id outside the
// vocabulary decodes to U+FFFD.
func (t *BPE) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteString(t.tokens[id])
	}
	return b.String()
}

// TokenBytes returns the raw bytes of token id, or "" when id is out of range.
func (t *BPE) TokenBytes(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// NumMerges returns the number of merge rules.
func (t *BPE) NumMerges() int { return len(t.ranked) }
