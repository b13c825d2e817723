package train

// Hugging Face model directories: config.json with model_type gpt2 or
// openai-gpt, and model.safetensors (or shards listed in
// model.safetensors.index.json) with the Conv1D weight layout.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"gptctl/data"
	"gptctl/graph"
)

// hfConfig is the subset of a Hugging Face GPT config gptctl reads.
type hfConfig struct {
	ModelType  string   `json:"model_type"`
	VocabSize  int      `json:"vocab_size"`
	NPositions int      `json:"n_positions"`
	NCtx       int      `json:"n_ctx"`
	NEmbd      int      `json:"n_embd"`
	NLayer     int      `json:"n_layer"`
	NHead      int      `json:"n_head"`
	LNEps      *float64 `json:"layer_norm_epsilon"`
	Afn        string   `json:"afn"`
	Activation string   `json:"activation_function"`
	EmbdPdrop  *float64 `json:"embd_pdrop"`

	// GPT-2 options that change the function; gptctl computes only their
	// defaults and refuses the rest by name rather than run another model.
	NInner              *int  `json:"n_inner"`
	ScaleAttnWeights    *bool `json:"scale_attn_weights"`
	ScaleAttnByLayerIdx bool  `json:"scale_attn_by_inverse_layer_idx"`
	TieWordEmbeddings   *bool `json:"tie_word_embeddings"`
	AddCrossAttention   bool  `json:"add_cross_attention"`
}

// ReadHFConfig reads a Hugging Face config.json into a model config.
func ReadHFConfig(path string) (graph.Config, error) {
	c, _, err := readHFConfig(path)
	return c, err
}

// readHFConfig is ReadHFConfig, also returning the sizes the file leaves
// out, which took Hugging Face's defaults.
func readHFConfig(path string) (graph.Config, []hfDefault, error) {
	var c graph.Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, nil, fmt.Errorf("model config: %w", err)
	}
	var h hfConfig
	if err := json.Unmarshal(b, &h); err != nil {
		return c, nil, fmt.Errorf("model config %s: %w", path, data.JSONError(err))
	}
	if c.Arch, err = h.arch(path); err != nil {
		return c, nil, err
	}
	if c.GELU, err = h.gelu(c.Arch, path); err != nil {
		return c, nil, err
	}
	var keys map[string]json.RawMessage // those the file has
	json.Unmarshal(b, &keys)
	if err := nullSizes(keys); err != nil {
		return c, nil, fmt.Errorf("model config %s: %w", path, err)
	}
	if err := h.aliases(keys); err != nil {
		return c, nil, fmt.Errorf("model config %s: %w", path, err)
	}
	defaults := h.setShape(&c, keys)
	if unsupported := h.unsupported(c.NEmbd); len(unsupported) > 0 {
		return c, defaults, fmt.Errorf("model config %s: not supported: %s", path, strings.Join(unsupported, "; "))
	}
	if err := c.Validate(); err != nil {
		msg := err.Error()
		if keys["n_positions"] != nil { // the file's name for the context
			msg = strings.ReplaceAll(msg, "n_ctx", "n_positions")
		}
		var named []hfDefault // the defaults the message is about
		for _, d := range defaults {
			if strings.Contains(msg, d.key) {
				named = append(named, d)
			}
		}
		return c, defaults, fmt.Errorf("model config %s: %s%s", path, msg, defaultsNote(named))
	}
	if c.VocabSize <= 0 {
		return c, defaults, fmt.Errorf("model config %s: vocab_size %d must be positive", path, c.VocabSize)
	}
	return c, defaults, nil
}

// arch is the gptctl architecture of the config's model_type; path names
// the file in the error.
func (h hfConfig) arch(path string) (string, error) {
	switch h.ModelType {
	case "openai-gpt":
		return "gpt1", nil
	case "gpt2":
		return "gpt2", nil
	}
	return "", fmt.Errorf("model config %s: model_type %q is not gpt2 or openai-gpt", path, h.ModelType)
}

// gelu is the form of the GELU the config's activation names in a model of
// arch ("tanh" or "erf"); path names the file in the error.
func (h hfConfig) gelu(arch, path string) (string, error) {
	// openai-gpt's afn "gelu" is the tanh form; gpt2's activation_function
	// "gelu" is the exact one (x*Phi(x)), its "gelu_new" the tanh form.
	act := h.Activation // gpt2's key; openai-gpt's is afn, and its models ignore activation_function
	if arch == "gpt1" {
		act = h.Afn
	}
	switch {
	case act == "" || act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast" || act == "gelu" && arch == "gpt1":
		return "tanh", nil
	case act == "gelu":
		return "erf", nil
	case arch == "gpt1":
		return "", fmt.Errorf("model config %s: afn %q is not supported (an openai-gpt model in gptctl has gelu, the tanh GELU)", path, act)
	default:
		return "", fmt.Errorf("model config %s: activation_function %q is not supported (gptctl has the tanh GELU, gelu_new, and the exact one, gelu)", path, act)
	}
}

// unsupported lists, as an error names them, the GPT-2 options the config
// sets to values other than the defaults gptctl computes for a model nEmbd
// wide.
func (h hfConfig) unsupported(nEmbd int) []string {
	var unsupported []string
	if h.NInner != nil && *h.NInner != 4*nEmbd {
		unsupported = append(unsupported, fmt.Sprintf("n_inner %d (gptctl's MLP is 4*n_embd = %d wide)", *h.NInner, 4*nEmbd))
	}
	if h.ScaleAttnWeights != nil && !*h.ScaleAttnWeights {
		unsupported = append(unsupported, "scale_attn_weights false (gptctl scales scores by 1/sqrt(head size))")
	}
	if h.ScaleAttnByLayerIdx {
		unsupported = append(unsupported, "scale_attn_by_inverse_layer_idx true")
	}
	if h.TieWordEmbeddings != nil && !*h.TieWordEmbeddings {
		unsupported = append(unsupported, "tie_word_embeddings false (gptctl's LM head is the token embedding)")
	}
	if h.AddCrossAttention {
		unsupported = append(unsupported, "add_cross_attention true")
	}
	return unsupported
}

// WriteHFConfig writes config.json for cfg, readable by Hugging Face tools.
// eot is the tokenizer's end-of-text id, written as bos_token_id and
// eos_token_id (null when it has none, -1): left out, GPT2Config would take
// GPT-2's 50256 whatever the vocabulary.
func WriteHFConfig(path string, cfg graph.Config, eot int) error {
	var eotID any // null
	if eot >= 0 {
		eotID = eot
	}
	m := map[string]any{
		"vocab_size": cfg.VocabSize, "n_positions": cfg.NCtx, "n_ctx": cfg.NCtx, "n_embd": cfg.NEmbd,
		"n_layer": cfg.NLayer, "n_head": cfg.NHead, "layer_norm_epsilon": cfg.LNEps,
		"embd_pdrop": cfg.Dropout, "attn_pdrop": cfg.Dropout, "resid_pdrop": cfg.Dropout,
		"tie_word_embeddings": true, "bos_token_id": eotID, "eos_token_id": eotID,
	}
	if cfg.Arch == "gpt1" {
		m["model_type"], m["afn"], m["architectures"] = "openai-gpt", "gelu", []string{"OpenAIGPTLMHeadModel"}
	} else {
		act := "gelu_new"
		if cfg.GELU == "erf" {
			act = "gelu"
		}
		m["model_type"], m["activation_function"], m["architectures"] = "gpt2", act, []string{"GPT2LMHeadModel"}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return data.WriteFile(path, append(b, '\n'))
}

// saveTokenizer writes tok into a model directory: its own files and, for
// the BPEs, Hugging Face's file names too, for AutoTokenizer with a context
// of nCtx.
func saveTokenizer(dir string, tok data.Tokenizer, nCtx int) error {
	if err := tok.Save(dir); err != nil {
		return err
	}
	if bpe, ok := tok.(hfSaver); ok {
		return bpe.SaveHF(dir, nCtx)
	}
	return nil
}
