package train

// A finetuned model directory is a Hugging Face model directory whose
// vocabulary has grown by the task tokens, plus the task head:
//
//	config.json        vocab_size includes <s>, $ and <e>
//	model.safetensors  the language model (eval, generate and finetune
//	                   load it like any other)
//	head.safetensors   clf.weight (C, k) and clf.bias (k)
//	task.json          what the head computes and how to read data for it
//	tokenizer files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gptctl/data"
	"gptctl/graph"
)

const (
	taskFile = "task.json"
	headFile = "head.safetensors"
)

// TaskInfo is task.json: everything eval and predict need besides weights.
type TaskInfo struct {
	Type       string          `json:"type"`      // classification | entailment | similarity | multiple_choice
	Objective  string          `json:"objective"` // classify | regress | choose
	Labels     []string        `json:"labels,omitempty"`
	NumOptions int             `json:"num_options,omitempty"`
	Special    SpecialTokens   `json:"special_tokens"`
	MaxLen     int             `json:"max_len"`
	Metric     string          `json:"metric"`
	Format     data.TaskFormat `json:"format"` // how to read a data file for this model
}

// SpecialTokens are the ids of the task tokens added to the vocabulary.
type SpecialTokens struct {
	Start   int `json:"<s>"`
	Delim   int `json:"$"`
	Extract int `json:"<e>"`
}

// newTaskInfo describes the task of a config; first is the id of <s>.
func newTaskInfo(t TaskConfig, first, maxLen int) *TaskInfo {
	info := &TaskInfo{Type: t.Type, Objective: graph.Classify, Labels: t.Labels, MaxLen: maxLen, Metric: t.metric(),
		Special: SpecialTokens{Start: first, Delim: first + 1, Extract: first + 2}, Format: t.TaskFormat}
	if f, err := t.FileFormat(t.Train); err == nil {
		info.Format.Format = f // the format read, for files whose name does not say it
	}
	switch {
	case t.Type == TaskMultipleChoice:
		info.Objective, info.NumOptions = graph.Choose, t.numOptions()
	case t.regression():
		info.Objective = graph.Regress
	}
	return info
}

// head is the graph head of the task, without lambda and dropout.
func (t *TaskInfo) head() graph.HeadConfig {
	h := graph.HeadConfig{Objective: t.Objective, Classes: len(t.Labels), Rows: 1}
	switch {
	case t.Objective == graph.Choose:
		h.Rows = t.NumOptions
	case t.Type == TaskSimilarity:
		h.Rows = 2
	}
	return h
}

// labelName is how class (or option) i is written in data files.
func (t *TaskInfo) labelName(i int) string {
	if i < len(t.Labels) {
		return t.Labels[i]
	}
	return strconv.Itoa(i + t.Format.LabelBase)
}

// IsTaskModel reports whether dir (a run or model directory) holds a
// finetuned model: a task.json, or a head without one (which reading the
// model then reports, rather than taking it for a language model).
func IsTaskModel(dir string) bool {
	md, err := ModelDir(dir)
	if err != nil {
		return false
	}
	for _, f := range []string{taskFile, headFile} {
		if _, err := os.Stat(filepath.Join(md, f)); err == nil {
			return true
		}
	}
	return false
}

// dropTaskTokens makes p, loaded from md, a language model again where md
// holds a finetuned model, for pretraining to continue: its task tokens
// <s>, $ and <e>, the last three rows of the token embedding, are dropped
// (LoadModel leaves its head out), since text holds none of them and a
// later finetune adds its own. It returns a note for the log; "" for a
// model that was not finetuned.
func dropTaskTokens(p *graph.Params, tok data.Tokenizer, md string) (note string, err error) {
	if !IsTaskModel(md) {
		return "", nil
	}
	info, err := readTaskInfo(filepath.Join(md, taskFile))
	if err != nil {
		return "", &InputError{Err: err}
	}
	sp, V := info.Special, p.Config.VocabSize
	if sp.Delim != sp.Start+1 || sp.Extract != sp.Start+2 || sp.Extract != V-1 || tok.VocabSize() > sp.Start {
		return "", inputErrorf("model %s: %s: task tokens <s> %d, $ %d, <e> %d are not the last three ids of its vocabulary of %d after the tokenizer's %d, which pretraining would drop (continue from the model it was finetuned from, or mend the file)",
			md, taskFile, sp.Start, sp.Delim, sp.Extract, V, tok.VocabSize())
	}
	wte, _ := graph.EmbeddingNames(p.Config.Arch)
	w := p.Get(wte)
	w.Data, w.Shape = slices.Clip(w.Data[:sp.Start*w.Shape[1]]), []int{sp.Start, w.Shape[1]}
	p.Config.VocabSize = sp.Start
	return fmt.Sprintf("init_from %s is a finetuned model (%s): pretraining continues its language model, without its task tokens <s> $ <e> (ids %d-%d) and its head; a finetune of this run adds new ones",
		md, info.Type, sp.Start, sp.Extract), nil
}

// taskModel is a finetuned model loaded for eval, predict or resume.
type taskModel struct {
	info   *TaskInfo
	params *graph.Params
	tok    data.Tokenizer
}

// loadTaskModel loads a finetuned model directory (or the run holding it).
func loadTaskModel(dir string) (*taskModel, error) {
	md, err := ModelDir(dir)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	info, err := readTaskInfo(filepath.Join(md, taskFile))
	if err != nil {
		return nil, &InputError{Err: err}
	}
	p, tok, err := LoadModelForText(md, "task text cannot be encoded for it")
	if err != nil {
		return nil, err
	}
	if err := info.fits(p.Config); err != nil {
		return nil, inputErrorf("model %s: %s: %w (finetune the model again, or mend the file)", md, taskFile, err)
	}
	if err := p.AddHead(info.head().Outputs(), nil); err != nil {
		return nil, &InputError{Err: err}
	}
	if err := loadHead(p, filepath.Join(md, headFile)); err != nil {
		return nil, inputErrorf("model %s: %w", md, err)
	}
	return &taskModel{info: info, params: p, tok: tok}, nil
}

// fits checks what task.json says against the model it describes: a task
// type, special tokens inside the vocabulary and apart, and a max_len the
// position embeddings cover with room for the special tokens.
func (t *TaskInfo) fits(c graph.Config) error {
	if _, ok := taskRoles[t.Type]; !ok {
		return fmt.Errorf("type %q is not %s, %s, %s or %s", t.Type, TaskClassification, TaskEntailment, TaskSimilarity, TaskMultipleChoice)
	}
	if (t.Type == TaskMultipleChoice) != (t.Objective == graph.Choose) {
		return fmt.Errorf("objective %q does not go with type %s", t.Objective, t.Type)
	}
	sp := t.Special
	for _, tok := range []struct {
		name string
		id   int
	}{{"<s>", sp.Start}, {"$", sp.Delim}, {"<e>", sp.Extract}} {
		if tok.id < 0 || tok.id >= c.VocabSize {
			return fmt.Errorf("task token %s = %d is outside the vocabulary of %d", tok.name, tok.id, c.VocabSize)
		}
	}
	if sp.Start == sp.Delim || sp.Start == sp.Extract || sp.Delim == sp.Extract {
		return fmt.Errorf("task tokens <s> = %d, $ = %d, <e> = %d are not three tokens", sp.Start, sp.Delim, sp.Extract)
	}
	if t.MaxLen < minMaxLen || t.MaxLen > c.NCtx {
		return fmt.Errorf("max_len %d is not in [%d, %d] (n_ctx)", t.MaxLen, minMaxLen, c.NCtx)
	}
	return nil
}

func readTaskInfo(path string) (*TaskInfo, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("task model %s: no %s beside its %s: the task's labels and tokens are in it (copy the whole model directory)", filepath.Dir(path), taskFile, headFile)
	}
	if err != nil {
		return nil, fmt.Errorf("task model: %w", err)
	}
	var info TaskInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("task model %s: %w", path, err)
	}
	if err := info.head().Validate(); err != nil {
		return nil, fmt.Errorf("task model %s: %w", path, err)
	}
	return &info, nil
}

func loadHead(p *graph.Params, path string) error {
	st, closeFile, err := data.OpenSafetensors(path)
	if err != nil {
		return err
	}
	defer closeFile()
	for _, name := range []string{graph.HeadWeight, graph.HeadBias} {
		t, ok := st.Tensors[name]
		if !ok {
			return fmt.Errorf("%s: tensor %q is missing", path, name)
		}
		if err := p.Load(name, t.Shape, t.Float32Into); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// writeTaskModel writes a finetuned model directory into dir (which exists).
func writeTaskModel(dir string, m *taskModel) error {
	if err := WriteHFConfig(filepath.Join(dir, "config.json"), m.params.Config, m.tok.EOT()); err != nil {
		return err
	}
	var lm, head []data.Tensor
	for _, w := range m.params.List {
		t := data.F32Tensor(w.Name, w.Shape, w.Data)
		if graph.IsHead(w.Name) {
			head = append(head, t)
		} else {
			lm = append(lm, t)
		}
	}
	meta := map[string]string{"format": "pt"}
	if err := data.WriteSafetensors(filepath.Join(dir, modelFile), lm, meta); err != nil {
		return err
	}
	if err := data.WriteSafetensors(filepath.Join(dir, headFile), head, meta); err != nil {
		return err
	}
	var info bytes.Buffer
	enc := json.NewEncoder(&info)
	enc.SetEscapeHTML(false) // "<s>", not "\u003cs\u003e"
	enc.SetIndent("", "  ")
	if err := enc.Encode(m.info); err != nil {
		return err
	}
	if err := data.WriteFile(filepath.Join(dir, taskFile), info.Bytes()); err != nil {
		return err
	}
	return saveTokenizer(dir, m.tok, m.params.Config.NCtx)
}
