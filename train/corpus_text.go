package train

// A text corpus held in memory as its ids: read as a stream (a text file a
// chunk at a time, a .jsonl file a line at a time), so that only the ids
// are kept, 2 bytes a token where the vocabulary fits in 16 bits.

import (
	"context"
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"gptctl/data"
	"gptctl/graph"
)

// memTokens is a corpus's ids in memory.
type memTokens interface {
	TokenSource
	// slice is the ids at [lo, hi), sharing their memory.
	slice(lo, hi int) memTokens
}

func (t Tokens) slice(lo, hi int) memTokens { return t[lo:hi] }

// tokens16 is Tokens in half the memory, for vocabularies of at most 65,536
// ids.
type tokens16 []uint16

func (t tokens16) Len() int                   { return len(t) }
func (t tokens16) slice(lo, hi int) memTokens { return t[lo:hi] }
func (t tokens16) Window(dst []int32, start int) {
	for i, id := range t[start : start+len(dst)] {
		dst[i] = int32(id)
	}
}

// errLoadStopped is reading the corpus cut short by a cancelled context (a
// signal): the run stops before its first step.
var errLoadStopped = errors.New("loading the data was stopped")

// readCorpus calls piece with the text of the corpus at path, in order, a
// piece at a time: the built-in corpus; every file of path (a glob
// pattern's in name order): a .jsonl file's documents ({"text": ...} lines)
// one by one, any other file as one document in chunks of about 1 MiB, cut
// where tokenizing the parts gives the ids of the whole (data.ReadCorpusFile
// with cuts, as data prepare reads it); a longer document (a .jsonl line) in
// pieces of about 1 MiB cut so too (docPieces). doc says that a piece
// begins a document. key names the corpus in errors (data, val_data). A
// file of a pattern may be empty; all of them may not. Once ctx is
// cancelled it stops before the next piece, with errLoadStopped.
func readCorpus(ctx context.Context, key, path string, cuts data.Cuts, piece func(file, s string, doc bool) error) error {
	if path == data.BuiltinCorpusName {
		return docPieces(ctx, data.BuiltinCorpus(), cuts, func(s string, doc bool) error { return piece(path, s, doc) })
	}
	if path == "-" {
		return inputErrorf("%s -: standard input is read by data prepare, predict and eval of a task file; a text corpus is read from a file (or pipe it into gptctl data prepare --data - --out DIR and read DIR)", key)
	}
	files := []string{path}
	if isGlob(path) {
		var err error
		if files, err = data.ExpandInputs(files); err != nil {
			return inputErrorf("%s: %w", key, err)
		}
	}
	n, docs := 0, 0
	for _, f := range files {
		err := data.ReadCorpusFile(f, cuts, func(s string, doc bool) error {
			n += len(s)
			if doc {
				docs++
			}
			return docPieces(ctx, s, cuts, func(s string, first bool) error { return piece(f, s, doc && first) })
		})
		if err := readError(key, err); err != nil {
			return err
		}
	}
	switch {
	case n > 0:
		return nil
	case docs > 1: // JSON lines
		return inputErrorf("%s %s: the %d documents are all empty (no {\"text\": ...} holds text)", key, path, docs)
	case len(files) > 1:
		return inputErrorf("%s %s: the %d files are empty", key, path, len(files))
	case docs == 1:
		return inputErrorf("%s %s: its one document is empty (its {\"text\": ...} holds no text)", key, path)
	case !onlyBOM(files[0]): // a .jsonl of blank lines (a text file's blank lines are its text)
		return inputErrorf("%s %s: the file holds no document, only blank lines (a .jsonl file holds one {\"text\": ...} a line)", key, path)
	}
	return inputErrorf("%s %s: the file is empty", key, path)
}

// onlyBOM reports whether the file at path is empty or holds a UTF-8 byte
// order mark alone.
func onlyBOM(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return true
	}
	b := make([]byte, 4)
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	n, _ := io.ReadFull(f, b)
	return string(b[:n]) == "\ufeff"
}

// docPieces calls piece with the text s in pieces of about 1 MiB, as data
// prepare encodes a .jsonl document (data.NextPiece): cut at the last point
// in each where cuts allows, so that tokenizing them one after the other
// gives the ids of s whole, and only a run of 1 MiB without one (which a
// BPE would encode as one word, in some 60 times its size of memory)
// between characters. first says that a piece is the first. Once
// ctx is cancelled it stops before the next piece, with errLoadStopped:
// one encode of a long document (GPT-2's BPE reads about 2.5 MB/s) would
// hold a stop for as long as it takes.
func docPieces(ctx context.Context, s string, cuts data.Cuts, piece func(s string, first bool) error) error {
	for first := true; first || len(s) > 0; first = false {
		if ctx.Err() != nil {
			return errLoadStopped
		}
		n := data.NextPiece(s, cuts)
		if err := piece(s[:n], first); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

// isGlob reports whether a corpus path is a pattern of files.
func isGlob(path string) bool { return strings.ContainsAny(path, "*?[") }

// readError is the outcome of reading a file of the corpus key names: its
// input errors and errLoadStopped as they are, other errors (the file's) as
// input errors.
func readError(key string, err error) error {
	var ie *InputError
	switch {
	case errors.As(err, &ie), errors.Is(err, errLoadStopped):
		return err
	case err != nil:
		return inputErrorf("%s: %w", key, err)
	}
	return nil
}

// encodeCorpus is encodeCorpusContext without a stop.
func encodeCorpus(key, path string, tok data.Tokenizer) (memTokens, error) {
	return encodeCorpusContext(context.Background(), key, path, tok)
}

// encodeCorpusContext returns the ids of the corpus at path (readCorpus),
// refusing characters a char tokenizer does not have. Several documents are
// kept apart by the tokenizer's end-of-text token, one after each, as data
// prepare writes them; one text file is as it is. A cancelled ctx stops it
// between pieces (errLoadStopped).
func encodeCorpusContext(ctx context.Context, key, path string, tok data.Tokenizer) (memTokens, error) {
	if tok.VocabSize() <= 1<<16 {
		ids, err := encodeInto[uint16](ctx, key, path, tok)
		return tokens16(ids), err
	}
	ids, err := encodeInto[int32](ctx, key, path, tok)
	return Tokens(ids), err
}

// idEstimate is, for a text of n bytes that tokenizer spec encodes, the
// number of ids to make room for (more than most texts need: growing the
// ids takes them twice over while copying) and the fewest ids the text can
// encode to, which decides whether they fit in memory at all.
func idEstimate(spec string, n int64) (room, least int64) {
	switch spec {
	case "byte":
		return n, n
	case "char": // a character is 1 to 4 bytes
		return n, n / 4
	}
	return n / 3, n / 8 // BPEs: a quarter of a token a byte in English; an eighth is rare
}

// fitsCorpus refuses a text corpus at path whose ids cannot fit in memory
// (2 bytes an id at the least) before anything is read: encoding it would
// take minutes and then the process.
func fitsCorpus(key, path, spec string) error {
	_, least := idEstimate(spec, corpusBytes(path))
	if need, have := 2*least, graph.SystemMemory(); have > 0 && need > have {
		return inputErrorf("%s %s: its token ids take at least %s, more than the %s of memory and swap this process may use; prepare it with gptctl data prepare, whose token shards pretraining reads from disk",
			key, path, graph.Bytes(float64(need)), graph.Bytes(float64(have)))
	}
	if need := 2 * least; need > math.MaxInt/2 { // a 32-bit build: more than its address space holds
		return inputErrorf("%s %s: its token ids take at least %s, more than a %d-bit build of gptctl can hold in memory; prepare it with gptctl data prepare, whose token shards pretraining reads from disk",
			key, path, graph.Bytes(float64(need)), strconv.IntSize)
	}
	return nil
}

func encodeInto[T uint16 | int32](ctx context.Context, key, path string, tok data.Tokenizer) ([]T, error) {
	// Each piece's text and ids are garbage once appended: collect them
	// early rather than let the heap grow to twice the corpus's ids.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	room, _ := idEstimate(tok.Name(), corpusBytes(path))
	if have := graph.SystemMemory() / int64(unsafe.Sizeof(T(0))); have > 0 {
		room = min(room, have) // what fits, where the estimate would not
	}
	room = min(room, math.MaxInt/2/int64(unsafe.Sizeof(T(0)))) // and a 32-bit build's address space
	ids := make([]T, 0, room)                                  // appended to past room only where the text needs more
	docs, eot := 0, tok.EOT()
	err := readCorpus(ctx, key, path, data.CutsOf(tok), func(file, s string, doc bool) error {
		if doc {
			if docs++; docs > 1 && eot >= 0 {
				ids = append(ids, T(eot))
			}
		}
		if why := data.CharTextProblem(tok, s); why != "" {
			return inputErrorf("%s %s: %s", key, file, why)
		}
		for _, id := range tok.Encode(s) {
			ids = append(ids, T(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if docs > 1 && eot >= 0 {
		ids = append(ids, T(eot))
	}
	if len(ids) < cap(ids)/4*3 { // characters of several bytes: give back what they did not use
		ids = slices.Clone(ids)
	}
	return ids, nil
}

// corpusBytes is the size of the files of the corpus at path (0 where
// unknown).
func corpusBytes(path string) int64 {
	if path == data.BuiltinCorpusName {
		return int64(len(data.BuiltinCorpus()))
	}
	var n int64 // a 32-bit int would wrap past 2 GiB
	for _, f := range corpusFiles(path) {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// corpusFiles is the files of the text corpus at path: a glob's matches
// (none where it matches none), else path itself.
func corpusFiles(path string) []string {
	if !isGlob(path) {
		return []string{path}
	}
	files, _ := data.ExpandInputs([]string{path})
	return files
}

// newTokenizer is the tokenizer spec names; "char" builds the vocabulary of
// the text corpora of data and val_data at dataPath and valPath ("": none),
// which a cancelled ctx stops (errLoadStopped).
func newTokenizer(ctx context.Context, spec, dataPath, valPath string) (data.Tokenizer, error) {
	switch spec {
	case "char":
		return charVocabulary(ctx, map[string]string{"data": dataPath, "val_data": valPath})
	case "byte":
		return data.ByteTokenizer{}, nil
	}
	tok, err := data.ResolveTokenizer(spec)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return tok, nil
}

// charVocabulary is the char tokenizer of the distinct characters of the
// corpora at paths, by the key that names each ("" skipped), read as a
// stream; they must be UTF-8.
func charVocabulary(ctx context.Context, paths map[string]string) (data.Tokenizer, error) {
	var set data.CharSet
	for _, key := range slices.Sorted(maps.Keys(paths)) {
		path := paths[key]
		if path == "" {
			continue
		}
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil, inputErrorf("%s %s: tokenizer char reads the corpus twice, for its characters and then its ids, and this is not a file that can be read again (a pipe): give a file, or use tokenizer byte", key, path)
		}
		err := readCorpus(ctx, key, path, data.CharCuts, func(file, s string, _ bool) error {
			if !utf8.ValidString(s) {
				return inputErrorf("%s %s: the corpus is not valid UTF-8 (use tokenizer: byte)", key, file)
			}
			set.Add(s)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return set.Tokenizer(), nil
}
