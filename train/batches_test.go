package train

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// The sampler draws every window of t+1 tokens, the corpus's last token
// included as a target, and a source of exactly one window is enough.
func TestSamplerDrawsEveryWindow(t *testing.T) {
	const T = 4
	src := Tokens{0, 1, 2, 3, 4, 5, 6} // starts 0, 1 and 2
	s, err := NewSampler(src, T, 1)
	if err != nil {
		t.Fatal(err)
	}
	in, tg := make([]int32, T), make([]int32, T)
	seen := map[int32]int{}
	for range 300 {
		if err := s.Fill(in, tg, 1); err != nil {
			t.Fatal(err)
		}
		if tg[0] != in[0]+1 || tg[T-1] != in[0]+T {
			t.Fatalf("window %v, targets %v", in, tg)
		}
		seen[in[0]]++
	}
	if len(seen) != 3 || seen[2] == 0 {
		t.Errorf("window starts drawn %v, want 0, 1 and 2", seen)
	}
	one, err := NewSampler(Tokens{0, 1, 2, 3, 4}, T, 1)
	if err != nil {
		t.Fatalf("a source of one window: %v", err)
	}
	if err := one.Fill(in, tg, 1); err != nil || in[0] != 0 || tg[T-1] != 4 {
		t.Errorf("the one window: %v %v %v", in, tg, err)
	}
	if _, err := NewSampler(Tokens{0, 1, 2, 3}, T, 1); err == nil {
		t.Error("four tokens make no window of 4 inputs and a target")
	}
}

// A resume over a text corpus that changed since the checkpoint (another
// file, an edit that changed its length, another seq_len) is refused, as
// over shards; the sampler's state also reads checkpoints that saved the
// generator alone.
func TestResumeOnTextWithChangedData(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("to be, or not to be: that is the question. ", 400)
	corpus := writeFile(t, filepath.Join(dir, "corpus.txt"), text)
	other := writeFile(t, filepath.Join(dir, "other.txt"), text[:len(text)/2])
	run := filepath.Join(dir, "run")
	cfg := tinyConfig(t, "data="+corpus, "max_steps=4", "checkpoint_interval=0")
	ctx, cancel := context.WithCancelCause(context.Background())
	if _, err := Pretrain(ctx, cfg, Options{OutDir: run, Log: io.Discard, AfterStep: func(int) { cancel(nil) }}); err != nil {
		t.Fatal(err)
	}
	resume := func(sets ...string) error {
		rc, err := Load(filepath.Join(run, "train.yaml"), sets)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Pretrain(context.Background(), rc, Options{OutDir: run, Resume: true, Log: io.Discard})
		return err
	}
	var ce *ConfigError
	for _, c := range []struct{ set, want string }{
		{"seq_len=8", "seq_len 8, but the run trains on sequences of 16"},
		{"data=" + other, "data " + other + ", but the run trains on " + corpus},
	} {
		if err := resume(c.set); !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("resume with %s: %v, want a config error with %q", c.set, err, c.want)
		}
	}
	var ie *InputError
	// Edited to the same length: the same count of tokens, other ids; and
	// another file of the same length.
	same := strings.Replace(text, "question", "noitseuq", 1)
	if err := resume("data=" + writeFile(t, filepath.Join(dir, "same.txt"), same)); !errors.As(err, &ce) || !strings.Contains(err.Error(), "but the run trains on "+corpus) {
		t.Errorf("resume on another file of the same length: %v, want a config error naming the run's data", err)
	}
	writeFile(t, corpus, same)
	if err := resume(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "changed since the checkpoint") || !strings.Contains(err.Error(), "edited") {
		t.Errorf("resume after the corpus was edited to the same length: %v, want an input error", err)
	}
	writeFile(t, corpus, text+"to be. ")
	if err := resume(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "changed since the checkpoint") {
		t.Errorf("resume after the corpus grew: %v, want an input error", err)
	}
	// The validation split (the corpus's end) edited to the same length.
	i := strings.LastIndex(text, "question")
	writeFile(t, corpus, text[:i]+"noitseuq"+text[i+len("question"):])
	if err := resume(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "the validation data ("+corpus+"'s validation split) changed") {
		t.Errorf("resume after the validation split was edited: %v, want an input error", err)
	}
	writeFile(t, corpus, text)
	if err := resume(); err != nil {
		t.Errorf("resume on the corpus put back: %v", err)
	}

	s, err := NewSampler(Tokens{0, 1, 2, 3, 4, 5, 6, 7}, 4, 9)
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := s.pcg.MarshalBinary()
	want, _ := s.State()
	s.Fill(make([]int32, 12), make([]int32, 12), 3)
	if err := s.Restore(legacy); err != nil {
		t.Fatalf("a generator-only state: %v", err)
	}
	if got, _ := s.State(); string(got) != string(want) {
		t.Errorf("restored %s, want %s", got, want)
	}
}
