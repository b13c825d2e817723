package train

import (
	"io"
	"math"
	"testing"
	"time"
)

// The time left is the pace of the steps since the first logged times the
// steps to go, and none where that passes what a Duration holds (a run
// of absurdly many steps), where it had overflowed to a negative time.
func TestProgressETA(t *testing.T) {
	p := newProgress(io.Discard, false)
	p.eta(10, 110)
	p.firstAt = p.firstAt.Add(-10000 * time.Second) // 1,000 s a step
	if left, ok := p.eta(20, 110); !ok || left < 90000*time.Second || left > 90010*time.Second {
		t.Errorf("10 steps in 10,000 s, 90 to go: eta %v, %v; want 25h0m0s", left, ok)
	}
	if left, ok := p.eta(20, math.MaxInt); ok {
		t.Errorf("%d steps to go at 1,000 s a step: eta %v; want none", math.MaxInt-20, left)
	}
}
