package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// byteShards prepares 200 KB of the built-in corpus into dir/shards, byte
// tokens, a tenth for validation, shards of 60,000 tokens.
func byteShards(t *testing.T, dir string) string {
	t.Helper()
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(data.BuiltinCorpus()[:200000]), 0o644); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(dir, "shards")
	opts := data.DefaultPrepareOptions()
	opts.Tokenizer, opts.Inputs, opts.OutDir, opts.ValFraction, opts.ShardTokens = data.ByteTokenizer{}, []string{corpus}, shards, 0.1, 60000
	if _, err := data.Prepare(opts); err != nil {
		t.Fatal(err)
	}
	return shards
}

// Pretraining on token shards from gptctl data prepare: a run works and a
// resumed run sees the same data as an uninterrupted one.
func TestPretrainOnShards(t *testing.T) {
	dir := t.TempDir()
	shards := byteShards(t, dir)
	cfg := tinyConfig(t, "data="+shards, "tokenizer=byte", "checkpoint_interval=0")
	straight := filepath.Join(dir, "straight")
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if lossOf(sum.ValLoss) <= 0 || lossOf(sum.ValLoss) > 5.6 {
		t.Errorf("val loss %v on byte shards", lossOf(sum.ValLoss))
	}
	split := filepath.Join(dir, "split")
	ctx, cancel := context.WithCancelCause(context.Background())
	_, err = Pretrain(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: func(s int) {
		if s == 7 {
			cancel(nil)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(straight, "checkpoint", "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(split, "checkpoint", "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("resumed shard run differs from the uninterrupted one")
	}
}

// Shards made with one tokenizer are refused by a run with another, even of
// the same size, where the ids would silently mean other text.
func TestPretrainOnShardsOfAnotherTokenizer(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	text := strings.Repeat("to be, or not to be: that is the question. ", 400)
	if err := os.WriteFile(corpus, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	made, other := data.NewCharTokenizer(text), data.NewCharTokenizer(strings.Replace(text, "q", "z", -1))
	otherDir := filepath.Join(dir, "other")
	os.Mkdir(otherDir, 0o755)
	if err := other.Save(otherDir); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(dir, "shards")
	if _, err := data.Prepare(data.PrepareOptions{Tokenizer: made, Inputs: []string{corpus}, OutDir: shards, ValFraction: 0.2, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(context.Background(), tinyConfig(t, "data="+shards, "max_steps=2"), Options{OutDir: t.TempDir(), Log: io.Discard}); err != nil {
		t.Fatalf("with the shards' own tokenizer: %v", err)
	}
	for _, spec := range []string{otherDir, "byte"} { // byte is not the default: it names a tokenizer
		_, err := Pretrain(context.Background(), tinyConfig(t, "data="+shards, "tokenizer="+spec, "max_steps=2"), Options{OutDir: t.TempDir(), Log: io.Discard})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the shards were made with another tokenizer") {
			t.Fatalf("tokenizer %s (the shards': %s, %d tokens): %v, want an InputError", spec, made.Name(), made.VocabSize(), err)
		}
	}
}

// A tokenizer that cannot be found is blamed on the config that names it
// (its file, or the --set), not on the shard directory, as with a text
// corpus.
func TestShardsWithMissingTokenizerNameItsSource(t *testing.T) {
	dir := t.TempDir()
	shards := byteShards(t, dir)
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("tokenizer: nonexist\n"), 0o644)
	for _, c := range []struct {
		path string
		sets []string
		want string
	}{
		{"", []string{"tokenizer=nonexist", "data=" + shards}, "config with --set tokenizer=nonexist --set data=" + shards + ": tokenizer nonexist: "},
		{p, []string{"data=" + shards}, "config " + p + " with --set data=" + shards + ": tokenizer nonexist: "},
	} {
		cfg, err := Load(c.path, c.sets)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Pretrain(context.Background(), cfg, Options{OutDir: t.TempDir(), Log: io.Discard})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want an InputError starting %q", c.path, c.sets, err, c.want)
		}
	}
}

// val_data takes a held-out text file or shard directory beside a corpus of
// either kind: a directory prepared for validation is held out whole, its
// training shards and its val split (data prepare's default 0.5% would be
// a small sample alone); data's own directory as val_data gives its val
// split.
func TestValDataWithShards(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("to be, or not to be: that is the question. ", 300)
	held := "whether 'tis nobler in the mind to suffer the slings and arrows of outrageous fortune. "
	corpus := writeFile(t, filepath.Join(dir, "corpus.txt"), text)
	heldFile := writeFile(t, filepath.Join(dir, "held.txt"), strings.Repeat(held, 20))
	tok := data.NewCharTokenizer(text + held)
	prepare := func(name, input string, val float64) string {
		out := filepath.Join(dir, name)
		if _, err := data.Prepare(data.PrepareOptions{Tokenizer: tok, Inputs: []string{input}, OutDir: out, ValFraction: val, Workers: 1}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	shards, heldShards, noVal := prepare("shards", corpus, 0.2), prepare("held", heldFile, 0), prepare("noval", corpus, 0)
	heldSplit := prepare("heldsplit", heldFile, 0.2)
	ownVal := func() int64 {
		co, err := loadCorpus(context.Background(), tinyConfig(t, "data="+shards), nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer co.close()
		return co.val.len()
	}()
	heldIDs := int64(len(tok.Encode(strings.Repeat(held, 20))))
	tokDir := filepath.Join(dir, "tok")
	os.Mkdir(tokDir, 0o755)
	tok.Save(tokDir)

	for _, c := range []struct {
		name       string
		sets       []string
		train, val int64 // tokens; 0: not checked
	}{
		{"shards, val shards alone", []string{"data=" + shards, "val_data=" + heldShards}, 0, heldIDs},
		{"shards, val shards with a val split", []string{"data=" + shards, "val_data=" + heldSplit}, 0, heldIDs},
		{"shards, their own directory as val_data", []string{"data=" + shards, "val_data=" + shards + "/"}, 0, ownVal},
		{"shards, val text", []string{"data=" + shards, "val_data=" + heldFile}, 0, heldIDs},
		{"shards without a val split, val text", []string{"data=" + noVal, "val_data=" + heldFile}, int64(len(tok.Encode(text))), heldIDs},
		{"text, val shards", []string{"data=" + corpus, "tokenizer=" + tokDir, "val_data=" + heldShards}, int64(len(tok.Encode(text))), heldIDs},
		{"shards with their val split", []string{"data=" + shards}, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			co, err := loadCorpus(context.Background(), tinyConfig(t, c.sets...), nil, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer co.close()
			if (c.val != 0 && co.val.len() != c.val) || (c.train != 0 && co.train.len() != c.train) || co.val.len() == 0 {
				t.Errorf("%d training and %d validation tokens; want %d and %d", co.train.len(), co.val.len(), c.train, c.val)
			}
		})
	}
	_, err := loadCorpus(context.Background(), tinyConfig(t, "data="+noVal), nil, io.Discard)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no validation shards") || !strings.Contains(err.Error(), "val_data") {
		t.Errorf("shards without a val split and no val_data: %v", err)
	}
}

// A pretrain whose setup fails after the corpus is open (here the memory
// check of a batch_size far beyond the machine) unmaps its shards: a
// process that goes on, a test binary or a library's caller, keeps no
// mappings or descriptors of them (on Windows they would also keep the
// directory from being removed).
func TestPretrainSetupErrorUnmapsShards(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skipf("no /proc/self/maps to count mappings in: %v", err)
	}
	dir := t.TempDir()
	shards := byteShards(t, dir)
	cfg := tinyConfig(t, "data="+shards, "tokenizer=byte", "batch_size=100000000")
	var ce *ConfigError
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard}); !errors.As(err, &ce) {
		t.Fatalf("batch_size 1e8: %v, want a config error", err)
	}
	maps, _ := os.ReadFile("/proc/self/maps")
	if n := strings.Count(string(maps), shards); n > 0 {
		t.Errorf("%d mappings of %s left after the failed setup", n, shards)
	}
}

// A damaged token in a shard (an id past the vocabulary: a bad disk, a
// partial copy) is an input error naming the shard and its position before
// the first step, wherever it lies, in the training or the validation
// shards: not a run that trains on it until a batch happens to draw it,
// then fails as if after its start.
func TestPretrainRefusesDamagedShard(t *testing.T) {
	for _, c := range []struct{ shard, want string }{
		{"train_002.bin", "train_002.bin: token 65535 at position 12345 is outside the vocabulary of 256"},
		{"val_000.bin", "val_000.bin: token 65535 at position 12345 is outside the vocabulary of 256"},
	} {
		dir := t.TempDir()
		shards := byteShards(t, dir)
		path := filepath.Join(shards, c.shard)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint16(b[data.ShardHeaderSize+2*12345:], 0xFFFF)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		run := filepath.Join(dir, "run")
		sum, err := Pretrain(context.Background(), tinyConfig(t, "data="+shards, "tokenizer=byte"), Options{OutDir: run, Log: io.Discard})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || sum != nil {
			t.Errorf("%s damaged: %+v, %v; want an input error with %q", c.shard, sum, err, c.want)
		}
		for _, f := range []string{"summary.json", "checkpoint", "metrics.jsonl"} {
			if _, err := os.Stat(filepath.Join(run, f)); err == nil {
				t.Errorf("%s damaged: the run wrote %s", c.shard, f)
			}
		}
	}
}

// A run begun when a val_data shard directory validated on its val split
// alone (before 2026-12-02) resumes so: its checkpoint's validation state
// restores on that split; a state of other data is still refused.
func TestResumeHeldOutValSplit(t *testing.T) {
	dir := t.TempDir()
	shards := byteShards(t, dir)
	text := filepath.Join(dir, "held.txt")
	if err := os.WriteFile(text, []byte(data.BuiltinCorpus()[200000:300000]), 0o644); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held")
	opts := data.DefaultPrepareOptions()
	opts.Tokenizer, opts.Inputs, opts.OutDir, opts.ValFraction = data.ByteTokenizer{}, []string{text}, held, 0.2
	if _, err := data.Prepare(opts); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t, "data="+shards, "val_data="+held, "tokenizer=byte", "max_steps=10", "checkpoint_interval=0")
	run := filepath.Join(dir, "run")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: run, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	stateOn := func(prefix string) []byte {
		var s split
		if err := s.openShards("val_data", held, []string{prefix}, data.ByteTokenizer{}); err != nil {
			t.Fatal(err)
		}
		defer s.sh.Close()
		src, err := s.sampler(cfg.T(), cfg.Seed+3)
		if err != nil {
			t.Fatal(err)
		}
		b, err := src.State()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resume := func(saved []byte, steps string) (string, error) {
		ck := filepath.Join(run, checkpointDir)
		var st State
		if err := readState(ck, &st); err != nil {
			t.Fatal(err)
		}
		st.ValSampler = saved
		if err := writeState(filepath.Join(ck, stateFile), st); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		more := tinyConfig(t, "data="+shards, "val_data="+held, "tokenizer=byte", "max_steps="+steps, "checkpoint_interval=0")
		_, err := Pretrain(context.Background(), more, Options{OutDir: run, Resume: true, Log: &log})
		return log.String(), err
	}
	if log, err := resume(stateOn("val"), "12"); err != nil || !strings.Contains(log, "validating on its val split alone") {
		t.Errorf("a run begun on the val split alone: %v\n%s", err, log)
	}
	if _, err := resume(stateOn("train"), "14"); err == nil || !strings.Contains(err.Error(), "the validation data") {
		t.Errorf("a validation state of other data: %v; want it refused", err)
	}
}

// A shard directory copied in part is refused: without its tokenizer (its
// ids would be read with any vocabulary as large), or without its val
// shards, which its manifest lists (not "data prepare wrote none").
func TestShardsCopiedInPart(t *testing.T) {
	dir := t.TempDir()
	shards := byteShards(t, dir)
	cfg := func(sets ...string) Config {
		return tinyConfig(t, append([]string{"data=" + shards, "max_steps=2"}, sets...)...)
	}
	saved := filepath.Join(dir, "saved-tokenizer")
	if err := os.Rename(filepath.Join(shards, "tokenizer"), saved); err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	for _, sets := range [][]string{{"tokenizer=byte"}, nil} { // a tokenizer named, or the shards' own
		_, err := Pretrain(context.Background(), cfg(sets...), Options{OutDir: filepath.Join(dir, "a"), Log: io.Discard})
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the shards have no tokenizer beside them") {
			t.Errorf("shards without their tokenizer, %v: %v", sets, err)
		}
	}
	if err := os.Rename(saved, filepath.Join(shards, "tokenizer")); err != nil {
		t.Fatal(err)
	}
	os.Remove(data.ShardPath(shards, "val", 0))
	_, err := Pretrain(context.Background(), cfg(), Options{OutDir: filepath.Join(dir, "b"), Log: io.Discard})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "val_000.bin is missing") {
		t.Errorf("shards without their val shards: %v", err)
	}
}

// A validation file that is also one of the training files (the same
// file, or one a glob of data matches) is trained on: the run warns, as a
// finetune does.
func TestValDataAmongTrainingFiles(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("to be, or not to be: that is the question. ", 50)
	os.Mkdir(filepath.Join(dir, "corpus"), 0o755)
	for _, name := range []string{"a.txt", "b.txt", "val.txt"} {
		writeFile(t, filepath.Join(dir, "corpus", name), text)
	}
	apart := writeFile(t, filepath.Join(dir, "held.txt"), text)
	for _, c := range []struct {
		data, val string
		warned    bool
	}{
		{filepath.Join(dir, "corpus", "a.txt"), filepath.Join(dir, "corpus", "a.txt"), true},
		{filepath.Join(dir, "corpus", "*.txt"), filepath.Join(dir, "corpus", "val.txt"), true},
		{filepath.Join(dir, "corpus", "[ab].txt"), filepath.Join(dir, "corpus", "val.txt"), false},
		{filepath.Join(dir, "corpus", "*.txt"), apart, false},
	} {
		var log strings.Builder
		co, err := loadCorpus(context.Background(), tinyConfig(t, "data="+c.data, "val_data="+c.val), nil, &log)
		if err != nil {
			t.Fatal(err)
		}
		co.close()
		if got := strings.Contains(log.String(), "warning: val_data "+c.val+" is one of the training files"); got != c.warned {
			t.Errorf("data %s, val_data %s: warned %v, want %v (%q)", c.data, c.val, got, c.warned, log.String())
		}
	}
}
