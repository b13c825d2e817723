package train

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gptctl/graph"
)

const sst2Task = `task:
  type: classification
  train: train.tsv
  val: dev.tsv
  header: true
  columns: {text: sentence, label: label}
  labels: ["0", "1"]
`

func TestLoadFinetune(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		sets  []string
		want  string // error substring; "" = valid
		check func(t *testing.T, c FinetuneConfig)
	}{
		{"defaults are GPT-1's", sst2Task, nil, "", func(t *testing.T, c FinetuneConfig) {
			if c.LR != 6.25e-5 || c.BatchSize != 32 || c.Epochs != 3 || c.WarmupFraction != 0.002 || c.LRDecay != "linear" ||
				c.HeadDropout != 0.1 || c.Lambda != 0.5 || c.Task.metric() != "accuracy" {
				t.Errorf("defaults %+v", c)
			}
		}},
		{"nested --set", sst2Task, []string{"task.max_len=64", "task.columns.text=review", "lambda=0", "task.metric=mcc"}, "", func(t *testing.T, c FinetuneConfig) {
			if c.Task.MaxLen != 64 || c.Task.Columns["text"] != "review" || c.Task.Columns["label"] != "label" || c.Lambda != 0 || c.Task.metric() != "mcc" {
				t.Errorf("after --set: %+v", c.Task)
			}
		}},
		{"regression metric default", "task: {type: similarity, train: x.tsv, columns: {a: s1, b: s2, score: y}}\n", nil, "", func(t *testing.T, c FinetuneConfig) {
			if !c.Task.regression() || c.Task.metric() != "pearson" {
				t.Errorf("task %+v", c.Task)
			}
		}},
		{"mse, lower is better, picks best/ for scores", "task: {type: similarity, train: x.tsv, columns: {a: s1, b: s2, score: y}, metric: mse}\n", nil, "", func(t *testing.T, c FinetuneConfig) {
			if c.Task.metric() != "mse" || !isBetter("mse", 0.5, 0.7) || isBetter("mse", 0.7, 0.5) {
				t.Errorf("metric %q", c.Task.metric())
			}
		}},
		{"unknown key", sst2Task + "learning_rate: 1\n", nil, "learning_rate", nil},
		{"unknown task key", sst2Task, []string{"task.colums.text=x"}, "colums", nil},
		{"bad --set", sst2Task, []string{"task.=1"}, "want key=value", nil},
		{"flash without tf32", sst2Task, []string{"flash_attention=true", "tf32=false"}, "flash_attention: true needs tf32: true", nil},
		{"bad type", strings.Replace(sst2Task, "classification", "sentiment", 1), nil, `task.type "sentiment"`, nil},
		{"missing role", strings.Replace(sst2Task, "classification", "entailment", 1), nil, `entailment needs a "premise" column`, nil},
		{"role the type does not read", strings.Replace(sst2Task, "{text: sentence,", "{text: sentence, a: other,", 1), nil, `classification does not read "a"`, nil},
		{"no labels", strings.Replace(sst2Task, `labels: ["0", "1"]`, "", 1), nil, "task.labels: list the label values", nil},
		{"a similarity score as label", "task: {type: similarity, train: x.tsv, columns: {a: s1, b: s2, label: y}}\n", nil, "for a numeric similarity score, map that column as score: instead of label:", nil},
		{"metric for regression only", sst2Task, []string{"task.metric=pearson"}, `metric "pearson" is not one of accuracy`, nil},
		{"the label column as the text", sst2Task, []string{"task.columns={text: label, label: label}"}, `task.columns: text reads "label", the label column`, nil},
		{"the score column in a join", "task: {type: similarity, train: x.tsv, columns: {a: s1+y, b: s2, score: y}}\n", nil, `task.columns: a reads "y", the score column`, nil},
		{"the label column as an option", "task: {type: multiple_choice, train: x.csv, columns: {context: c, option0: o0, option1: l, label: l}}\n", nil, `option1 reads "l", the label column`, nil},
		{"no options", "task: {type: multiple_choice, train: x.csv, columns: {context: c, label: l}}\n", nil, "needs option0, option1", nil},
		{"--set values YAML would misread", sst2Task, []string{"task.columns.text=review #1", "task.labels=[a, b]"}, "", func(t *testing.T, c FinetuneConfig) {
			if c.Task.Columns["text"] != "review #1" || !slices.Equal(c.Task.Labels, []string{"a", "b"}) {
				t.Errorf("task %+v", c.Task)
			}
		}},
		{"--set a map whole replaces it", sst2Task, []string{"task.type=similarity", "task.columns={a: s1, b: s2, score: sim}", "task.labels=[]"}, "", func(t *testing.T, c FinetuneConfig) {
			if len(c.Task.Columns) != 3 || c.Task.Columns["a"] != "s1" || c.Task.Columns["text"] != "" {
				t.Errorf("columns %v, want a, b and score alone", c.Task.Columns)
			}
		}},
		{"--set a section whole replaces a map in it", sst2Task, []string{"task={type: similarity, columns: {a: s1, b: s2, score: sim}, labels: []}"}, "", func(t *testing.T, c FinetuneConfig) {
			if len(c.Task.Columns) != 3 || c.Task.Columns["a"] != "s1" || c.Task.Columns["text"] != "" || c.Task.Train == "" {
				t.Errorf("task %+v, want columns a, b and score alone and the file's train", c.Task)
			}
		}},
		{"--set one column keeps the others", sst2Task, []string{"task.columns.text=review", "task={max_len: 64}"}, "", func(t *testing.T, c FinetuneConfig) {
			if c.Task.Columns["text"] != "review" || c.Task.Columns["label"] != "label" || c.Task.MaxLen != 64 {
				t.Errorf("task %+v", c.Task)
			}
		}},
		{"a fraction for a task integer", sst2Task, []string{"task.split_seed=1.5"}, "`1.5` is not an integer", nil},
		{"lambda NaN", sst2Task + "lambda: .nan\n", nil, "lambda is NaN: want a finite number", nil},
		{"negative patience", sst2Task, []string{"patience=-1"}, "patience -1 must not be negative", nil},
		{"patience", sst2Task, []string{"patience=3"}, "", func(t *testing.T, c FinetuneConfig) {
			if c.Patience != 3 {
				t.Errorf("patience %d, want 3", c.Patience)
			}
		}},
		{"min_options on a classification", sst2Task, []string{"task.min_options=2"}, "task.min_options 2 applies only to multiple choice", nil},
		{"label_base with labels", sst2Task, []string{"task.label_base=1"},
			"task.label_base 1 has no effect: with labels: given, a label is read as its place in that list (leave label_base out)", nil},
		{"label_base with a score", "task: {type: similarity, train: x.tsv, label_base: 1, columns: {a: s1, b: s2, score: y}}\n", nil,
			"task.label_base 1 has no effect: the task has no label column", nil},
		{"label_base for classification", strings.Replace(sst2Task, `labels: ["0", "1"]`, "label_base: 1", 1), nil,
			"task.label_base 1 applies only to multiple_choice", nil},
		{"label_base of a multiple choice", "task: {type: multiple_choice, train: x.csv, label_base: 1, columns: {context: c, option0: a, option1: b, label: l}}\n", nil, "", func(t *testing.T, c FinetuneConfig) {}},
		{"max_len 3 for classification", sst2Task, []string{"task.max_len=3"}, "", func(t *testing.T, c FinetuneConfig) {}},
		{"max_len 2 for classification", sst2Task, []string{"task.max_len=2"},
			"task.max_len 2 is too small for classification: <s> text <e> needs at least 3 tokens, one of each segment (0 = n_ctx)", nil},
		{"max_len 4 for entailment", "task: {type: entailment, train: x.tsv, columns: {premise: p, hypothesis: h, label: l}, labels: [a, b], max_len: 4}\n", nil,
			"task.max_len 4 is too small for entailment: <s> premise $ hypothesis <e> needs at least 5 tokens", nil},
		{"max_len 4 for similarity", "task: {type: similarity, train: x.tsv, columns: {a: s1, b: s2, score: y}, max_len: 4}\n", nil,
			"task.max_len 4 is too small for similarity: <s> a $ b <e> needs at least 5 tokens", nil},
		{"max_len 4 for multiple choice", "task: {type: multiple_choice, train: x.csv, columns: {context: c, option0: a, option1: b, label: l}, max_len: 4}\n", nil,
			"task.max_len 4 is too small for multiple_choice: <s> context question $ option <e> needs at least 5 tokens", nil},
		{"max_len 5 for multiple choice", "task: {type: multiple_choice, train: x.csv, columns: {context: c, option0: a, option1: b, label: l}, max_len: 5}\n", nil, "", func(t *testing.T, c FinetuneConfig) {}},
		{"an lr float32 overflows", sst2Task, []string{"lr=1e39", "weight_decay=0"}, "lr 1e+39 over 1-beta1 0.1, the first step's size, overflows float32", nil},
		{"a decay float32 overflows", sst2Task, []string{"lr=1e30", "weight_decay=1e9"}, "lr 1e+30 times weight_decay 1e+09, each step's decay, overflows float32", nil},
		{"several problems at once", sst2Task, []string{"lr=0", "batch_size=0", "task.train=", "lambda=-1"}, "batch_size 0", func(t *testing.T, c FinetuneConfig) {}},
		{"an unknown key beside bad values", sst2Task, []string{"task.typo=1", "batch_size=0"},
			"--set task.typo=1: unknown key task.typo (did you mean task.type?)\nfinetune config", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.yaml")
			os.WriteFile(path, []byte(c.yaml), 0o644)
			cfg, err := LoadFinetune(path, c.sets)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, cfg)
				return
			}
			var ce *ConfigError
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ConfigError with %q", err, c.want)
			}
			if c.check != nil { // all problems reported together
				for _, w := range []string{"lr 0", "task.train is empty", "lambda -1"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
			}
		})
	}
}

// Mapping option0 alone is one mistake, reported once.
func TestFinetuneOneOptionReportedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.yaml")
	os.WriteFile(path, []byte("task: {type: multiple_choice, train: x.csv, columns: {context: c, option0: a, label: l}}\n"), 0o644)
	_, err := LoadFinetune(path, nil)
	if err == nil || strings.Count(err.Error(), "option1") != 1 || !strings.Contains(err.Error(), "multiple choice needs at least option0 and option1") {
		t.Errorf("error %v, want one message about option1", err)
	}
}

// The task's problems come in one order, run after run, each a line that
// names its key (task.columns: ..., as the format's own checks too), and
// one mistake is one message.
func TestTaskProblemsInOneOrder(t *testing.T) {
	sets := []string{"task.type=similarity", "task.columns={text: s, premise: b, hypothesis: c, a: d, label: label}"}
	_, first := LoadFinetune("", append(sets, "init_from=m", "task.train=t.tsv"))
	for _, want := range []string{`task.columns: similarity needs a "b" column`, `task.columns: similarity does not read "hypothesis"`} {
		if first == nil || !strings.Contains(first.Error(), want) {
			t.Fatalf("error %v\nlacks %q", first, want)
		}
	}
	for range 20 {
		if _, err := LoadFinetune("", append(sets, "init_from=m", "task.train=t.tsv")); err.Error() != first.Error() {
			t.Fatalf("the same config's problems in two orders:\n%v\n%v", first, err)
		}
	}
	for _, c := range []struct {
		sets []string
		want string
		not  []string
	}{
		{[]string{"task.type=similarity", "task.columns={b: s2, score: y}"}, `task.columns: similarity needs an "a" column`, nil},
		{[]string{"task.columns={text: s}", "task.labels=[a, b]"}, "task.labels: given but columns has no label: name the label column in columns (label: NAME) or leave labels out",
			[]string{"task: ", "task.columns: map the label"}},
		{[]string{"task.columns={text: s}"}, "task.columns: map the label (or, for regression, the score) column", []string{"task: "}},
	} {
		_, err := LoadFinetune("", append([]string{"init_from=m", "task.train=t.tsv", "task.type=classification"}, c.sets...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v\nlacks %q", c.sets, err, c.want)
			continue
		}
		for _, n := range c.not {
			if strings.Contains(err.Error(), n) {
				t.Errorf("%v: %v\nhas %q", c.sets, err, n)
			}
		}
	}
}

func TestShippedFinetuneConfigsLoad(t *testing.T) {
	paths, _ := filepath.Glob("../configs/finetune-*.yaml")
	if len(paths) < 4 {
		t.Fatalf("%d finetune configs, want one per shipped task", len(paths))
	}
	for _, p := range paths {
		if _, err := LoadFinetune(p, nil); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// A resume compares label_base only where it numbers the options: a run
// saved with a label_base that has no effect (a score task) resumes with
// it left out, as validation now asks.
func TestTaskChangeLabelBase(t *testing.T) {
	sim := TaskConfig{Type: TaskSimilarity, MaxLen: 16}
	sim.Columns = map[string]string{"a": "s1", "b": "s2", "score": "y"}
	info := &TaskInfo{Type: TaskSimilarity, MaxLen: 16, Objective: graph.Regress, Metric: sim.metric()}
	info.Format.LabelBase = 1
	if ch := taskChanges(sim, info, 16); len(ch) != 0 {
		t.Errorf("a score task saved with label_base 1, resumed without: %v; want no change", ch)
	}
	mc := TaskConfig{Type: TaskMultipleChoice, MaxLen: 16}
	mc.Columns = map[string]string{"context": "c", "option0": "o0", "option1": "o1", "label": "y"}
	mcInfo := &TaskInfo{Type: TaskMultipleChoice, MaxLen: 16, Objective: "choose", NumOptions: 2, Metric: mc.metric()}
	mcInfo.Format.LabelBase = 1
	if ch := taskChanges(mc, mcInfo, 16); len(ch) != 1 || ch[0].key != "label_base" {
		t.Errorf("multiple choice saved with label_base 1, resumed with 0: changes %v, want label_base", ch)
	}
}
