package train

// The sizes of a Hugging Face config.json: under their own names or their
// aliases, and Hugging Face's defaults for those it leaves out.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gptctl/graph"
)

// hfAliases are the names Hugging Face's GPT config classes also take for
// their sizes (their attribute_map).
var hfAliases = map[string]string{
	"hidden_size": "n_embd", "max_position_embeddings": "n_positions",
	"num_attention_heads": "n_head", "num_hidden_layers": "n_layer",
}

// aliases reads the sizes the file gives under their aliases into h, and
// keys (those the file has) under their own names; a size given under both
// names with two values is refused.
func (h *hfConfig) aliases(keys map[string]json.RawMessage) error {
	for _, alias := range slices.Sorted(maps.Keys(hfAliases)) {
		key, raw := hfAliases[alias], keys[alias]
		if raw == nil {
			continue
		}
		var v int
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: %w", alias, err)
		}
		dst := map[string]*int{"n_embd": &h.NEmbd, "n_positions": &h.NPositions, "n_head": &h.NHead, "n_layer": &h.NLayer}[key]
		if keys[key] != nil && *dst != v {
			return fmt.Errorf("%s %d and %s %d name the same size", key, *dst, alias, v)
		}
		*dst, keys[key] = v, raw
	}
	return nil
}

// setShape copies the config's sizes, layer norm epsilon and dropout into
// c. A size the file leaves out (keys are those it has, aliases read)
// takes the default of Hugging Face's config class for the model_type, as
// its loader does (GPT2Config: 50,257 tokens, 1,024 positions;
// OpenAIGPTConfig: 40,478 and 512; both 768 wide, 12 layers of 12 heads),
// and the epsilon 1e-5; the weights' shapes are checked against them, and
// setShape returns those defaults for the errors to name. The context may
// also be n_ctx, which older GPT-2 configs wrote beside n_positions
// (Hugging Face now ignores it). Dropout stays 0 when absent.
func (h hfConfig) setShape(c *graph.Config, keys map[string]json.RawMessage) []hfDefault {
	c.VocabSize, c.NCtx, c.NEmbd, c.NLayer, c.NHead = h.VocabSize, h.NPositions, h.NEmbd, h.NLayer, h.NHead
	if keys["n_positions"] == nil {
		c.NCtx = h.NCtx
	}
	var defaults []hfDefault
	vocab, ctx := 50257, 1024
	if c.Arch == "gpt1" {
		vocab, ctx = 40478, 512
	}
	for _, d := range []struct {
		key string
		v   *int
		def int
	}{{"vocab_size", &c.VocabSize, vocab}, {"n_embd", &c.NEmbd, 768}, {"n_layer", &c.NLayer, 12}, {"n_head", &c.NHead, 12}} {
		if keys[d.key] == nil {
			*d.v = d.def
			defaults = append(defaults, hfDefault{d.key, d.def})
		}
	}
	if keys["n_positions"] == nil && keys["n_ctx"] == nil {
		c.NCtx = ctx
		defaults = append(defaults, hfDefault{"n_positions", ctx})
	}
	c.LNEps = 1e-5
	if h.LNEps != nil {
		c.LNEps = float32(*h.LNEps)
	}
	if h.EmbdPdrop != nil {
		c.Dropout = float32(*h.EmbdPdrop)
	}
	return defaults
}

// hfDefault is a size config.json leaves out (key, its name there) and
// Hugging Face's default, which it took.
type hfDefault struct {
	key string
	v   int
}

// defaultsNote says, for an error about a model that took the sizes ds
// by default, that they were absent: " (n_embd is absent from config.json,
// so Hugging Face's default 768 was used: add the model's n_embd to
// config.json)", or "" for none.
func defaultsNote(ds []hfDefault) string {
	if len(ds) == 0 {
		return ""
	}
	said, keys := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		said[i] = fmt.Sprintf("%s is absent from config.json, so Hugging Face's default %d was used", d.key, d.v)
		keys[i] = d.key
	}
	return fmt.Sprintf(" (%s: add the model's %s to config.json)", strings.Join(said, "; "), strings.Join(keys, " and "))
}

// hfSizeKeys are the keys, and their aliases, that give a size.
var hfSizeKeys = []string{"vocab_size", "n_positions", "n_ctx", "n_embd", "n_layer", "n_head",
	"max_position_embeddings", "hidden_size", "num_hidden_layers", "num_attention_heads"}

// nullSizes refuses sizes config.json gives as null (keys are those it
// has), which no model has and which would otherwise read as 0; n_ctx,
// which Hugging Face ignores, counts as absent when null, and is deleted
// from keys.
func nullSizes(keys map[string]json.RawMessage) error {
	var null []string
	for _, k := range hfSizeKeys {
		if raw, ok := keys[k]; !ok || string(bytes.TrimSpace(raw)) != "null" {
			continue
		}
		if k == "n_ctx" {
			delete(keys, k)
			continue
		}
		null = append(null, k)
	}
	switch len(null) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s is null: set it to the model's size, a positive integer", null[0])
	}
	return fmt.Errorf("%s are null: set them to the model's sizes, positive integers", strings.Join(null, ", "))
}
