package data

import "testing"

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"lr", "", 2}, {"n_heads", "n_head", 1}, {"lamda", "lambda", 1}, {"n_haed", "n_head", 1}, {"kitten", "sitting", 3}, {"txt", "text", 1}} {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
