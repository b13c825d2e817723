package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// A pretrain on shards of 360,000 tokens (more than the 64 blocks of 4 KiB
// a build before sampled of each): a resume on the shards as they were
// goes on, its checkpoint and best.json holding fingerprints of this
// build's or of a build before; shards prepared again from text edited
// to the same token count, a letter between those blocks, are refused
// (exit 2).
func TestResumeOnShardsPreparedAgain(t *testing.T) {
	dir := t.TempDir()
	text := data.BuiltinCorpus()[:400000]
	corpus := writeFile(t, filepath.Join(dir, "corpus.txt"), text)
	shards := filepath.Join(dir, "shards")
	prepare := func() {
		opts := data.DefaultPrepareOptions()
		opts.Tokenizer, opts.Inputs, opts.OutDir, opts.ValFraction = data.ByteTokenizer{}, []string{corpus}, shards, 0.1
		if _, err := data.Prepare(opts); err != nil {
			t.Fatal(err)
		}
	}
	prepare()
	cfg := tinyConfig(t, "data="+shards, "tokenizer=byte", "max_steps=10", "checkpoint_interval=10")
	base := filepath.Join(dir, "base")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: base, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	more := tinyConfig(t, "data="+shards, "tokenizer=byte", "max_steps=12", "checkpoint_interval=10")
	resume := func(name string, old bool, c Config, cut ...string) (string, error) {
		run := killedCopy(t, base, filepath.Join(dir, name), cut)
		if old {
			writeSampledSums(t, run, shards)
		}
		var log strings.Builder
		_, err := Pretrain(context.Background(), c, Options{OutDir: run, Resume: true, Log: &log})
		return log.String(), err
	}
	for _, old := range []bool{false, true} {
		if _, err := resume(fmt.Sprint("same-", old), old, more); err != nil {
			t.Errorf("resume on the same shards (sums of a build before: %v): %v", old, err)
		}
		if log, err := resume(fmt.Sprint("alone-", old), old, cfg, checkpointDir, "checkpoint.prev", "summary.json"); err != nil || strings.Contains(log, "not kept") {
			t.Errorf("resume without a checkpoint on the same shards (sums of a build before: %v): %v; want best/ kept; log:\n%s", old, err, log)
		}
	}
	was := sampledSum(t, shards, "train")
	at := len(text) / 2
	writeFile(t, corpus, text[:at]+string(text[at]^1)+text[at+1:])
	prepare()
	if sampledSum(t, shards, "train") != was {
		t.Fatalf("the edit at byte %d changed the blocks a build before sampled: edit between them", at)
	}
	_, err := resume("edited", false, more)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the shards were prepared again") {
		t.Errorf("resume on shards prepared again from edited text: %v; want it refused", err)
	}
}

// writeSampledSums rewrites the fingerprints of the shards of dir (its
// train and val splits) in run's checkpoint and best.json as builds before
// this one wrote them (sampledSum).
func writeSampledSums(t *testing.T, run, dir string) {
	t.Helper()
	resum := func(b []byte, prefix string) []byte {
		var st data.SamplerState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		st.Sum = sampledSum(t, dir, prefix)
		b, _ = json.Marshal(st)
		return b
	}
	if ck := filepath.Join(run, checkpointDir); isDir(ck) {
		var st State
		if err := readState(ck, &st); err != nil {
			t.Fatal(err)
		}
		st.SamplerRNG, st.ValSampler = resum(st.SamplerRNG, "train"), resum(st.ValSampler, "val")
		if err := writeState(filepath.Join(ck, stateFile), st); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := readBest(run)
	if err != nil || rec == nil || rec.Val == nil {
		t.Fatalf("best/ of %s: %+v, %v; want a record of its validation data", run, rec, err)
	}
	rec.Val.Sum = sampledSum(t, dir, "val")
	if err := writeState(filepath.Join(run, bestDir, bestFile), rec); err != nil {
		t.Fatal(err)
	}
}

// sampledSum is the fingerprint builds before this one gave the shards
// DIR/PREFIX_*.bin: a SHA-256 of each shard's token count, vocabulary size
// and tokens, whole up to 256 KiB, else 64 evenly spaced blocks of 4 KiB.
func sampledSum(t *testing.T, dir, prefix string) string {
	t.Helper()
	files, err := data.ShardFiles(dir, prefix)
	if err != nil || len(files) == 0 {
		t.Fatalf("shards %s_*.bin in %s: %v", prefix, dir, err)
	}
	h := sha256.New()
	for _, f := range files {
		sh, err := data.OpenShard(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(sh.Len())), uint64(sh.VocabSize())))
		sh.Close()
		d, _ := os.ReadFile(f)
		d = d[data.ShardHeaderSize:]
		if len(d) <= 64*4096 {
			h.Write(d)
			continue
		}
		for i := range 64 {
			at := (len(d) - 4096) * i / 63
			h.Write(d[at : at+4096])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
