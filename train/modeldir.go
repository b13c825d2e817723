package train

// Loading a model for eval, generate and finetune: a gptctl run directory
// (its checkpoint/), a checkpoint directory, or a Hugging Face model
// directory (config.json + model.safetensors, model_type gpt2 or openai-gpt).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"gptctl/data"
	"gptctl/graph"
)

// ModelDir returns the directory holding config.json and model.safetensors
// for a run directory or model directory. Of a run, that is its latest
// checkpoint whose model files match the checksums of its state.json, as
// --resume takes it: checkpoint/, else checkpoint.prev/ (a checkpoint
// without state.json is damaged). A model or checkpoint directory named
// itself is taken as it is.
func ModelDir(dir string) (string, error) {
	md, _, err := ModelDirNote(dir)
	return md, err
}

// ModelDirNote is ModelDir with a note for the log, "" when there is
// nothing to say: that a run's latest checkpoint was passed over for
// checkpoint.prev, and why (damaged, or missing), or that the files of a checkpoint directory
// named directly differ from its state.json's checksums (it is read as it
// is: an edit may be deliberate).
func ModelDirNote(dir string) (md, note string, err error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		what := "not a directory"
		if errors.Is(err, fs.ErrNotExist) {
			what = "no such directory"
		}
		return "", "", fmt.Errorf("model %s: %s (pass a gptctl run directory or a Hugging Face model directory)", dir, what)
	}
	var damaged []error
	for _, d := range []string{filepath.Join(dir, checkpointDir), dir, filepath.Join(dir, prevDir)} {
		if _, err := os.Stat(filepath.Join(d, "config.json")); err != nil {
			if _, errDir := os.Stat(d); errDir == nil && d != dir {
				damaged = append(damaged, fmt.Errorf("checkpoint %s: no config.json", d))
			}
			continue
		}
		if d != dir { // a run's checkpoint
			if err := intactCheckpoint(dir, d); err != nil {
				damaged = append(damaged, err)
				continue
			}
		} else if err := intactModel(d); err != nil {
			note = fmt.Sprintf("model %s: %v: its files are read as they are", dir, err)
		}
		switch {
		case len(damaged) > 0:
			note = fmt.Sprintf("model %s: %v; reading %s instead", dir, errors.Join(damaged...), d)
		case d == filepath.Join(dir, prevDir): // checkpoint/ is gone: being replaced, or removed
			note = fmt.Sprintf("model %s: it has no %s/ (a checkpoint being written, or one removed); reading %s, the checkpoint before", dir, checkpointDir, d)
		}
		return d, note, nil
	}
	if len(damaged) > 0 {
		return "", "", fmt.Errorf("model %s: no usable checkpoint: %w%s", dir, errors.Join(damaged...), bestInstead(dir))
	}
	if _, noWeights := os.Stat(filepath.Join(dir, modelFile)); noWeights != nil && IsRunDir(dir) { // a run that has written no checkpoint yet (a checkpoint holds the job file too)
		if _, err := os.Stat(filepath.Join(dir, bestDir, "config.json")); err == nil {
			return "", "", fmt.Errorf("model %s: the run has no checkpoint/ or checkpoint.prev/; its best model is %s (pass that)", dir, filepath.Join(dir, bestDir))
		}
		return "", "", fmt.Errorf("model %s: the run has no checkpoint yet (its first comes at checkpoint_interval, or at the end; --resume continues a run stopped before it from step 0)", dir)
	}
	return "", "", fmt.Errorf("model %s: no config.json (pass a gptctl run directory or a Hugging Face model directory)", dir)
}

// intactCheckpoint checks ck, a checkpoint of the run directory runDir,
// as intactModel does; one without state.json is damaged too (a checkpoint
// is written whole with it, and --resume passes over one without it), where
// the directory is a run's (its job file, beside ck or in it). A model
// directory put there by hand, without either, passes.
func intactCheckpoint(runDir, ck string) error {
	if !fileExists(filepath.Join(ck, stateFile)) && (IsRunDir(runDir) || IsRunDir(ck)) {
		return fmt.Errorf("checkpoint %s: no %s (a checkpoint is written whole with it: this one is damaged)", ck, stateFile)
	}
	return intactModel(ck)
}

// bestInstead points at a run's best/, for a run without a usable
// checkpoint: "" where it has none, or one damaged too.
func bestInstead(runDir string) string {
	best := filepath.Join(runDir, bestDir)
	if !fileExists(filepath.Join(best, "config.json")) || intactModel(best) != nil {
		return ""
	}
	return fmt.Sprintf("; its best model is %s (pass that)", best)
}

// intactChecked remembers what intactModel found of a checkpoint (nil
// when intact), by directory and the time of its state.json, so that a
// process reads a model's files for their checksums once.
var intactChecked sync.Map

// intactModel checks the files a model is read from (all but the
// optimizer's moments) against the checksums of the directory's
// state.json (a checkpoint) or best.json (a run's best/); a directory with
// neither (a model directory) passes.
func intactModel(dir string) error {
	for _, name := range []string{stateFile, bestFile} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		key := path + "\x00" + fi.ModTime().String()
		if found, ok := intactChecked.Load(key); ok {
			err, _ := found.(error)
			return err
		}
		err = checkModelFiles(path)
		intactChecked.Store(key, err)
		return err
	}
	return nil
}

// checkModelFiles checks the files beside path, a state.json or best.json,
// but the optimizer's against the checksums it lists, and it against its
// own.
func checkModelFiles(path string) error {
	b, _, err := sealedJSON(path)
	if err != nil {
		return err
	}
	var st struct {
		Files map[string]string `json:"files"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, data.JSONError(err))
	}
	files := maps.Clone(st.Files)
	delete(files, optimFile)
	if len(files) > 0 {
		return verifyFiles(filepath.Dir(path), files)
	}
	return nil
}

// LoadModel loads the weights and the tokenizer of a model directory. The
// tokenizer is nil when the directory has none (a bare Hugging Face
// checkpoint); callers that need text then say so.
func LoadModel(dir string) (*graph.Params, data.Tokenizer, error) {
	md, err := ModelDir(dir)
	if err != nil {
		return nil, nil, err
	}
	cfg, defaults, err := readHFConfig(filepath.Join(md, "config.json"))
	if err != nil {
		return nil, nil, err
	}
	p, err := graph.NewParams(cfg, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", md, err)
	}
	single, index := filepath.Join(md, modelFile), filepath.Join(md, shardIndexFile)
	switch {
	case fileExists(single):
		err = LoadWeights(p, single)
	case fileExists(index):
		err = LoadShardedWeights(p, index)
	default:
		if err := pickledWeights(md); err != nil {
			return nil, nil, err
		}
		err = LoadWeights(p, single) // says the file is missing
	}
	if err != nil {
		if errors.As(err, &mismatchError{}) { // the sizes config.json left out may be why
			err = fmt.Errorf("%w%s", err, defaultsNote(defaults))
		}
		return nil, nil, fmt.Errorf("model %s: %w", md, err)
	}
	tok, err := data.LoadTokenizer(md)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", md, err)
	}
	if tok != nil && tok.VocabSize() > cfg.VocabSize {
		return nil, nil, fmt.Errorf("model %s: the tokenizer has %d tokens, the model only %d", md, tok.VocabSize(), cfg.VocabSize)
	}
	return p, tok, nil
}

// LoadModelForText is LoadModel for the commands that encode or decode
// text: a model directory without a tokenizer is an input error saying
// which files were looked for and what they were needed for (purpose, e.g.
// "text cannot be generated"). Every error is an *InputError.
func LoadModelForText(dir, purpose string) (*graph.Params, data.Tokenizer, error) {
	p, tok, err := LoadModel(dir)
	if err != nil {
		return nil, nil, &InputError{Err: err}
	}
	if tok == nil {
		return nil, nil, inputErrorf("model %s has no tokenizer (tokenizer.json, encoder.json and vocab.bpe, or vocab.json and merges.txt), so %s; copy the tokenizer files of the model it came from into it", dir, purpose)
	}
	return p, tok, nil
}

// pickledWeights explains a model directory without safetensors weights
// that holds them in PyTorch's pickle format instead.
func pickledWeights(md string) error {
	for _, name := range []string{"pytorch_model.bin", "pytorch_model.bin.index.json"} {
		if fileExists(filepath.Join(md, name)) {
			return fmt.Errorf("model %s: no %s: %s is PyTorch's pickle format, which gptctl does not read; save the model as safetensors (save_pretrained with safe_serialization=True)", md, modelFile, name)
		}
	}
	return nil
}

// shardIndexFile lists the files of a model saved in several safetensors.
const shardIndexFile = "model.safetensors.index.json"

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
