package graph

import (
	"strings"
	"testing"
)

// A model far beyond the machine's memory is refused by name before any
// allocation; one that fits is not.
func TestNewParamsRefusesWhatCannotFit(t *testing.T) {
	if SystemMemory() <= 0 {
		t.Skip("this system does not say how much memory it has (/proc/meminfo)")
	}
	ok := Config{Arch: "gpt1", VocabSize: 50, NCtx: 16, NEmbd: 32, NHead: 2, NLayer: 1, LNEps: 1e-5}
	if _, err := NewParams(ok, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.NEmbd = 1 << 20 }, "n_embd 1048576"},
		{func(c *Config) { c.NCtx = 2_000_000_000 }, "n_ctx 2000000000"},
		{func(c *Config) { c.NLayer = 100_000_000 }, "n_layer 100000000"},
		{func(c *Config) { c.VocabSize = 2_000_000_000; c.NEmbd = 1024; c.NHead = 1 }, "vocab_size 2000000000"},
	} {
		cfg := ok
		c.set(&cfg)
		if _, err := NewParams(cfg, nil); err == nil || !strings.Contains(err.Error(), "more than this machine's") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want the model refused for memory", c.want, err)
		}
	}
}
