package train

// A Hugging Face directory's weights: model.safetensors, or the shards
// model.safetensors.index.json lists, read into a model's Params by their
// Hugging Face names, and a model's weights written under them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gptctl/data"
	"gptctl/graph"
)

// LoadWeights copies the tensors of a safetensors file into p. Names may
// carry the "transformer." prefix; causal-mask buffers, the position-id
// buffer of older openai-gpt files and an lm_head copy of the tied embedding
// are ignored. Every weight of p must be present.
func LoadWeights(p *graph.Params, path string) error {
	st, closeFile, err := data.OpenSafetensors(path)
	if err != nil {
		return err
	}
	defer closeFile()
	return setWeights(p, st, path)
}

// LoadShardedWeights is LoadWeights for a model saved in several files:
// index is a model.safetensors.index.json, whose weight_map names the file
// (beside it) of every tensor.
func LoadShardedWeights(p *graph.Params, index string) error {
	raw, err := os.ReadFile(index)
	if err != nil {
		return err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("weights %s: not a safetensors index: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("weights %s: no weight_map of tensor names to files", index)
	}
	all := &data.SafeTensors{Tensors: map[string]data.Tensor{}}
	files := map[string]*data.SafeTensors{}
	for _, name := range slices.Sorted(maps.Keys(idx.WeightMap)) {
		file := idx.WeightMap[name]
		if file == "" || filepath.Base(file) != file {
			return fmt.Errorf("weights %s: tensor %q is in %q, not a file beside the index", index, name, file)
		}
		st := files[file]
		if st == nil {
			var closeFile func() error
			if st, closeFile, err = data.OpenSafetensors(filepath.Join(filepath.Dir(index), file)); err != nil {
				return fmt.Errorf("weights %s: %w", index, err)
			}
			defer closeFile() // every file's tensors are set at the end
			files[file] = st
		}
		t, ok := st.Tensors[name]
		if !ok {
			return fmt.Errorf("weights %s: tensor %q is not in %s, where the index puts it", index, name, file)
		}
		all.Tensors[name] = t
		all.Order = append(all.Order, name)
	}
	return setWeights(p, all, index)
}

// setWeights copies the tensors of st (read from path) into p.
func setWeights(p *graph.Params, st *data.SafeTensors, path string) error {
	seen := map[string]bool{} // present in the file, whether usable or not
	names := append([]string(nil), st.Order...)
	sort.Strings(names)
	var errs []error
	var head string // the file's lm_head.weight, if any
	for _, name := range names {
		key := strings.TrimPrefix(name, "transformer.")
		if key == lmHeadName {
			head = name
		}
		t := st.Tensors[name]
		if ignoredTensor(key) {
			continue
		}
		if key == positionIDsName {
			if err := positionIDs(t, name, p.Config.NCtx); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if p.Get(key) == nil {
			errs = append(errs, fmt.Errorf("unexpected tensor %q", name))
			continue
		}
		if seen[key] { // "transformer.X" beside "X": which one is the model?
			errs = append(errs, fmt.Errorf("tensor %q is there twice, with and without the transformer. prefix", key))
			continue
		}
		seen[key] = true
		if err := p.Load(key, t.Shape, t.Float32Into); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range p.List {
		if !seen[w.Name] {
			errs = append(errs, fmt.Errorf("missing tensor %q %v", w.Name, w.Shape))
		}
	}
	if len(errs) == 0 && head != "" {
		errs = append(errs, tiedHead(p, st.Tensors[head], head)...)
	}
	if len(errs) > 0 {
		return mismatchError{fmt.Errorf("weights %s: %w", path, summarize(errs, 3))}
	}
	return nil
}

// mismatchError is setWeights's error: the file's tensors do not fit the
// model the config describes.
type mismatchError struct{ error }

func (e mismatchError) Unwrap() error { return e.error }

// lmHeadName is the output layer's tensor in Hugging Face's LM-head models.
const lmHeadName = "lm_head.weight"

// tiedHead checks that the file's lm_head.weight (named name) is a copy of
// the token embedding p holds, as a model whose head is tied has it: one
// that differs is another model, which gptctl's tied head cannot compute.
func tiedHead(p *graph.Params, t data.Tensor, name string) []error {
	wte, _ := graph.EmbeddingNames(p.Config.Arch)
	emb := p.Get(wte)
	same, err := t.EqualsFloat32(emb.Data)
	if err != nil {
		return []error{fmt.Errorf("tensor %q: %w", name, err)}
	}
	if !slices.Equal(t.Shape, emb.Shape) || !same {
		return []error{fmt.Errorf("tensor %q %v is not the token embedding %s %v: the model's output layer is not tied to its embedding (tie_word_embeddings), and gptctl's LM head is the embedding", name, t.Shape, wte, emb.Shape)}
	}
	return nil
}

// summarize joins the first n of errs on one line and counts the rest.
func summarize(errs []error, n int) error {
	if len(errs) <= n {
		return joinLine(errs)
	}
	return fmt.Errorf("%w; and %d more", joinLine(errs[:n]), len(errs)-n)
}

func joinLine(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func ignoredTensor(name string) bool {
	return name == lmHeadName || strings.HasSuffix(name, ".attn.bias") && !strings.Contains(name, "c_attn") ||
		strings.HasSuffix(name, ".attn.masked_bias")
}

// positionIDsName is the buffer torch.arange(n_positions) that openai-gpt
// models saved by older versions of transformers hold: not a weight.
const positionIDsName = "position_ids"

// positionIDs checks that t, the file's tensor called name, is that buffer
// of a model with a context of nCtx: integers, [nCtx] (or [1, nCtx]).
func positionIDs(t data.Tensor, name string, nCtx int) error {
	shapeOK := slices.Equal(t.Shape, []int{nCtx}) || slices.Equal(t.Shape, []int{1, nCtx})
	if (t.DType == "I64" || t.DType == "I32") && shapeOK {
		return nil
	}
	return fmt.Errorf("tensor %q %s %v is not a position-id buffer, which holds integers, [%d] for n_positions %d", name, t.DType, t.Shape, nCtx, nCtx)
}

// SaveWeights writes p as model.safetensors under the Hugging Face names.
func SaveWeights(p *graph.Params, path string, meta map[string]string) error {
	ts := make([]data.Tensor, len(p.List))
	for i, w := range p.List {
		ts[i] = data.F32Tensor(w.Name, w.Shape, w.Data)
	}
	return data.WriteSafetensors(path, ts, meta)
}
