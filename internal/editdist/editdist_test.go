package editdist

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"lr", "", 2}, {"n_heads", "n_head", 1}, {"lamda", "lambda", 1}, {"n_haed", "n_head", 1}, {"kitten", "sitting", 3}, {"txt", "text", 1}} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
