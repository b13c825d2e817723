package graph

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// OpTime is the device time of one kind of op over a profiled span.
type OpTime struct {
	Op    string  `json:"op"`
	Calls int     `json:"calls"`
	MS    float64 `json:"ms"`
}

type profile struct {
	mu  sync.Mutex
	ops map[string]*OpTime
}

// deviceProfile, while not nil, gets the device time of every step a
// DeviceProgram runs, each timed alone (the stream waits after each, so a
// profiled run is slower than an unprofiled one; the shares are what count).
var deviceProfile atomic.Pointer[profile]

// StartDeviceProfile starts timing every op the device executor runs.
func StartDeviceProfile() { deviceProfile.Store(&profile{ops: map[string]*OpTime{}}) }

// StopDeviceProfile stops timing and returns the time per kind of op, the
// most expensive first.
func StopDeviceProfile() []OpTime {
	p := deviceProfile.Swap(nil)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]OpTime, 0, len(p.ops))
	for _, t := range p.ops {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b OpTime) int { return cmp.Or(cmp.Compare(b.MS, a.MS), strings.Compare(a.Op, b.Op)) })
	return out
}

func (p *profile) add(op string, ms float64) {
	if i := strings.IndexAny(op, "( "); i > 0 { // the kind, not its shapes
		op = op[:i]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.ops[op]
	if t == nil {
		t = &OpTime{Op: op}
		p.ops[op] = t
	}
	t.Calls++
	t.MS += ms
}
