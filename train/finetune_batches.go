package train

// Batches of task examples. Each batch is padded to its own longest
// sequence (rounded up to a multiple of 8, at most max_len), and one graph is
// built per padded length, so short examples are not padded to the longest
// of the whole run; on the CPU the graphs share their activation and
// gradient buffers, which the longest sizes. Batches are formed from examples of similar length
// within shuffled chunks, and their order is shuffled again, as a bucket
// iterator does. An epoch's order depends only on the seed and the epoch,
// so a resumed run continues exactly where it stopped.

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// bucketChunk is how many batches' worth of examples are sorted together.
const bucketChunk = 50

// epochBatches returns the batches of one epoch as indexes into exs.
func epochBatches(exs []taskExample, B int, seed uint64, epoch int) [][]int {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	perm := rng.Perm(len(exs))
	var batches [][]int
	size := min(B, len(perm)) * bucketChunk // B beyond the examples makes one chunk, as it would without overflow
	for lo := 0; lo < len(perm); lo += size {
		chunk := perm[lo:min(lo+size, len(perm))]
		slices.SortStableFunc(chunk, func(a, b int) int { return cmp.Compare(exs[a].width, exs[b].width) })
		for i := 0; i < len(chunk); i += B {
			batches = append(batches, chunk[i:min(i+B, len(chunk))])
		}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return batches
}

// evalBatches returns all examples in batches by length, shortest first.
func evalBatches(exs []taskExample, B int) [][]int {
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(exs[a].width, exs[b].width) })
	var batches [][]int
	for i := 0; i < len(order); i += B {
		batches = append(batches, order[i:min(i+B, len(order))])
	}
	return batches
}

// graphSet builds one task graph per padded length, on demand.
type graphSet struct {
	params *graph.Params
	head   graph.HeadConfig
	E      int // examples per batch
	maxLen int
	rng    *graph.RNG
	byT    map[int]*taskGraph
	fixedT int            // > 0: every batch padded to this length (on a GPU)
	opts   []graph.Option // how the graphs are built (modelOptions)
	gpu    gpuTrainer     // device cuda: trains the fixedT graph and runs its predictions, from the first step on

	forwardOnGPU bool       // inference on the GPU (eval, predict): fwd runs the fixedT graph's predictions
	fwd          gpuForward // compiled on the first prediction

	progress func(done, total int) // predict's, after each batch; nil = none
}

type taskGraph struct {
	task  *graph.Task
	tr    *graph.Trainer // built on the first training step
	extra []*G.Node      // L2 and L1, read after a step
	pred  *graph.Program // the head's outputs, forward only (on the CPU)
}

func newGraphSet(p *graph.Params, head graph.HeadConfig, E, maxLen int, rng *graph.RNG) *graphSet {
	return &graphSet{params: p, head: head, E: E, maxLen: maxLen, rng: rng, byT: map[int]*taskGraph{}}
}

// paddedLen is the sequence length of the graph for a batch whose longest
// sequence has width tokens: the first of 8, 16, 24, 32, 48, 64, 96, 128,
// 192, ... that fits (at most a third is padding, and few graphs are built),
// capped at maxLen.
func paddedLen(width, maxLen int) int {
	for p := 8; ; p *= 2 {
		if width <= p {
			return min(p, maxLen)
		}
		if p >= 16 && width <= p*3/2 {
			return min(p*3/2, maxLen)
		}
	}
}

// get returns the graph for a batch whose longest sequence has width tokens.
func (s *graphSet) get(width int) (*taskGraph, error) {
	T := paddedLen(width, s.maxLen)
	if s.fixedT > 0 {
		T = s.fixedT
	}
	if g := s.byT[T]; g != nil {
		return g, nil
	}
	task, err := graph.NewTask(s.params, s.head, s.E, T, s.rng, s.opts...)
	if err != nil {
		return nil, err
	}
	var pred *graph.Program
	switch {
	case s.forwardOnGPU:
		if s.fwd, err = newGPUForward(task.Model, task.Out); err != nil {
			return nil, err
		}
	case s.fixedT == 0:
		if pred, err = task.Forward(task.Out); err != nil {
			return nil, err
		}
	}
	g := &taskGraph{task: task, pred: pred, extra: []*G.Node{task.TaskLoss}}
	if task.LMLoss != nil {
		g.extra = append(g.extra, task.LMLoss)
	}
	s.byT[T] = g
	return g, nil
}

// trainer returns the graph's training program, built on first use.
func (g *taskGraph) trainer() (*graph.Trainer, error) {
	if g.tr == nil {
		tr, err := g.task.Differentiate(g.task.Loss, g.extra...)
		if err != nil {
			return nil, err
		}
		g.tr = tr
	}
	return g.tr, nil
}

// fill writes a batch into the graph's inputs and returns its tokens
// (padding excluded). Missing examples at the end are padding.
func (g *taskGraph) fill(exs []taskExample, batch []int) int {
	t := g.task
	T, rows := t.T, t.Head.Rows
	idx, ext := graph.Int32Data(t.Idx), graph.Int32Data(t.Extract)
	var lmt []int32
	if t.LMTargets != nil {
		lmt = graph.Int32Data(t.LMTargets)
		fillInt32(lmt, -1)
	}
	var mask []float32
	if t.OptionMask != nil {
		mask = graph.Float32Data(t.OptionMask)
		clear(mask)
	}
	clear(idx)
	fillInt32(ext, -1)
	tokens := 0
	for e := 0; e < t.E; e++ {
		label, score := int32(-1), float32(math.NaN())
		if e < len(batch) {
			ex := &exs[batch[e]]
			label, score = ex.label, ex.score
			for j, row := range ex.rows {
				r := e*rows + j
				copy(idx[r*T:(r+1)*T], row)
				ext[r] = int32(r*T + len(row) - 1)
				if lmt != nil {
					copy(lmt[r*T:], row[1:])
				}
				tokens += len(row)
			}
			for j := len(ex.rows); mask != nil && j < rows; j++ {
				mask[e*rows+j] = graph.AbsentOption // fewer options than the head's slots
			}
		}
		if t.Head.Objective == graph.Regress {
			graph.Float32Data(t.Labels)[e] = score
		} else {
			graph.Int32Data(t.Labels)[e] = label
		}
	}
	return tokens
}

func fillInt32(s []int32, v int32) {
	for i := range s {
		s[i] = v
	}
}

// outputs turns the head's output out of a run into the first n examples'
// class or option probabilities, or one-element scores.
func (g *taskGraph) outputs(out []float32, n int) [][]float64 {
	k := len(out) / g.task.E
	res := make([][]float64, n)
	for e := range res {
		row := out[e*k : (e+1)*k]
		if g.task.Head.Objective == graph.Regress {
			res[e] = []float64{float64(row[0])}
		} else {
			res[e] = softmax64(row)
		}
	}
	return res
}

func softmax64(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	p := make([]float64, len(x))
	var z float64
	for i, v := range x {
		p[i] = math.Exp(float64(v) - m)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	return p
}

// predict runs the head over all examples and returns their outputs in the
// order of exs. It stops between batches when ctx is cancelled
// (errEvalStopped).
func (s *graphSet) predict(ctx context.Context, exs []taskExample) ([][]float64, error) {
	out := make([][]float64, len(exs))
	done := 0
	for _, batch := range evalBatches(exs, s.E) {
		if ctx.Err() != nil {
			return nil, errEvalStopped
		}
		g, err := s.get(batchWidth(exs, batch))
		if err != nil {
			return nil, err
		}
		g.fill(exs, batch)
		var raw []float32
		switch {
		case s.gpu != nil:
			if raw, err = s.gpu.predict(g.task.Out); err != nil {
				return nil, err
			}
		case s.fwd != nil:
			if err := s.fwd.run(); err != nil {
				return nil, err
			}
			if raw, err = s.fwd.value(g.task.Out); err != nil {
				return nil, err
			}
		default:
			if g.pred == nil {
				return nil, fmt.Errorf("finetune: no forward program for the %d-token graph", g.task.T)
			}
			if err := g.task.Run(g.pred); err != nil {
				return nil, err
			}
			raw = g.task.Value(g.task.Out)
		}
		for j, o := range g.outputs(raw, len(batch)) {
			out[batch[j]] = o
		}
		if done += len(batch); s.progress != nil {
			s.progress(done, len(exs))
		}
	}
	return out, nil
}

// graphLens is the lengths of the graphs a graphSet builds on the CPU for
// the examples of sets (paddedLen of their widths, at most maxLen), in
// increasing order: an upper bound, since a batch takes its longest row's.
func graphLens(maxLen int, sets ...[]taskExample) []int {
	seen := map[int]bool{}
	for _, exs := range sets {
		for _, e := range exs {
			seen[paddedLen(e.width, maxLen)] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
