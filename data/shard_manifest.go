package data

// A shard set checked against the manifest its data prepare wrote
// (shards.json): the number of shards of each prefix, the tokens they hold,
// and no shards of another prepare mixed in.

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// check refuses the set of dir's prefixes (counts shards each) where the
// manifest m (nil: none) lists other shards or other tokens, or where some
// of its shards are of the prepare m names and some not. Where none is,
// m is another prepare's (an earlier build's, which wrote no manifest,
// prepared the directory again) and is not the set's to check.
func (m *manifest) check(dir string, prefixes []string, counts []int, set *ShardSet) error {
	if m == nil || m.SetID == "" {
		return nil
	}
	ours := 0
	var other *Shard
	for _, s := range set.shards {
		if hex.EncodeToString(s.set[:]) == m.SetID {
			ours++
		} else if other == nil {
			other = s
		}
	}
	switch {
	case ours == 0:
		return nil
	case other != nil:
		return &InputError{fmt.Errorf("shard set %s: %s is not of the data prepare %s lists (shards of another prepare are mixed in): run gptctl data prepare again into an empty directory",
			dir, filepath.Base(other.path), ManifestFile)}
	}
	for k, prefix := range prefixes { // the last ones missing, or more
		if err := m.checkCount(dir, prefix, counts[k]); err != nil {
			return err
		}
	}
	return m.checkTokens(dir, prefixes, set)
}

// checkCount refuses n shards of prefix in dir where the manifest m (nil:
// none) lists another number.
func (m *manifest) checkCount(dir, prefix string, n int) error {
	want, ok := m.split(prefix)
	switch {
	case !ok || n == want.Shards:
		return nil
	case n < want.Shards:
		return &InputError{fmt.Errorf("shard set %s: %s is missing (%s lists %d %s shards, %d are here): copy the whole set, or run gptctl data prepare again",
			dir, filepath.Base(ShardPath(dir, prefix, n)), ManifestFile, want.Shards, prefix, n)}
	}
	return &InputError{fmt.Errorf("shard set %s: %d %s shards, but %s lists %d (shards of another prepare are mixed in): run gptctl data prepare again into an empty directory",
		dir, n, prefix, ManifestFile, want.Shards)}
}

// checkTokens refuses a set whose shards of each prefix hold another
// number of tokens than the manifest m lists.
func (m *manifest) checkTokens(dir string, prefixes []string, set *ShardSet) error {
	i := 0
	for _, prefix := range prefixes {
		want, ok := m.split(prefix)
		if !ok {
			return nil
		}
		var n int64
		for range want.Shards {
			n += int64(set.shards[i].Len())
			i++
		}
		if n != want.Tokens {
			return &InputError{fmt.Errorf("shard set %s: the %s shards hold %d tokens, %s lists %d (a shard was cut short or replaced): copy the whole set, or run gptctl data prepare again",
				dir, prefix, n, ManifestFile, want.Tokens)}
		}
	}
	return nil
}
