package data

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// prepWriter writes the train and val splits of Prepare.
type prepWriter struct {
	train, val splitWriter
	text       int64 // tokens of text written, the end-of-text tokens aside
}

func newPrepWriter(opts PrepareOptions, dir string) *prepWriter {
	var set [16]byte
	rand.Read(set[:]) // never fails
	mk := func(prefix string) splitWriter {
		return splitWriter{dir: dir, prefix: prefix, vocab: opts.Tokenizer.VocabSize(), max: opts.ShardTokens, set: set}
	}
	return &prepWriter{train: mk("train"), val: mk("val")}
}

func (w *prepWriter) write(r prepResult) error {
	w.text += r.text
	if err := w.train.write(r.train); err != nil {
		return err
	}
	return w.val.write(r.val)
}

// close finishes both splits; when ok is false it removes the unfinished
// shards instead.
func (w *prepWriter) close(ok bool) error {
	return errors.Join(w.train.close(ok), w.val.close(ok))
}

// splitWriter writes one split as shards PREFIX_000.bin, PREFIX_001.bin, ...
// of at most max tokens. A split with no tokens gets no shard.
type splitWriter struct {
	dir, prefix string
	vocab, max  int
	set         [16]byte // the prepare's id, in each shard's header
	cur         *ShardWriter
	shards      int // shards started
	tokens      int64
}

func (s *splitWriter) write(ids []int32) error {
	for len(ids) > 0 {
		if s.cur == nil {
			sw, err := NewShardWriter(ShardPath(s.dir, s.prefix, s.shards), s.vocab, 0)
			if err != nil {
				return err
			}
			sw.SetID = s.set
			s.cur = sw
			s.shards++
		}
		n := min(len(ids), s.max-s.cur.Len())
		if err := writeIDs(s.cur, ids[:n]); err != nil {
			return err
		}
		s.tokens += int64(n)
		ids = ids[n:]
		if s.cur.Len() == s.max {
			if err := s.cur.Close(); err != nil {
				return err
			}
			s.cur = nil
		}
	}
	return nil
}

func (s *splitWriter) close(ok bool) error {
	if s.cur != nil {
		if !ok {
			s.cur.Abort()
			return nil
		}
		if err := s.cur.Close(); err != nil {
			return err
		}
		s.cur = nil
	}
	return nil
}

// prepareLockFile is the lock file of a shard directory (see lockOutDir).
const prepareLockFile = ".prepare.lock"

// stagePrefix names the hidden directories a prepare writes into.
const stagePrefix = ".prepare.tmp-"

// lockOutDir creates outDir and takes an exclusive lock on its
// .prepare.lock for one data prepare at a time (the kernel drops it when the
// process ends, even on SIGKILL); it also checks that the tokenizer can be
// published there.
func lockOutDir(outDir string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Clean(outDir), 0o755); err != nil { // cleaned as every path in it is: a/../b makes no a
		return nil, &InputError{fmt.Errorf("--out %s: %w", outDir, err)}
	}
	if fi, err := os.Lstat(filepath.Join(outDir, shardTokenizerDir)); err == nil && !fi.IsDir() {
		return nil, &InputError{fmt.Errorf("%s is not a directory (a file or a link): data prepare writes its tokenizer there; move it or choose another --out",
			filepath.Join(outDir, shardTokenizerDir))}
	}
	release, err = LockFile(filepath.Join(outDir, prepareLockFile))
	var le *LockedError
	switch {
	case errors.As(err, &le):
		return nil, &InputError{fmt.Errorf("--out %s: another data prepare is writing it; wait for it or choose another --out", outDir)}
	case err != nil:
		return nil, &InputError{fmt.Errorf("--out %s: %w", outDir, err)}
	}
	// A pretrain or finetune that holds the directory's run lock is writing
	// its run there, perhaps before any file shows it (the caller's check).
	// A run takes its lock before it looks for this one (PrepareSign), so
	// of two starting together one sees the other.
	if pid, held := LockHeld(filepath.Join(outDir, RunLockFile)); held {
		os.Remove(filepath.Join(outDir, prepareLockFile)) // held: no other prepare's (the run's directory keeps no file of this one)
		release()
		return nil, &InputError{fmt.Errorf("--out %s: a pretrain or finetune (pid %s) is writing its run there; choose another --out", outDir, pid)}
	}
	return release, nil
}

// RunLockFile is the lock file of a pretrain or finetune run directory.
const RunLockFile = ".lock"

// PrepareSign names what shows that dir is, or is being made, a data
// prepare's shard directory (its shards, the mark of an unfinished move,
// its working directory, or its lock held by a prepare starting there),
// for a run that would write its files in with them; "" when nothing does.
// The lock file of a prepare that ended, or was refused, there is no sign.
func PrepareSign(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, IncompleteFile)); err == nil {
		return "it has " + IncompleteFile
	}
	for _, prefix := range []string{"train", "val"} {
		if shards, _ := ShardFiles(dir, prefix); len(shards) > 0 {
			return "it has token shards, " + filepath.Base(shards[0])
		}
	}
	if stages, _ := FilesIn(dir, func(name string) bool { return strings.HasPrefix(name, stagePrefix) }); len(stages) > 0 {
		return "it has a data prepare's working directory, " + filepath.Base(stages[0])
	}
	if pid, held := LockHeld(filepath.Join(dir, prepareLockFile)); held {
		return "a data prepare (pid " + pid + ") is writing it"
	}
	return ""
}

// newStage makes the hidden directory a prepare writes into, in outDir,
// after removing those an earlier prepare left when it was killed (the
// caller holds outDir's lock, so no other prepare is writing one).
func newStage(outDir string) (string, error) {
	old, err := FilesIn(outDir, func(name string) bool { return strings.HasPrefix(name, stagePrefix) })
	if err != nil {
		return "", err
	}
	for _, d := range old {
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
	}
	return os.MkdirTemp(outDir, stagePrefix)
}

// IncompleteFile marks a shard directory while a data prepare moves its
// shards and tokenizer into place: a directory that has it (the prepare was
// killed or failed there) holds a mix of two sets and is refused.
const IncompleteFile = "PREPARE_INCOMPLETE"

// CheckPrepared refuses a shard directory that a data prepare left
// unfinished.
func CheckPrepared(dir string) error {
	if strings.HasPrefix(filepath.Base(filepath.Clean(dir)), stagePrefix) {
		return &InputError{fmt.Errorf("data %s: the working directory of a data prepare, stopped or still running (its shards may be a part of the set): use the --out directory it writes into", dir)}
	}
	if _, err := os.Stat(filepath.Join(dir, IncompleteFile)); err == nil {
		return &InputError{fmt.Errorf("data %s: a data prepare stopped while moving its shards into place (%s): run it again", dir, IncompleteFile)}
	}
	return nil
}

// publish moves the shards and tokenizer written into stage into outDir,
// in place of an earlier run's: its shards beyond the new ones and its
// tokenizer files (another tokenizer's would be loaded first) are removed.
// IncompleteFile marks outDir until every move is done.
func publish(stage, outDir string) error {
	mark := filepath.Join(outDir, IncompleteFile)
	if err := WriteFile(mark, []byte("a data prepare is moving its shards and tokenizer into this directory\n")); err != nil {
		return err
	}
	for _, prefix := range []string{"train", "val"} {
		old, err := ShardFiles(outDir, prefix)
		if err != nil {
			return err
		}
		for _, f := range old {
			if _, err := os.Stat(filepath.Join(stage, filepath.Base(f))); os.IsNotExist(err) {
				if err := os.Remove(f); err != nil {
					return fmt.Errorf("remove stale shard: %w", err)
				}
			}
		}
		written, err := ShardFiles(stage, prefix)
		if err != nil {
			return err
		}
		for _, f := range written {
			if err := os.Rename(f, filepath.Join(outDir, filepath.Base(f))); err != nil {
				return err
			}
		}
	}
	if err := publishTokenizer(filepath.Join(stage, shardTokenizerDir), filepath.Join(outDir, shardTokenizerDir)); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(stage, ManifestFile), filepath.Join(outDir, ManifestFile)); err != nil {
		return err
	}
	if err := SyncDir(outDir); err != nil { // the moves are durable before the mark goes
		return err
	}
	if err := os.Remove(mark); err != nil {
		return err
	}
	return SyncDir(outDir)
}

// ManifestFile records what a prepare wrote into its directory, so that a
// set copied in part (an interrupted copy of the shards, which copies them
// in name order, leaves the first ones) is refused, not trained on.
const ManifestFile = "shards.json"

// manifest is ManifestFile's content.
type manifest struct {
	SetID     string        `json:"set_id"` // in each shard's header: a manifest another prepare left names another
	Tokenizer string        `json:"tokenizer"`
	VocabSize int           `json:"vocab_size"`
	Train     manifestSplit `json:"train"`
	Val       manifestSplit `json:"val"`
}

type manifestSplit struct {
	Shards int   `json:"shards"`
	Tokens int64 `json:"tokens"`
}

// writeManifest writes the manifest of the set w wrote into stage.
func writeManifest(stage string, tok Tokenizer, w *prepWriter) error {
	b, err := json.MarshalIndent(manifest{SetID: hex.EncodeToString(w.train.set[:]), Tokenizer: tok.Name(), VocabSize: tok.VocabSize(),
		Train: manifestSplit{w.train.shards, w.train.tokens}, Val: manifestSplit{w.val.shards, w.val.tokens}}, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(stage, ManifestFile), append(b, '\n'))
}

// readManifest reads dir's manifest: nil where there is none (a set of a
// build before 2026-12-02).
func readManifest(dir string) (*manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &InputError{fmt.Errorf("shard set %s: %s is damaged (%v): run gptctl data prepare again", dir, ManifestFile, err)}
	}
	return &m, nil
}

// ManifestShards is the number of prefix shards dir's manifest lists;
// known is false where it has none (or an unreadable one).
func ManifestShards(dir, prefix string) (n int, known bool) {
	m, err := readManifest(dir)
	if err != nil || m == nil {
		return 0, false
	}
	s, ok := m.split(prefix)
	return s.Shards, ok
}

// split is the manifest's record of prefix's shards.
func (m *manifest) split(prefix string) (manifestSplit, bool) {
	switch {
	case m == nil:
		return manifestSplit{}, false
	case prefix == "train":
		return m.Train, true
	case prefix == "val":
		return m.Val, true
	}
	return manifestSplit{}, false
}

// tokenizerFiles are the files a tokenizer saves itself in, whichever kind.
var tokenizerFiles = []string{CharTokenizerFile, GPT2EncoderFile, GPT2MergesFile, GPT1EncoderFile, GPT1MergesFile,
	hfVocabFile, hfMergesFile, hfTokenizerConfigFile}

// publishTokenizer moves the tokenizer files written into from into the
// directory to, after removing the tokenizer files there (another
// tokenizer's would be loaded first); other files in it are left alone.
func publishTokenizer(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, name := range tokenizerFiles {
		if err := os.Remove(filepath.Join(to, name)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	written, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range written {
		if err := os.Rename(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return SyncDir(to)
}
