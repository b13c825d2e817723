package data

import (
	"container/heap"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// TrainBPE learns a byte-level BPE vocabulary of vocabSize tokens from the
// text of files, in GPT-2's format: ids 0-255 are the bytes 0x00-0xff, then
// one token per merge, then <|endoftext|> as the last id.
//
// The text is split into pieces with GPT-2's pre-tokenisation and the pieces
// are counted; then, vocabSize-257 times, the most frequent adjacent pair of
// tokens (counted over all pieces) becomes a new token. A tie goes to the
// pair whose left id is lowest, then whose right id is lowest, so the result
// depends only on the text. Training stops early when no pair occurs twice.
// Pair counts are updated incrementally, touching only the pieces that hold
// the merged pair. Progress lines go to progress when it is not nil.
func TrainBPE(files []string, vocabSize int, progress io.Writer) (*BPE, error) {
	if vocabSize < 257 {
		return nil, fmt.Errorf("train bpe: vocab size %d is too small: a byte-level BPE needs 256 byte tokens and <|endoftext|>, so at least 257", vocabSize)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("train bpe: no training files")
	}
	start := time.Now()
	counts := map[string]int64{}
	var bytes int64
	for _, path := range files {
		n, err := countPieces(path, counts)
		if err != nil {
			return nil, fmt.Errorf("train bpe: %w", err)
		}
		bytes += n
	}
	if len(counts) == 0 {
		return nil, &InputError{fmt.Errorf("train bpe: %s: no text to learn merges from", strings.Join(files, ", "))}
	}
	logf(progress, "bpe: %d bytes, %d distinct pieces in %.1fs\n", bytes, len(counts), time.Since(start).Seconds())
	tr := newBPETrainer(counts)
	tr.run(vocabSize-1, progress)
	tokens := append(tr.tokens, EndOfText)
	tok, err := newBPE(tokens, tr.ranked, map[string]int{EndOfText: len(tokens) - 1})
	if err != nil {
		return nil, fmt.Errorf("train bpe: %w", err)
	}
	logf(progress, "bpe: %d merges, vocab %d, %.1fs\n", len(tr.ranked), tok.VocabSize(), time.Since(start).Seconds())
	if tok.VocabSize() < vocabSize {
		logf(progress, "bpe: warning: no pair of tokens occurs twice in the text any more (one that occurs once is not merged): vocab %d, not the %d asked for\n", tok.VocabSize(), vocabSize)
	}
	return tok, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// countPieces adds the GPT-2 pre-tokenisation pieces of a file to counts:
// of its text, read in chunks, or of the documents of JSON lines, as
// Prepare reads them.
func countPieces(path string, counts map[string]int64) (int64, error) {
	var n int64
	err := ReadCorpusFile(path, WhitespaceCuts, func(text string, _ bool) error { // words are GPT-2 pre-tokenizer pieces
		n += int64(len(text))
		splitGPT2(text, func(p string) {
			if c, ok := counts[p]; ok {
				counts[p] = c + 1
			} else {
				counts[strings.Clone(p)] = 1
			}
		})
		return nil
	})
	return n, err
}

// bpeTrainer holds the state of BPE training.
type bpeTrainer struct {
	words  [][]int32 // each distinct piece as token ids
	freq   []int64   // how often each piece occurs
	pairs  map[uint64]int64
	where  map[uint64][]int32 // pair -> pieces that may hold it
	heap   pairCountHeap
	tokens []string // id -> raw bytes
	ids    map[string]int32
	ranked [][2]int32
}

func newBPETrainer(counts map[string]int64) *bpeTrainer {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a fixed order makes training deterministic
	tr := &bpeTrainer{
		pairs: map[uint64]int64{},
		where: map[uint64][]int32{},
		ids:   map[string]int32{},
	}
	for b := 0; b < 256; b++ {
		tr.tokens = append(tr.tokens, string([]byte{byte(b)}))
		tr.ids[tr.tokens[b]] = int32(b)
	}
	for w, k := range keys {
		sym := make([]int32, len(k))
		for i := range len(k) { // every byte: ranging over k would visit rune starts only
			sym[i] = int32(k[i])
		}
		tr.words = append(tr.words, sym)
		tr.freq = append(tr.freq, counts[k])
		for i := 0; i+1 < len(sym); i++ {
			key := pairKey(sym[i], sym[i+1])
			tr.pairs[key] += counts[k]
			if l := tr.where[key]; len(l) == 0 || l[len(l)-1] != int32(w) {
				tr.where[key] = append(l, int32(w))
			}
		}
	}
	for key, c := range tr.pairs {
		tr.heap = append(tr.heap, pairCount{c, key})
	}
	heap.Init(&tr.heap)
	return tr
}

// run merges until the vocabulary (without special tokens) has size tokens.
func (tr *bpeTrainer) run(size int, progress io.Writer) {
	seen := make([]int32, len(tr.words)) // last merge that visited each piece
	delta := map[uint64]int64{}
	every := max((size-256)/10, 1)
	for len(tr.tokens) < size && tr.heap.Len() > 0 {
		top := heap.Pop(&tr.heap).(pairCount)
		if c := tr.pairs[top.key]; c != top.count {
			if c > 0 {
				heap.Push(&tr.heap, pairCount{c, top.key}) // stale: count fell
			}
			continue
		}
		if top.count < 2 {
			break
		}
		a, b := int32(top.key>>32), int32(uint32(top.key))
		id := tr.newToken(a, b)
		step := int32(len(tr.ranked))
		for _, w := range tr.where[top.key] {
			if seen[w] != step+1 {
				seen[w] = step + 1
				tr.mergeWord(w, a, b, id, delta)
			}
		}
		delete(tr.where, top.key)
		for key, d := range delta {
			c := tr.pairs[key] + d
			if c <= 0 {
				delete(tr.pairs, key)
			} else {
				tr.pairs[key] = c
				if d > 0 {
					heap.Push(&tr.heap, pairCount{c, key})
				}
			}
		}
		clear(delta)
		if len(tr.ranked)%every == 0 {
			logf(progress, "bpe: merge %d/%d: %q + %q (count %d)\n", len(tr.ranked), size-256, tr.tokens[a], tr.tokens[b], top.count)
		}
	}
}

// newToken records the merge (a, b) and returns the id of the merged token,
// which is new unless another merge made the same bytes before.
func (tr *bpeTrainer) newToken(a, b int32) int32 {
	tr.ranked = append(tr.ranked, [2]int32{a, b})
	s := tr.tokens[a] + tr.tokens[b]
	if id, ok := tr.ids[s]; ok {
		return id
	}
	id := int32(len(tr.tokens))
	tr.tokens = append(tr.tokens, s)
	tr.ids[s] = id
	return id
}

// mergeWord replaces every (a, b) in piece w by id, left to right, and adds
// the change in pair counts to delta: only the pairs at the merges change
// (a piece of millions of bytes with no whitespace, as minified code or
// DNA gives, takes a pass of comparisons a merge, not a map update for
// each of its pairs).
func (tr *bpeTrainer) mergeWord(w, a, b, id int32, delta map[uint64]int64) {
	sym, f := tr.words[w], tr.freq[w]
	if !slices.ContainsFunc(sym[:max(len(sym)-1, 0)], func(s int32) bool { return s == a }) {
		return
	}
	added := func(l, r int32) {
		key := pairKey(l, r)
		delta[key] += f
		if ws := tr.where[key]; len(ws) == 0 || ws[len(ws)-1] != w {
			tr.where[key] = append(ws, w)
		}
	}
	// out overwrites sym from the front, never past i-1 while sym[i-1:]
	// is read. Each old pair at a merge goes once: the pair between two
	// adjacent merges as the first one's right pair.
	out, lastEnd, afterMerge := sym[:0], -1, false
	for i := 0; i < len(sym); i++ {
		if i+1 < len(sym) && sym[i] == a && sym[i+1] == b {
			if i > 0 && lastEnd != i-1 {
				delta[pairKey(sym[i-1], a)] -= f
			}
			delta[pairKey(a, b)] -= f
			if i+2 < len(sym) {
				delta[pairKey(b, sym[i+2])] -= f
			}
			if len(out) > 0 {
				added(out[len(out)-1], id)
			}
			out = append(out, id)
			lastEnd, afterMerge = i+1, true
			i++
			continue
		}
		if afterMerge {
			added(id, sym[i])
			afterMerge = false
		}
		out = append(out, sym[i])
	}
	tr.words[w] = out
}

// pairCount is a heap entry: the count a pair had when it was pushed.
type pairCount struct {
	count int64
	key   uint64
}

// pairCountHeap pops the highest count first, then the lowest pair key
// (lowest left id, then lowest right id).
type pairCountHeap []pairCount

func (h pairCountHeap) Len() int { return len(h) }
func (h pairCountHeap) Less(i, j int) bool {
	return h[i].count > h[j].count || h[i].count == h[j].count && h[i].key < h[j].key
}
func (h pairCountHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairCountHeap) Push(x any)   { *h = append(*h, x.(pairCount)) }
func (h *pairCountHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
