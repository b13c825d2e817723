package data

// Prepare's reader: the input files cut into units, each one for training
// or validation, and the units batched into jobs for the encoding workers.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// prepUnit is one piece of text for Prepare: a chunk of a text file or one
// document (line) of a .jsonl file. Units are numbered in input order; that
// number alone decides whether a unit goes to the validation split.
type prepUnit struct {
	text string // the text, or the raw JSON line when jsonl is set
	val  bool
	eot  bool // a document ends after this unit
	// trainEOT: the document ends in train too, after its train text
	// before this unit (which, the last, went to val)
	trainEOT bool
	json     bool
	file     string
	line     int
}

// prepJob is a batch of units for one worker.
type prepJob struct {
	seq   int64
	units []prepUnit
	bytes int64
}

const prepJobBytes = 1 << 20

// unitBytes is the size of the text-file units: small enough that a corpus
// of total bytes gets about eight units in its smaller split (val, or
// train at a fraction above one half), between 256 bytes and 1 MiB (so
// that a small corpus gets near its share too).
func unitBytes(total int64, valFraction float64) int {
	if !(valFraction > 0) {
		return 1 << 20
	}
	return int(min(max(float64(total)*min(valFraction, 1-valFraction)/8, 256), 1<<20))
}

// sizesKnown reports whether every file's size is known before it is
// read: a regular file's, not a pipe's or a device's.
func sizesKnown(files []string) bool {
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// prepReader cuts the input files into units and batches them into jobs.
type prepReader struct {
	valFraction float64
	unitSize    int
	cuts        Cuts  // where the tokenizer's text may be cut
	bytes, val  int64 // bytes of the units so far, and of those for validation
	pieces      int64 // units so far
	largest     int64 // bytes of the largest unit
	growing     bool  // the inputs' size is unknown: units grow with the bytes read (unit)
	docTrains   bool  // a unit of the document being read went to train
	seq         int64
	job         prepJob
	send        func(prepJob) error
}

// isVal reports whether the next unit, of n bytes, is a validation unit:
// a chunk of a text file (of about the unit size, shorter where a file
// ends) or a whole document (a .jsonl line, of any length).
//
// A unit is taken when its middle byte falls in the middle f of a period
// of the input's bytes (the unit size over the smaller share, about eight
// periods in a corpus): its length does not change its chance, so the
// validation units are a sample of the units, long and short alike, and a
// share f of the bytes on average. Units more than twice the unit size
// (runs without a cut point) and the units of an input of unknown size go
// by the running share instead (below). Two rules that did not hold: one that
// kept the share so far just below f, with half the unit counted in, took
// short units far more readily than long ones (61% of .jsonl documents of
// 100 bytes against 7% of those of 1,900 at 0.1; in a corpus of books, the
// short last chunks of the files made 75% of the validation bytes), and
// counting units instead of bytes gave a text cut into alternately long
// and short pieces 12.5% for 10%.
func (r *prepReader) isVal(n int) bool {
	f, size := r.valFraction, int64(n)
	mid := float64(r.bytes) + float64(size)/2
	r.bytes += size
	if !(f > 0) {
		return false
	}
	var val bool
	if r.growing || n > 2*r.unitSize {
		// A unit far longer than the others (text without cut points), or
		// any where the input's size is unknown: taken while the share so
		// far, with half the unit counted in, stays below f. A long unit
		// in a window would be most of the split (93% of it at 0.1).
		val = float64(r.val)+float64(size)/2 < f*float64(r.bytes)
	} else {
		period := float64(max(r.unitSize, 1)) / min(f, 1-f)
		x := math.Mod(mid, period) // a window in the middle: a corpus of one unit trains
		val = x >= (1-f)*period/2 && x < (1+f)*period/2
	}
	if val {
		r.val += size
	}
	return val
}

// unit is the size of the next text units: the unit size, or, where the
// inputs' size is unknown (a pipe), the one unitBytes gives the bytes read
// so far, growing with them: a small piped corpus gets small units and a
// validation split, a large one large units.
func (r *prepReader) unit() int {
	if r.growing {
		return unitBytes(r.bytes, r.valFraction)
	}
	return r.unitSize
}

func (r *prepReader) add(u prepUnit) error {
	u.val = r.isVal(len(u.text))
	r.pieces, r.largest = r.pieces+1, max(r.largest, int64(len(u.text)))
	if !u.val {
		r.docTrains = true
	}
	if u.eot {
		// A document whose last unit is val ends in train too, where its
		// train text ends: the next document's does not run into it.
		u.trainEOT, r.docTrains = u.val && r.docTrains, false
	}
	r.job.units = append(r.job.units, u)
	r.job.bytes += int64(len(u.text))
	if r.job.bytes >= prepJobBytes {
		return r.flush()
	}
	return nil
}

func (r *prepReader) flush() error {
	if len(r.job.units) == 0 {
		return nil
	}
	r.job.seq = r.seq
	r.seq++
	job := r.job
	r.job = prepJob{}
	return r.send(job)
}

// readFile adds the units of one input file.
func (r *prepReader) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &InputError{fmt.Errorf("input: %w", err)}
	}
	defer f.Close()
	jsonl, err := CorpusJSONL(f, path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return &InputError{fmt.Errorf("input: %w", err)}
	}
	size := int64(-1) // unknown: a pipe, or a file of the kernel's that says 0
	if fi.Mode().IsRegular() && fi.Size() > 0 {
		size = fi.Size()
	}
	return r.readFrom(f, size, path, jsonl)
}

// readFrom adds the units of one input, read from f, which holds size bytes
// (-1: unknown) of text or, if jsonl, JSON lines; an input that turns out to hold another number of bytes
// changed while it was read (a file still being written, or truncated) and
// is refused.
func (r *prepReader) readFrom(f io.Reader, size int64, path string, jsonl bool) error {
	cr := &countingReader{r: f}
	var err error
	if jsonl {
		err = r.readJSONL(cr, path)
	} else {
		err = r.readText(cr, path)
	}
	var ie *InputError
	switch {
	case errors.As(err, &ie): // names the file and line itself
		return err
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	if size >= 0 && cr.n != size {
		return &InputError{fmt.Errorf("input %s changed while it was read (%d bytes when opened, %d read): prepare it again once it is complete", path, size, cr.n)}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readText adds a text file, one document, as units of about unitSize.
// It reads chunks of at least 4 KiB (ReadChunks cuts them where
// tokenization does not change, where it can), and cuts chunks into smaller
// units only at such points.
func (r *prepReader) readText(f io.Reader, path string) error {
	var prev *prepUnit
	read := max(r.unitSize, 4<<10)
	if r.growing {
		read = 1 << 20 // room for the largest unit
	}
	err := ReadChunks(f, read, r.cuts, func(chunk string) error {
		for len(chunk) > 0 {
			n := nextUnit(chunk, r.unit(), r.cuts) // a growing unit's size as of the bytes so far
			if prev != nil {
				if err := r.add(*prev); err != nil {
					return err
				}
			}
			prev, chunk = &prepUnit{text: chunk[:n], file: path}, chunk[n:]
		}
		return nil
	})
	if err != nil || prev == nil {
		return err
	}
	prev.eot = true
	return r.add(*prev)
}

// nextUnit is the length of the first piece of about size bytes that s is
// cut into, only where cuts allows: with no such point before size, the
// piece runs on to the next one.
func nextUnit(s string, size int, cuts Cuts) int {
	if len(s) <= size {
		return len(s)
	}
	p := cuts.Last(s, size)
	if p < size/2 { // none near size: the first one after it
		p = 0
		for q := size + 1; q < len(s)-1; q++ {
			if cuts.At(s, q) {
				p = q
				break
			}
		}
		if p == 0 {
			return len(s)
		}
	}
	return p
}

// readJSONL adds every non-blank line of a .jsonl file as a document,
// decoded later by the encoding workers.
func (r *prepReader) readJSONL(f io.Reader, path string) error {
	return jsonlLines(f, path, func(s string, line int) error {
		return r.add(prepUnit{text: s, json: true, eot: true, file: path, line: line})
	})
}
