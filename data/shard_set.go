package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ShardSet is the shards DIR/PREFIX_000.bin, DIR/PREFIX_001.bin, ... of one
// split, in order, read as one sequence of tokens.
type ShardSet struct {
	shards []*Shard
	total  int64
	vocab  int
	name   string // DIR/PREFIX_*.bin, for messages
	sum    string // Fingerprint, once computed
}

// FilesIn lists the entries of dir whose names match, dir/NAME in name
// order; none when dir does not exist. dir is a name, never a pattern: in
// filepath.Glob a directory named sh[1] would be the pattern matching sh1.
func FilesIn(dir string, match func(name string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var files []string
	for _, e := range entries {
		if match(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files, err
}

// ShardPath returns DIR/PREFIX_NNN.bin, the name Prepare gives shard i.
func ShardPath(dir, prefix string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("%s_%03d.bin", prefix, i))
}

// ShardFiles lists DIR/PREFIX_<digits>.bin in numeric order.
func ShardFiles(dir, prefix string) ([]string, error) {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `_([0-9]+)\.bin$`)
	files, err := FilesIn(dir, re.MatchString)
	if err != nil {
		return nil, fmt.Errorf("list shards in %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool {
		a, b := filepath.Base(files[i]), filepath.Base(files[j])
		return len(a) < len(b) || len(a) == len(b) && a < b
	})
	return files, nil
}

// OpenShardSet opens every shard DIR/PREFIX_NNN.bin (prefix "train" or
// "val" for the output of Prepare), of each prefix in turn as one set (a
// prefix of several without shards adds none). The shards must share a
// vocabulary size.
func OpenShardSet(dir string, prefixes ...string) (*ShardSet, error) {
	if err := CheckPrepared(dir); err != nil {
		return nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	files, counts, err := listShards(dir, prefixes)
	if err != nil {
		return nil, err
	}
	pattern := "{" + strings.Join(prefixes, ",") + "}_*.bin"
	if len(prefixes) == 1 {
		pattern = prefixes[0] + "_*.bin"
	}
	if len(files) == 0 {
		for _, prefix := range prefixes { // all gone: the manifest says what was there
			if err := m.checkCount(dir, prefix, 0); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("no shards %s in %s (run gptctl data prepare --out %s)", pattern, dir, dir)
	}
	set := &ShardSet{name: filepath.Join(dir, pattern)}
	if err := set.openAll(files); err != nil {
		return nil, err
	}
	if err := m.check(dir, prefixes, counts, set); err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}

// listShards is the shard files of each prefix in dir, in turn, and how
// many each prefix has. A prefix's shards are numbered from 0 without a
// gap: a set copied in part is refused rather than trained on in part.
func listShards(dir string, prefixes []string) (files []string, counts []int, err error) {
	counts = make([]int, len(prefixes))
	for k, prefix := range prefixes {
		f, err := ShardFiles(dir, prefix)
		if err != nil {
			return nil, nil, err
		}
		for i, f := range f {
			if n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix+"_"), ".bin")); n != i {
				return nil, nil, &InputError{fmt.Errorf("shard set %s: %s is missing (the set goes on with %s): copy the whole set, or run gptctl data prepare again", dir, filepath.Base(ShardPath(dir, prefix, i)), filepath.Base(f))}
			}
		}
		counts[k] = len(f)
		files = append(files, f...)
	}
	return files, counts, nil
}

// openAll opens the shard files into s; they must share a
// vocabulary size. On an error s is closed.
func (s *ShardSet) openAll(files []string) error {
	for _, f := range files {
		sh, err := OpenShard(f)
		if err != nil {
			s.Close()
			if errors.Is(err, syscall.ENOMEM) { // most often out of maps, not of memory
				return &InputError{fmt.Errorf("%w: each shard is mapped into memory, and a process may hold a limited number of maps%s, its own and those of the train and val sets (this one has %d shards): prepare the corpus again with a larger --shard-tokens (fewer, larger shards; the default is %d tokens), or raise the limit (sysctl vm.max_map_count); or memory itself ran out (ulimit -v)",
					err, mapLimitText(), len(files), DefaultShardTokens)}
			}
			return err
		}
		if s.vocab != 0 && sh.VocabSize() != s.vocab {
			s.Close()
			sh.Close()
			return fmt.Errorf("shard %s: vocab size %d, but %s has %d (shards from different tokenizers)", f, sh.VocabSize(), files[0], s.vocab)
		}
		s.vocab = sh.VocabSize()
		s.shards = append(s.shards, sh)
		s.total += int64(sh.Len())
	}
	return nil
}

// mapLimitText is the limit on a process's memory maps for a message, ""
// where unknown.
func mapLimitText() string {
	if n := MapLimit(); n > 0 {
		return fmt.Sprintf(" (vm.max_map_count, %d)", n)
	}
	return ""
}

// Shards returns the open shards in order.
func (s *ShardSet) Shards() []*Shard { return s.shards }

// Len returns the number of tokens in all shards.
func (s *ShardSet) Len() int64 { return s.total }

// VocabSize returns the vocabulary size of the shards.
func (s *ShardSet) VocabSize() int { return s.vocab }

// Close closes every shard.
func (s *ShardSet) Close() error {
	var errs []error
	for _, sh := range s.shards {
		errs = append(errs, sh.Close())
	}
	return errors.Join(errs...)
}
