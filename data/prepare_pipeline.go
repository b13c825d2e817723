package data

// Prepare's pipeline: the reader's jobs encoded by workers on every core,
// and their results written in input order, with at most a bounded number
// of jobs in flight.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// prepResult is the encoded output of one job.
type prepResult struct {
	seq        int64
	train, val []int32 // (ids below 2^31: half an int's memory for a long document's)
	docs       int64
	bytes      int64
	text       int64 // tokens of text, the end-of-text tokens aside
	err        error
}

// runPipeline runs reader -> workers -> ordered writer. At most 2·workers+2
// jobs are in flight, which bounds memory.
func runPipeline(opts PrepareOptions, files []string, total int64, w *prepWriter, stats *PrepareStats, start time.Time) error {
	jobs := make(chan prepJob, opts.Workers)
	results := make(chan prepResult, opts.Workers)
	slots := make(chan struct{}, 2*opts.Workers+2)
	done := make(chan struct{})
	var stop sync.Once
	abort := func() { stop.Do(func() { close(done) }) }
	defer abort()

	readErr := make(chan error, 1)
	r := &prepReader{valFraction: opts.ValFraction, unitSize: unitBytes(total, opts.ValFraction), growing: !sizesKnown(files), cuts: CutsOf(opts.Tokenizer)}
	ctx := cmp.Or(opts.Context, context.Background())
	r.send = func(j prepJob) error {
		select {
		case slots <- struct{}{}:
		case <-done:
			return errors.New("stopped")
		case <-ctx.Done():
			return fmt.Errorf("stopped: %w", context.Cause(ctx))
		}
		jobs <- j
		return nil
	}
	go func() {
		defer close(jobs)
		readErr <- readInputs(r, files)
	}()
	var wg sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		wg.Go(func() {
			for j := range jobs {
				results <- encodeJob(opts.Tokenizer, j)
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	err := writeInOrder(ctx, opts, results, slots, abort, w, stats, start)
	if errors.Is(err, errPipelineStopped) {
		// The reader may sit in a read of a pipe or FIFO through which
		// nothing comes (standard input from a stalled link): it is not
		// waited for, and ends with the process; nothing it holds is
		// written.
		return fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	stats.Pieces, stats.LargestPiece = r.pieces, r.largest // the reader is done
	return err
}

// errPipelineStopped is writeInOrder's error when the context ends.
var errPipelineStopped = errors.New("stopped")

// readInputs cuts the files, one after the other, into jobs for r.send.
func readInputs(r *prepReader, files []string) error {
	var err error
	for _, f := range files {
		if err = r.readFile(f); err != nil {
			break
		}
	}
	if err == nil {
		err = r.flush()
	}
	return err
}

// writeInOrder writes the results in job order as they arrive, freeing a
// slot for each, and reports progress about twice a second. On the first
// error it aborts the reader and drains the rest. When ctx ends it aborts
// and returns errPipelineStopped at once, draining nothing: the reader
// may never return.
func writeInOrder(ctx context.Context, opts PrepareOptions, results <-chan prepResult, slots <-chan struct{}, abort func(), w *prepWriter, stats *PrepareStats, start time.Time) error {
	pending := map[int64]prepResult{}
	next, last := int64(0), time.Now()
	var err error
	for {
		var res prepResult
		var ok bool
		select {
		case res, ok = <-results:
		case <-ctx.Done():
			abort()
			return errPipelineStopped
		}
		if !ok {
			return err
		}
		if err != nil {
			continue // drain
		}
		pending[res.seq] = res
		for r, ok := pending[next]; ok && err == nil; r, ok = pending[next] {
			delete(pending, next)
			next++
			<-slots
			if err = r.err; err == nil {
				err = w.write(r)
			}
			stats.Bytes += r.bytes
			stats.Docs += r.docs
			stats.TrainTokens, stats.ValTokens = w.train.tokens, w.val.tokens
		}
		if err != nil {
			abort()
		} else if opts.Progress != nil && time.Since(last) > 500*time.Millisecond {
			last = time.Now()
			stats.Seconds = time.Since(start).Seconds()
			opts.Progress(*stats)
		}
	}
}

// jsonPiece is the size of the pieces a .jsonl document is encoded in.
const jsonPiece = 1 << 20

// appendIDs appends a tokenizer's ids to dst.
func appendIDs(dst []int32, ids []int) []int32 {
	for _, id := range ids {
		dst = append(dst, int32(id))
	}
	return dst
}

// encodeJob encodes the units of a job into train and val tokens.
func encodeJob(tok Tokenizer, j prepJob) prepResult {
	res := prepResult{seq: j.seq, bytes: j.bytes}
	eot, cuts := tok.EOT(), CutsOf(tok)
	for i, u := range j.units {
		text := u.text
		if u.json {
			var err error
			if text, err = JSONLText(text, u.file, u.line); err != nil {
				res.err = err
				return res
			}
			u.text, j.units[i].text = "", "" // the line's memory goes before its ids take theirs
		}
		where := u.file
		if u.json {
			where = fmt.Sprintf("%s:%d", u.file, u.line)
		}
		if why := CharTextProblem(tok, text); why != "" {
			res.err = &InputError{fmt.Errorf("%s: %s; use a tokenizer that reads it", where, why)}
			return res
		}
		dst := &res.train
		if u.val {
			dst = &res.val
		}
		n := len(*dst)
		if u.json { // a text file's units are already cut
			*dst = encodePieces(*dst, tok, cuts, text, jsonPiece)
		} else {
			*dst = appendIDs(*dst, tok.Encode(text))
		}
		res.text += int64(len(*dst) - n)
		if u.eot {
			res.docs++
			if eot >= 0 {
				*dst = append(*dst, int32(eot))
			}
		}
		if u.trainEOT && eot >= 0 {
			res.train = append(res.train, int32(eot))
		}
	}
	return res
}
