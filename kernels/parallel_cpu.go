// The worker goroutines the CPU kernels share. Workers are started once and
// sleep on a channel between jobs, so a kernel that splits its work starts no
// goroutine and allocates no WaitGroup per call, idle workers never spin
// (spinning BLAS/OpenMP threads collapse when another process holds a core),
// and a caller never waits for a worker that has not started (parallelDo).

package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// task is work split into items run(0), run(1), ...; a pooled struct that
// implements it lets a hot kernel split its work without allocating a closure.
type task interface{ run(i int) }

// funcTask adapts a function to task.
type funcTask func(i int)

func (f funcTask) run(i int) { f(i) }

// job is one parallelDo call: n items handed out through next.
type job struct {
	t    task
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

// run takes items until none are left.
func (j *job) run() {
	for i := j.next.Add(1) - 1; i < j.n; i = j.next.Add(1) - 1 {
		j.t.run(int(i))
	}
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// worker is one pool goroutine. A caller hands it a job through slot and
// wakes it with kick; the worker claims the job by swapping slot to nil.
type worker struct {
	slot atomic.Pointer[job]
	kick chan struct{} // buffered: a wake-up is never lost, never blocks
}

// pool keeps the idle workers. A worker puts itself back on idle before it
// reports its job done, so a caller that returns from one parallelFor finds it
// idle again for the next; a caller that finds no idle worker (all busy, or a
// nested call) runs the items itself, so parallelFor never waits for a worker
// to become free.
var pool struct {
	mu      sync.Mutex
	idle    []*worker
	started int
}

func (w *worker) loop() {
	for range w.kick {
		j := w.slot.Swap(nil)
		if j == nil {
			continue // the caller took the job back (see parallelDo)
		}
		j.run()
		putIdle(w)
		j.wg.Done()
	}
}

func putIdle(ws ...*worker) {
	pool.mu.Lock()
	pool.idle = append(pool.idle, ws...)
	pool.mu.Unlock()
}

// takeWorkers removes up to n idle workers from the pool, starting workers
// until GOMAXPROCS-1 exist.
func takeWorkers(n int, into []*worker) []*worker {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	for pool.started < runtime.GOMAXPROCS(0)-1 {
		w := &worker{kick: make(chan struct{}, 1)}
		pool.started++
		pool.idle = append(pool.idle, w)
		go w.loop()
	}
	for n > 0 && len(pool.idle) > 0 {
		last := len(pool.idle) - 1
		into = append(into, pool.idle[last])
		pool.idle = pool.idle[:last]
		n--
	}
	return into
}

// parallelFor calls fn(i) for every i < n, on the calling goroutine and up to
// GOMAXPROCS-1 pool workers that take the next index from a shared counter,
// and returns when all calls are done. Items should be coarse (microseconds at
// least): a handoff costs about one.
func parallelFor(n int, fn func(i int)) { parallelDo(n, funcTask(fn)) }

// stackWorkers is how many helpers parallelDo keeps track of on the
// stack; workerLists holds the lists of a call that takes more.
const stackWorkers = 32

var workerLists = sync.Pool{New: func() any { return new([2][]*worker) }}

// parallelDo is parallelFor for a task.
//
// The caller works through the items too. When it runs out, it takes the job
// back from every worker that has not claimed it yet and waits only for those
// that did. A worker whose core is busy with another process may take
// milliseconds to wake; the caller then does all the work itself instead of
// waiting for it, so two threads are not slower than one on a shared machine.
func parallelDo(n int, t task) {
	want := min(runtime.GOMAXPROCS(0), n) - 1
	if want <= 0 {
		for i := range n {
			t.run(i)
		}
		return
	}
	// The helpers and those taken back, on the stack up to stackWorkers
	// (a larger machine's from a pool).
	var sbuf, sback [stackWorkers]*worker
	buf, back := sbuf[:0], sback[:0]
	if want > stackWorkers {
		lists := workerLists.Get().(*[2][]*worker)
		defer workerLists.Put(lists)
		for i := range lists {
			if cap(lists[i]) < want {
				lists[i] = make([]*worker, 0, want)
			}
		}
		buf, back = lists[0][:0], lists[1][:0]
	}
	helpers := takeWorkers(want, buf)
	j := jobPool.Get().(*job)
	j.t, j.n = t, int64(n)
	j.next.Store(0)
	j.wg.Add(len(helpers))
	for _, w := range helpers {
		w.slot.Store(j)
		select {
		case w.kick <- struct{}{}:
		default: // a wake-up is already pending; the worker will see slot
		}
	}
	j.run()
	unclaimed := back
	for _, w := range helpers {
		if w.slot.CompareAndSwap(j, nil) {
			unclaimed = append(unclaimed, w)
			j.wg.Done()
		}
	}
	if len(unclaimed) > 0 {
		putIdle(unclaimed...)
	}
	j.wg.Wait()
	j.t = nil
	jobPool.Put(j)
}

// parallelRanges splits n items into about chunks contiguous ranges and calls
// fn(lo, hi) for each in parallel; with one chunk it calls fn(0, n) directly.
func parallelRanges(n, chunks int, fn func(lo, hi int)) {
	chunks = max(1, min(chunks, n))
	if chunks == 1 {
		fn(0, n)
		return
	}
	parallelFor(chunks, func(c int) { fn(split(c, n, chunks), split(c+1, n, chunks)) })
}

// split is where part i of n items cut into parts begins, i*n/parts, with
// the product in 64 bits: on a 32-bit build i*n passes 2^31 from about
// 46,000^2 items (one GPT-2-vocabulary embedding of width 256 in a GELU's
// or AdamW's chunks).
func split(i, n, parts int) int { return int(int64(i) * int64(n) / int64(parts)) }

// Threads is the number of goroutines the kernels split work over (GOMAXPROCS).
func Threads() int { return runtime.GOMAXPROCS(0) }

// ParallelFor calls fn(i) for every i < n on the kernels' worker pool, as
// the CPU kernels split their work, for work outside this package (a
// sample's draw from each row of logits); items should be coarse.
func ParallelFor(n int, fn func(i int)) { parallelFor(n, fn) }
