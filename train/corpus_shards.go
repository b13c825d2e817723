package train

// A corpus's token shards, the directories gptctl data prepare writes:
// opened and read through once, checked against the tokenizer saved beside
// them, and which of their splits validate.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gptctl/data"
)

// checkShardTokenizers compares tok with the tokenizer saved beside the
// shards of cfg.Data (when checkData) and of cfg.ValData (a directory of
// shards, valDir, other than cfg.Data): each directory's saved tokenizer is
// read and compared once.
func checkShardTokenizers(cfg Config, tok data.Tokenizer, checkData, valDir bool) error {
	if checkData {
		if err := checkSavedTokenizer("data", cfg.Data, tok); err != nil {
			return err
		}
	}
	if valDir && cfg.ValData != cfg.Data {
		if err := checkSavedTokenizer("val_data", cfg.ValData, tok); err != nil {
			return err
		}
	}
	return nil
}

// heldOutPrefixes is the shards of the val_data directory that validate: a
// directory prepared for validation is held out whole, its train and val
// splits (data prepare splits off 0.5% by default, which alone would be a
// small sample); the data directory itself as val_data gives its val split.
func heldOutPrefixes(cfg Config) []string {
	if a, err := os.Stat(cfg.Data); err == nil {
		if b, err := os.Stat(cfg.ValData); err == nil && os.SameFile(a, b) {
			return []string{"val"}
		}
	}
	return []string{"train", "val"}
}

// openShards opens the shards of dir of the prefixes, in turn, whose ids
// must fit tok's vocabulary (checkSavedTokenizer compares the tokenizer
// saved beside them, once per directory).
func (s *split) openShards(key, dir string, prefixes []string, tok data.Tokenizer) error {
	set, err := data.OpenShardSet(dir, prefixes...)
	if err != nil {
		return &InputError{Err: fmt.Errorf("%s: %w", key, err)}
	}
	if v := set.VocabSize(); v > tok.VocabSize() {
		set.Close()
		return inputErrorf("%s %s: the shards hold ids up to %d, the tokenizer %s has %d", key, dir, v, tok.Name(), tok.VocabSize())
	}
	s.sh = set
	return nil
}

// openCheckedShards is openShards, then a read of every id of the shards:
// a damaged one is an input error naming its shard and position before
// the first step, not when a batch happens to draw it (then the run failed
// after its start, or trained on it). A cancelled ctx stops the read
// (errLoadStopped).
func (s *split) openCheckedShards(ctx context.Context, key, dir string, prefixes []string, tok data.Tokenizer) error {
	if err := s.openShards(key, dir, prefixes, tok); err != nil {
		return err
	}
	err := s.sh.Check(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return errLoadStopped
	case err != nil:
		return &InputError{Err: fmt.Errorf("%s: %w", key, err)}
	}
	return nil
}

// onlyTrainShards reports whether dir was prepared without a validation
// split: training shards and no val shards (nor a manifest that lists
// some: a set copied without them is told so when they are opened).
func onlyTrainShards(dir string) bool {
	if n, known := data.ManifestShards(dir, "val"); known && n > 0 {
		return false
	}
	count := func(prefix string) int {
		n, _ := data.ShardFiles(dir, prefix)
		return len(n)
	}
	return count("val") == 0 && count("train") > 0
}

// noShardTokenizer refuses the shard directory dir (of the config key)
// copied without its tokenizer, without which its ids cannot be what.
func noShardTokenizer(key, dir, what string) error {
	return inputErrorf("%s %s: the shards have no tokenizer beside them (%s, which data prepare writes), so their ids cannot be %s: copy the shard directory whole, or prepare the text again",
		key, dir, filepath.Join(dir, "tokenizer"), what)
}

// checkSavedTokenizer refuses a shard directory whose saved tokenizer
// (DIR/tokenizer, as gptctl data prepare writes it) has another vocabulary
// than tok: its ids would mean other text.
func checkSavedTokenizer(key, dir string, tok data.Tokenizer) error {
	saved, err := data.LoadTokenizer(filepath.Join(dir, "tokenizer"))
	if err != nil {
		return &InputError{Err: fmt.Errorf("%s %s: %w", key, dir, err)}
	}
	if saved == nil { // copied without it: ids of any vocabulary up to the model's would be taken
		return noShardTokenizer(key, dir, "checked against the model's")
	}
	if !data.SameVocabulary(saved, tok) {
		return inputErrorf("%s %s: the shards were made with another tokenizer (%s, %d tokens in %s) than the model's (%s, %d tokens); prepare them again with data prepare --tokenizer set to the model's tokenizer (a model or run directory, or its tokenizer: value)",
			key, dir, saved.Name(), saved.VocabSize(), filepath.Join(dir, "tokenizer"), tok.Name(), tok.VocabSize())
	}
	return nil
}
