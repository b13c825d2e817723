package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"unicode/utf8"
)

// bom is the UTF-8 byte order mark some editors put at the start of a file.
var bom = []byte{0xEF, 0xBB, 0xBF}

// TrimBOM returns b without a leading UTF-8 byte order mark: it marks the
// file's encoding and is not part of its text.
func TrimBOM(b []byte) []byte { return bytes.TrimPrefix(b, bom) }

// WideNote is why a text file that begins with b cannot be read: it is
// UTF-16 or UTF-32 (its byte order mark says which, or the NULs between
// its first characters do), whose bytes read as UTF-8 are every character
// with NULs between; "" when it is not.
func WideNote(b []byte) string {
	for _, e := range byteOrderMarks { // UTF-32LE's first: UTF-16LE's begins it
		if bytes.HasPrefix(b, e.mark) {
			return fmt.Sprintf("is %s (it begins with that byte order mark); gptctl reads UTF-8: convert it, e.g. with iconv -f %s -t UTF-8", e.name, e.name[:6])
		}
	}
	if enc := wideEncoding(b); enc != "" {
		return fmt.Sprintf("is %s without a byte order mark (NUL bytes lie between its first characters); gptctl reads UTF-8: convert it, e.g. with iconv -f %s -t UTF-8", enc, enc)
	}
	return ""
}

// byteOrderMarks are the byte order marks of UTF-32 and UTF-16 (iconv's
// UTF-32 and UTF-16, the name's first six characters, read the mark).
var byteOrderMarks = []struct {
	mark []byte
	name string
}{
	{[]byte{0xFF, 0xFE, 0, 0}, "UTF-32LE"},
	{[]byte{0, 0, 0xFE, 0xFF}, "UTF-32BE"},
	{[]byte{0xFF, 0xFE}, "UTF-16LE"},
	{[]byte{0xFE, 0xFF}, "UTF-16BE"},
}

// wideEncoding names the encoding of text that begins with b when most of
// its first characters (three in four of up to 32) are those of UTF-16 or
// UTF-32 text below U+0100: a non-NUL byte beside NULs, in the order of
// the encoding; "" when they are not. UTF-8 text has no NULs, and a run of
// NULs, or binary data, rarely has that shape; UTF-16 text of other
// scripts, which has no NULs, is not found.
func wideEncoding(b []byte) string {
	b = b[:min(len(b), 64)]
	latin := func(size int, big bool) bool {
		units, n := len(b)/size, 0
		for i := 0; i < units; i++ {
			u := b[i*size : (i+1)*size]
			low, high := u[0], u[1:]
			if big {
				low, high = u[size-1], u[:size-1]
			}
			if low != 0 && bytes.Count(high, []byte{0}) == size-1 {
				n++
			}
		}
		return units >= 2 && 4*n >= 3*units
	}
	for _, e := range []struct {
		name string
		size int
		big  bool
	}{{"UTF-32LE", 4, false}, {"UTF-32BE", 4, true}, {"UTF-16LE", 2, false}, {"UTF-16BE", 2, true}} {
		if latin(e.size, e.big) {
			return e.name
		}
	}
	return ""
}

// maxRun is the longest text without a cut point that ReadChunks keeps
// whole: BPE encodes a run as one word, in about 60 times its size of
// memory (64 MiB of DNA took 3.7 GB), and no real text has such runs.
const maxRun = 1 << 20

// ReadChunks reads r to the end and calls fn with consecutive chunks of
// about size bytes that together are the whole input. Chunks end where cuts
// allows, so that tokenizing chunk by chunk gives the same ids as
// tokenizing the whole text; a run with no such point is read on, up to
// maxRun bytes (or size, if more), and only then cut at a UTF-8 character
// boundary. A leading byte order mark is dropped; a UTF-16 or UTF-32 one is
// an *InputError. fn owns the chunk it is given.
func ReadChunks(r io.Reader, size int, cuts Cuts, fn func(chunk string) error) error {
	size = max(size, 16)
	want := firstRead(r, size) // bytes to hold before looking for a cut
	buf := make([]byte, 0, want)
	for first := true; ; first = false {
		buf = slices.Grow(buf, want-len(buf))
		n, err := io.ReadFull(r, buf[len(buf):want])
		buf = buf[:len(buf)+n]
		if first {
			var wide error
			if buf, wide = textStart(buf); wide != nil {
				return wide
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if len(buf) == 0 {
				return nil
			}
			return fn(string(buf))
		}
		if err != nil {
			return err
		}
		s := string(buf)
		p := cuts.Last(s, len(s)-1)
		if limit := max(size, maxRun); p == 0 && want < limit { // no cut point yet: read on
			want = min(2*want, limit)
			continue
		}
		if p == 0 {
			p = runeCut(s)
		}
		if err := fn(s[:p]); err != nil {
			return err
		}
		buf, want = buf[:copy(buf, buf[p:])], size
		for want <= len(buf) { // the rest has no cut point (p was the last): read on past it
			want = min(2*want, max(size, maxRun)) // the rest is shorter than that: it was cut
		}
	}
}

// firstRead is how many bytes ReadChunks reads of r before it looks for a
// cut: size, or less for a file smaller than a chunk, read in one buffer
// of its size (a glob of many small files allocated, and the collector
// scanned, a whole chunk's buffer for each). Any cut point is a chunk's
// end, so a file that grew since is read as correctly.
func firstRead(r io.Reader, size int) int {
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < int64(size) {
			return max(int(fi.Size())+1, 16) // + 1: the read that finds the end
		}
	}
	return size
}

// textStart checks the start of a text, buf: a UTF-16 or UTF-32 text is an
// *InputError; a leading byte order mark is dropped, in place.
func textStart(buf []byte) ([]byte, error) {
	if note := WideNote(buf); note != "" {
		return buf, &InputError{errors.New("the text " + note)}
	}
	if bytes.HasPrefix(buf, bom) {
		buf = buf[:copy(buf, buf[len(bom):])]
	}
	return buf, nil
}

// encodePieces appends the ids of text to dst, encoded in pieces of about
// size bytes cut as ReadChunks cuts a text file: where cuts allows, a run
// without such a point up to maxRun. A long .jsonl document then takes the
// encoder's memory of a piece, not of the whole (about 20 times its bytes).
func encodePieces(dst []int32, tok Tokenizer, cuts Cuts, text string, size int) []int32 {
	start, done := len(dst), 0
	for len(text) > 0 {
		n := docPieceLen(text, cuts, size)
		dst, text = appendIDs(dst, tok.Encode(text[:n])), text[n:]
		if done += n; done == n && len(text) > 4*n {
			// A long document: room for its ids at the first piece's rate,
			// and a tenth more, instead of growing by copies as append
			// does (a slice of ids that doubles holds up to three times
			// their memory while it is copied).
			perByte := float64(len(dst)-start) / float64(n)
			dst = slices.Grow(dst, int(perByte*float64(len(text))*1.1)+1024)
		}
	}
	return dst
}

// NextPiece is the length of the first piece of a document that data
// prepare encodes on its own (a .jsonl document is encoded in pieces of
// about 1 MiB): all of text when it is no longer, else up to the last
// point in the piece where cuts allows, so that the pieces' ids are those
// of the whole, or where no such point comes, at a character's start.
// Pretraining reads a document in the same pieces, and gets the same ids.
func NextPiece(text string, cuts Cuts) int { return docPieceLen(text, cuts, jsonPiece) }

// docPieceLen is NextPiece for pieces of about size bytes: a piece without
// a cut point grows up to maxRun (or size, if more) before it is cut.
func docPieceLen(text string, cuts Cuts, size int) int {
	if len(text) <= size {
		return len(text)
	}
	end, p := size, 0
	for {
		if p = cuts.Last(text[:end], end-1); p > 0 || end == len(text) || end >= max(size, maxRun) {
			break
		}
		end = min(2*end, max(size, maxRun), len(text))
	}
	switch {
	case p > 0:
		return p
	case end == len(text):
		return len(text) // no cut point in the rest, which is under maxRun
	}
	return runeCut(text[:end])
}

// runeCut returns the start of the last UTF-8 character of s, or len(s)-1
// when s does not end in valid UTF-8; the result is > 0 for len(s) >= 8.
func runeCut(s string) int {
	for i := len(s) - 1; i > 0 && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return len(s) - 1
}
