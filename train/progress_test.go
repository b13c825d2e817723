package train

import (
	"strings"
	"testing"
	"time"
)

// A log line gives the time left from the pace of the steps since the
// first logged one: none on that first line, nor on the last.
func TestProgressETA(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, false)
	line := func(step int) string {
		b.Reset()
		p.log(metrics{"step": step, "train_loss": 2.0, "lr": 1e-3, "tokens_per_s": 100.0}, 100)
		return b.String()
	}
	if got := line(10); strings.Contains(got, "eta") {
		t.Errorf("first line %q: no pace yet, want no eta", got)
	}
	p.firstAt = time.Now().Add(-10 * time.Second) // 10 steps in 10 s
	if got := line(20); !strings.HasSuffix(got, "  eta 1m20s\n") {
		t.Errorf("step 20 of 100 at a second a step: %q, want eta 1m20s", got)
	}
	if got := line(100); strings.Contains(got, "eta") {
		t.Errorf("last line %q: want no eta", got)
	}
}
