package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// Bad input of every kind, through the whole command line: configs,
// corpora, task files, model directories and flags. Each case asserts the
// exit status and that the one-line message names what to fix: the file,
// the line, the key or the flag.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := func(name string) string { return filepath.Join(dir, "runs", name) }

	// A tiny pretrained model, the base of the model-directory and task cases.
	pre := out("pre")
	if code, _, stderr := runCLI(t, "pretrain", "--out", pre, "--set", "n_layer=1", "--set", "n_embd=16", "--set", "n_head=2",
		"--set", "n_ctx=32", "--set", "max_steps=2", "--set", "eval_batches=1"); code != 0 {
		t.Fatalf("pretrain: %s", stderr)
	}
	ck := filepath.Join(pre, "checkpoint")
	model := func(name string, edit func(dir string)) string {
		d := filepath.Join(dir, "models", name)
		if err := os.CopyFS(d, os.DirFS(ck)); err != nil {
			t.Fatal(err)
		}
		edit(d)
		return d
	}
	noConfig := model("noconfig", func(d string) { os.Remove(filepath.Join(d, "config.json")) })
	noWeights := model("noweights", func(d string) { os.Remove(filepath.Join(d, "model.safetensors")) })
	badJSON := model("badjson", func(d string) { os.WriteFile(filepath.Join(d, "config.json"), []byte("{\"n_embd\": 16,"), 0o644) })
	bert := model("bert", func(d string) {
		b, _ := os.ReadFile(filepath.Join(d, "config.json"))
		os.WriteFile(filepath.Join(d, "config.json"), []byte(strings.NewReplacer(`"openai-gpt"`, `"bert"`, `"gpt2"`, `"bert"`).Replace(string(b))), 0o644)
	})
	wider := model("wider", func(d string) {
		b, _ := os.ReadFile(filepath.Join(d, "config.json"))
		os.WriteFile(filepath.Join(d, "config.json"), []byte(strings.Replace(string(b), `"n_embd": 16`, `"n_embd": 32`, 1)), 0o644)
	})
	truncated := model("truncated", func(d string) {
		p := filepath.Join(d, "model.safetensors")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)/2], 0o644)
	})
	nanWeights := model("nan", func(d string) {
		p := filepath.Join(d, "model.safetensors")
		b, _ := os.ReadFile(p)
		copy(b[len(b)-4:], []byte{0, 0, 0xc0, 0x7f}) // the last weight's last value: a float32 NaN
		os.WriteFile(p, b, 0o644)
	})
	noTok := model("notok", func(d string) { os.Remove(filepath.Join(d, "tokenizer.json")) })
	garbage := model("garbage", func(d string) {
		os.WriteFile(filepath.Join(d, "model.safetensors"), []byte("not a tensor file at all"), 0o644)
	})

	// Configs.
	typo := write("typo.yaml", "n_layers: 3\n")
	invalid := write("invalid.yaml", "n_embd: 100\nn_head: 3\n")
	syntax := write("syntax.yaml", "lr: 1e-3\nbatch_size: [12\n")
	wrongType := write("wrongtype.yaml", "seed: 1\nlr: fast\n")
	arch := write("arch.yaml", "arch: gpt3\n")
	ftRun := filepath.Dir(write("ftrun/finetune.yaml", "task: {type: classification}\n")) // what --resume reads first
	noTokDir := write("notokdir.yaml", "tokenizer: "+filepath.Join(dir, "no-such-tokenizer")+"\nmax_steps: 1\n")
	smallVocab := write("smallvocab.yaml", "vocab_size: 10\nmax_steps: 1\n")
	badPrompts := write("prompts.jsonl", "{\"prompt\": \"a\"}\nplain text\n")
	typedPrompts := write("typed.jsonl", "{\"prompt\": 5}\n")
	latin1Prompts := write("latin1.jsonl", "\"ab\"\n\"caf\xe9\"\n")
	fourPrompts := write("four.jsonl", "\"a\"\n\"b\"\n\"c\"\n\"d\"\n")
	// Corpora.
	empty := write("empty.txt", "")
	short := write("short.txt", "To be.")
	noShards := filepath.Join(dir, "noshards")
	os.Mkdir(noShards, 0o755)
	// Task files and finetune configs.
	task := func(name, rows string) string {
		f := write(name, rows)
		return write(name+".yaml", fmt.Sprintf("init_from: %s\ntask: {type: classification, train: %s, val_fraction: 0.25, header: true, columns: {text: text, label: label}, labels: [neg, pos]}\nmax_steps: 1\n", pre, f))
	}
	var good strings.Builder
	good.WriteString("text\tlabel\n")
	for i := range 12 {
		fmt.Fprintf(&good, "row %d\t%s\n", i, []string{"neg", "pos"}[i%2])
	}
	goodTask := task("good.tsv", good.String())
	missingField := task("missing.tsv", "text\tlabel\nfine\tpos\nonly text\n")
	unknownLabel := task("label.tsv", "text\tlabel\nfine\tpos\nmeh\tneutral\n")
	noColumn := write("nocol.yaml", strings.Replace(readFileT(t, goodTask), "label: label}", "label: sentiment}", 1))
	scores := write("scores.tsv", "a\tb\tscore\nx\ty\t3.5\nx\tz\thigh\n")
	regression := write("scores.yaml", fmt.Sprintf("init_from: %s\ntask: {type: similarity, train: %s, val_fraction: 0.25, header: true, columns: {a: a, b: b, score: score}}\nmax_steps: 1\n", pre, scores))
	quoted := write("quoted.csv", "text,label\n\"unterminated, quote,pos\n")
	csvTask := write("quoted.yaml", fmt.Sprintf("init_from: %s\ntask: {type: classification, train: %s, val_fraction: 0.25, format: csv, header: true, columns: {text: text, label: label}, labels: [neg, pos]}\nmax_steps: 1\n", pre, quoted))
	badJSONL := write("rows.jsonl", "{\"text\": \"ok\", \"label\": \"pos\"}\n{\"text\": \"broken\n")
	jsonlTask := write("rows.yaml", fmt.Sprintf("init_from: %s\ntask: {type: classification, train: %s, val_fraction: 0.25, columns: {text: text, label: label}, labels: [neg, pos]}\nmax_steps: 1\n", pre, badJSONL))
	taskType := write("tasktype.yaml", strings.Replace(readFileT(t, goodTask), "type: classification", "type: translation", 1))
	lambda := write("lambda.yaml", readFileT(t, goodTask)+"lambda: 2\n")

	cases := []struct {
		name string
		args []string
		code int
		want []string // all in the message
	}{
		// Flags and commands.
		{"unknown command", []string{"pretrian"}, 2, []string{`unknown command "pretrian" for "gptctl" (did you mean pretrain?)`}},
		{"a group without its command", []string{"completion"}, 2, []string{"gptctl completion: name a command: one of bash, fish, powershell, zsh (gptctl completion --help says what each does)"}},
		{"data without its command", []string{"data"}, 2, []string{"gptctl data: name a command: one of prepare"}},
		{"unknown flag", []string{"pretrain", "--lr", "1"}, 2, []string{"unknown flag: --lr"}},
		{"extra argument", []string{"version", "x"}, 2, []string{`unexpected argument "x": gptctl version takes flags only`}},
		{"unknown subcommand", []string{"tokenizer", "encod"}, 2, []string{`unknown command "encod" for "gptctl tokenizer"`}},
		{"unknown data subcommand", []string{"data", "prep"}, 2, []string{`unknown command "prep" for "gptctl data"`}},
		{"unknown shell", []string{"completion", "tcsh"}, 2, []string{`unknown command "tcsh" for "gptctl completion" (one of: bash, fish, powershell, zsh)`}},
		{"a word after the shell", []string{"completion", "bash", "extra"}, 2, []string{`unexpected argument "extra": gptctl completion bash takes flags only`}},
		{"help on an unknown command", []string{"help", "pretrian"}, 2, []string{`unknown help topic "pretrian"`}},
		{"help on an unknown subcommand", []string{"help", "data", "prep"}, 2, []string{`unknown help topic "data prep"`}},
		{"generate --top-p NaN", []string{"generate", "--model", pre, "--top-p", "NaN"}, 2, []string{"--top-p NaN is not in (0, 1]"}},
		{"generate --temperature NaN", []string{"generate", "--model", pre, "--temperature", "nan"}, 2, []string{"--temperature NaN"}},
		{"--set NaN", []string{"pretrain", "--set", "lr=.nan", "--out", out("nan")}, 2, []string{"lr is NaN: want a finite number"}},
		{"required flag", []string{"eval"}, 2, []string{"required flag", "model"}},
		{"--init with a model --set", []string{"pretrain", "--init", pre, "--set", "n_layer=4", "--out", out("initset")}, 2, []string{"--set n_layer=4 with init_from", "replaces n_layer"}},
		{"--set without =", []string{"pretrain", "--set", "lr"}, 2, []string{"--set", "lr", "key=value"}},
		{"--data empty", []string{"pretrain", "--data", "", "--out", out("empty")}, 2, []string{"--data is empty"}},
		{"--model empty", []string{"eval", "--model", "", "--data", short}, 2, []string{"--model is empty"}},
		{"--data not UTF-8", []string{"pretrain", "--data", filepath.Join(dir, "caf\xe9.txt"), "--out", out("utf8")}, 2, []string{"--data", `caf\xe9.txt" is not valid UTF-8`}},
		{"--set data= is named as --set", []string{"pretrain", "--set", "data=", "--out", out("setdata")}, 2, []string{"with --set data=: data is empty"}},
		{"--set threads too many", []string{"pretrain", "--set", "threads=100000", "--out", out("threads")}, 2, []string{"threads 100000 is more than 1024"}},
		{"generate --threads too many", []string{"generate", "--model", pre, "--threads", "20000"}, 2, []string{"--threads 20000 is not in [0, 1024]"}},
		{"a config key with no value", []string{"pretrain", "-c", write("novalue.yaml", "n_layer: 2\nlr:\n"), "--out", out("novalue")}, 2, []string{"line 2: lr has no value"}},
		{"a quoted number", []string{"pretrain", "-c", write("quotednum.yaml", "n_layer: \"2\"\n"), "--out", out("quotednum")}, 2, []string{"line 1: n_layer: `2` is quoted"}},
		{"a section given a value", []string{"finetune", "-c", write("section.yaml", "task: sst2\n"), "--out", out("section")}, 2, []string{"line 1: task: `sst2` where a section of keys is wanted"}},
		{"--set unknown key", []string{"pretrain", "--set", "n_layerz=2"}, 2, []string{"n_layerz"}},
		{"--set wrong type", []string{"pretrain", "--set", "max_steps=many"}, 2, []string{"max_steps", "many"}},
		{"--set invalid value", []string{"pretrain", "--set", "max_steps=-1"}, 2, []string{"max_steps -1"}},
		{"--device unknown", []string{"pretrain", "--device", "tpu", "--out", out("d")}, 2, []string{"device", "tpu"}},
		{"--device cuda in a cpu build", []string{"pretrain", "--device", "cuda", "--out", out("c")}, 2, []string{"built without CUDA"}},
		{"--max-time not a duration", []string{"pretrain", "--max-time", "soon", "--out", out("m")}, 2, []string{"max_time", "soon"}},
		{"--max-time on finetune", []string{"finetune", "-c", goodTask, "--max-time", "-1h", "--out", out("m2")}, 2, []string{"max_time", "-1h"}},
		{"--resume without --out", []string{"pretrain", "--resume"}, 2, []string{"--resume needs --out"}},
		{"--resume of a non-run", []string{"pretrain", "--resume", "--out", noShards}, 2, []string{noShards, "not a gptctl run directory"}},
		{"pretrain --resume of a finetune run", []string{"pretrain", "--resume", "--out", ftRun}, 2, []string{ftRun + " is a finetune run", "gptctl finetune --resume --out " + ftRun}},
		{"finetune --resume of a pretrain run", []string{"finetune", "--resume", "--out", pre}, 2, []string{pre + " is a pretrain run", "gptctl pretrain --resume --out " + pre}},
		{"generate --top-p 0", []string{"generate", "--model", pre, "--top-p", "0"}, 2, []string{"--top-p"}},
		{"generate --temperature -1", []string{"generate", "--model", pre, "--temperature", "-1"}, 2, []string{"--temperature"}},
		{"report of a directory that is not a run", []string{"report", dir, "--out", out("rp")}, 2, []string{dir, "has no metrics.jsonl"}},
		{"report of a missing directory", []string{"report", filepath.Join(dir, "nosuchrun"), "--out", out("rp3")}, 2, []string{filepath.Join(dir, "nosuchrun") + ": no such directory"}},
		{"report of only its own directory", []string{"report", out("rp2"), "--out", out("rp2")}, 2, []string{"no runs to report"}},
		{"report --out a file", []string{"report", pre, "--out", typo}, 2, []string{"--out " + typo + " is a file"}},
		{"report --out under a file", []string{"report", pre, "--out", filepath.Join(typo, "rp")}, 2, []string{"--out " + filepath.Join(typo, "rp"), "not a directory"}},
		{"report without a run directory", []string{"report"}, 2, []string{"report needs one or more run directories"}},
		{"report --format unknown", []string{"report", dir, "--format", "pdf", "--out", out("rp2")}, 2, []string{"--format", "pdf", "png, svg or html"}},
		{"eval --stride -1", []string{"eval", "--model", pre, "--data", typo, "--stride", "-1"}, 2, []string{"--stride -1"}},
		{"predict --format unknown", []string{"predict", "--model", pre, "--data", typo, "--format", "xml"}, 2, []string{"--format", "xml", "tsv, csv or jsonl"}},
		{"eval --format of a language model", []string{"eval", "--model", pre, "--data", short, "--format", "tsv"}, 2, []string{"--format", "task files"}},
		{"eval --skip-bad-rows of a language model", []string{"eval", "--model", pre, "--data", short, "--skip-bad-rows"}, 2, []string{"--skip-bad-rows is for task files"}},
		{"eval --split unknown", []string{"eval", "--model", pre, "--data", noShards, "--split", "test"}, 2, []string{"--split", "test", "val or train"}},
		{"eval of a directory without shards", []string{"eval", "--model", pre, "--data", noShards}, 2, []string{noShards, "a directory without token shards", "gptctl data prepare --tokenizer MODEL_DIR"}},
		{"eval --split of a text file", []string{"eval", "--model", pre, "--data", short, "--split", "train"}, 2, []string{short, "directory of shards"}},
		{"eval --stride with --task", []string{"eval", "--model", pre, "--data", typo, "--task", goodTask, "--stride", "4"}, 2, []string{"--stride", "not for task files"}},
		{"eval --task not multiple choice", []string{"eval", "--model", pre, "--data", typo, "--task", goodTask}, 2, []string{"--task", "multiple_choice", "classification"}},
		{"eval --task bad config", []string{"eval", "--model", pre, "--data", typo, "--task", taskType}, 2, []string{taskType, "translation"}},
		{"generate --num-samples -1", []string{"generate", "--model", pre, "--num-samples", "-1"}, 2, []string{"--num-samples -1"}},
		{"generate --num-samples 0", []string{"generate", "--model", pre, "--num-samples", "0"}, 2, []string{"--num-samples 0"}},
		{"generate --num-samples times the prompts over an int", []string{"generate", "--model", pre, "--prompts", fourPrompts, "--num-samples", "4611686018427387904", "--json"}, 2, []string{"--num-samples 4611686018427387904 times the 4 prompts of " + fourPrompts + " is over 9223372036854775807 samples"}},
		{"generate --threads -1", []string{"generate", "--model", pre, "--threads", "-1"}, 2, []string{"--threads -1"}},
		{"generate --repetition-penalty -1", []string{"generate", "--model", pre, "--repetition-penalty", "-1"}, 2, []string{"--repetition-penalty -1 must be positive (1: off)"}},
		{"generate --repetition-penalty 0", []string{"generate", "--model", pre, "--repetition-penalty", "0"}, 2, []string{"--repetition-penalty 0 must be positive (1: off)"}},
		{"generate --repetition-penalty +Inf", []string{"generate", "--model", pre, "--repetition-penalty", "+Inf"}, 2, []string{"--repetition-penalty +Inf must be a finite number"}},
		{"generate --special of a char model", []string{"generate", "--model", pre, "--special"}, 2, []string{"--special: the model's tokenizer (char) has no special tokens"}},
		{"generate --device unknown", []string{"generate", "--model", pre, "--device", "gpu"}, 2, []string{`--device "gpu" is not auto, cpu or cuda`}},
		{"pretrain -c twice", []string{"pretrain", "-c", typo, "-c", invalid}, 2, []string{`--config given twice ("` + typo + `", then "` + invalid + `"): one config file a job: override its keys with --set key=value`}},
		{"finetune --config twice", []string{"finetune", "--config", typo, "-c", invalid}, 2, []string{"--config given twice", "--set key=value"}},
		{"pretrain --data twice", []string{"pretrain", "--data", "a.txt", "--data", "b.txt"}, 2, []string{`--data given twice ("a.txt", then "b.txt"): one corpus a run: a glob takes several files (quote it: --data 'dir/*.txt')`}},
		{"predict --data twice", []string{"predict", "--model", pre, "-d", "a.tsv", "--data", "b.tsv"}, 2, []string{`--data given twice ("a.tsv", then "b.tsv"): predict reads one task file a run`}},
		{"pretrain with an expanded glob", []string{"pretrain", "--data", "a.txt", "b.txt"}, 2, []string{`unexpected argument "b.txt": gptctl pretrain takes flags only (a glob after --data that the shell expands gives several words: quote it, --data 'dir/*.txt')`}},
		{"generate with an argument", []string{"generate", "--model", pre, "ROMEO:"}, 2, []string{`unexpected argument "ROMEO:": gptctl generate takes flags only`}},
		{"generate --prompts line of the wrong type", []string{"generate", "--model", pre, "--prompts", typedPrompts}, 2, []string{typedPrompts + `:1: "prompt" is a JSON number; it must be a string`}},
		{"generate --prompts not UTF-8", []string{"generate", "--model", pre, "--prompts", latin1Prompts}, 2, []string{latin1Prompts + ":2: the line is not valid UTF-8"}},
		{"generate --stop empty", []string{"generate", "--model", pre, "--stop", ""}, 2, []string{`--stop "": a stop string must not be empty`}},
		{"generate --stop not UTF-8", []string{"generate", "--model", pre, "--stop", "caf\xe9"}, 2, []string{`--stop "caf\xe9" is not UTF-8`}},
		{"generate --prompt and --prompt-file", []string{"generate", "--model", pre, "--prompt", "a", "--prompt-file", typo}, 2, []string{"give one of them"}},
		{"generate --prompt-file and --prompts", []string{"generate", "--model", pre, "--prompt-file", typo, "--prompts", badPrompts}, 2, []string{"--prompt, --prompt-file and --prompts: give one of them"}},
		{"generate --prompts missing", []string{"generate", "--model", pre, "--prompts", filepath.Join(dir, "none.jsonl")}, 2, []string{"--prompts", "none.jsonl"}},
		{"generate --prompts bad line", []string{"generate", "--model", pre, "--prompts", badPrompts}, 2, []string{badPrompts + ":2: a line is a JSON object"}},
		{"generate --prompt-file missing", []string{"generate", "--model", pre, "--prompt-file", filepath.Join(dir, "none.txt")}, 2, []string{"--prompt-file", "none.txt"}},
		{"bench --steps 0", []string{"bench", "-c", "../../configs/bench-small.yaml", "--steps", "0"}, 2, []string{"steps 0"}},
		{"run directory in use", []string{"pretrain", "--resume", "--out", pre}, 2, []string{pre, "in use"}},
		// Configs.
		{"missing config file", []string{"pretrain", "-c", filepath.Join(dir, "none.yaml")}, 2, []string{"none.yaml"}},
		{"unknown config key", []string{"pretrain", "-c", typo}, 2, []string{typo, "line 1", "n_layers"}},
		{"invalid values, all at once", []string{"pretrain", "-c", invalid}, 2, []string{invalid, "n_embd 100 is not divisible by n_head 3"}},
		{"YAML syntax error", []string{"pretrain", "-c", syntax}, 2, []string{syntax, "line"}},
		{"wrong type in config", []string{"pretrain", "-c", wrongType}, 2, []string{wrongType, "line 2", "fast"}},
		{"unknown arch", []string{"pretrain", "-c", arch}, 2, []string{arch, "arch", "gpt3"}},
		// Values only the run's start can check name the config too.
		{"tokenizer directory missing", []string{"pretrain", "-c", noTokDir, "--out", out("notok")}, 2, []string{"config " + noTokDir + ": tokenizer", "no-such-tokenizer"}},
		{"vocab_size below the tokenizer's", []string{"pretrain", "-c", smallVocab, "--out", out("vocab")}, 2, []string{"config " + smallVocab + ": vocab_size 10", "at least"}},
		{"vocab_size by --set", []string{"pretrain", "--set", "vocab_size=10", "--out", out("vocab2")}, 2, []string{"--set vocab_size=10: vocab_size 10"}},
		// Corpora.
		{"missing corpus", []string{"pretrain", "--data", filepath.Join(dir, "none.txt"), "--out", out("r1")}, 2, []string{"none.txt"}},
		{"empty corpus", []string{"pretrain", "--data", empty, "--out", out("r2")}, 2, []string{empty, "empty"}},
		{"corpus shorter than the context", []string{"pretrain", "--data", short, "--out", out("r3")}, 2, []string{short}},
		{"directory without shards", []string{"pretrain", "--data", noShards, "--out", out("r4")}, 2, []string{noShards, "without token shards (train_*.bin)", "data prepare --out"}},
		{"eval on an empty file", []string{"eval", "--model", pre, "--data", empty}, 2, []string{empty}},
		// Model directories.
		{"model dir missing", []string{"generate", "--model", filepath.Join(dir, "nope")}, 2, []string{"nope", "no such directory"}},
		{"model dir without config.json", []string{"generate", "--model", noConfig}, 2, []string{noConfig, "config.json"}},
		{"model dir without weights", []string{"generate", "--model", noWeights}, 2, []string{noWeights, "model.safetensors"}},
		{"config.json not JSON", []string{"generate", "--model", badJSON}, 2, []string{"config.json"}},
		{"unknown model_type", []string{"generate", "--model", bert}, 2, []string{"model_type", "bert"}},
		{"weights of another shape", []string{"generate", "--model", wider}, 2, []string{"shape"}},
		{"truncated weights", []string{"generate", "--model", truncated}, 2, []string{"model.safetensors"}},
		{"weights not safetensors", []string{"generate", "--model", garbage}, 2, []string{"model.safetensors"}},
		{"weights not finite", []string{"eval", "--model", nanWeights, "--data", typo}, 2, []string{"model.safetensors", "holds NaN", "not finite"}},
		{"generate from a model without a tokenizer", []string{"generate", "--model", noTok}, 2, []string{noTok, "has no tokenizer", "text cannot be generated"}},
		{"eval of a model without a tokenizer", []string{"eval", "--model", noTok, "--data", typo}, 2, []string{noTok, "has no tokenizer", "cannot be encoded"}},
		{"finetune from a model without a tokenizer", []string{"finetune", "-c", goodTask, "--init", noTok, "--out", out("f9")}, 2, []string{noTok, "has no tokenizer", "task text"}},
		{"pretrain from a model without a tokenizer", []string{"pretrain", "--init", noTok, "--out", out("p3")}, 2, []string{"init_from", noTok, "has no tokenizer", "corpus"}},
		{"finetune from a missing model", []string{"finetune", "-c", goodTask, "--init", filepath.Join(dir, "nope"), "--out", out("f0")}, 2, []string{"nope"}},
		{"pretrain from a missing model", []string{"pretrain", "--init", filepath.Join(dir, "nope"), "--out", out("p0")}, 2, []string{"init_from", "nope"}},
		{"pretrain from a model without weights", []string{"pretrain", "--init", noWeights, "--out", out("p1")}, 2, []string{noWeights, "model.safetensors"}},
		{"--init with --resume", []string{"pretrain", "--init", pre, "--resume", "--out", out("p2")}, 2, []string{"--init", "--resume"}},
		// Task files and finetune configs.
		{"task row missing a field", []string{"finetune", "-c", missingField, "--out", out("f1")}, 2, []string{"missing.tsv:3"}},
		{"task row with an unknown label", []string{"finetune", "-c", unknownLabel, "--out", out("f2")}, 2, []string{"label.tsv:3", "neutral"}},
		{"task column not in the header", []string{"finetune", "-c", noColumn, "--out", out("f3")}, 2, []string{"sentiment"}},
		{"non-numeric score", []string{"finetune", "-c", regression, "--out", out("f4")}, 2, []string{"scores.tsv:3", "high"}},
		{"unterminated CSV quote", []string{"finetune", "-c", csvTask, "--out", out("f5")}, 2, []string{"quoted.csv:2"}},
		{"broken JSONL row", []string{"finetune", "-c", jsonlTask, "--out", out("f6")}, 2, []string{"rows.jsonl:2"}},
		{"unknown task type", []string{"finetune", "-c", taskType, "--out", out("f7")}, 2, []string{taskType, "translation"}},
		{"lambda out of range", []string{"finetune", "-c", lambda, "--out", out("f8")}, 2, []string{"lambda"}},
		{"predict with no model there", []string{"predict", "--model", filepath.Join(dir, "nonexistent"), "--data", filepath.Join(dir, "good.tsv")}, 2, []string{"no such directory"}},
		{"predict with a pretrained model", []string{"predict", "--model", pre, "--data", filepath.Join(dir, "good.tsv")}, 2, []string{"finetuned model"}},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	// "run directory in use" needs the lock held, as a running job holds it.
	release := holdLock(t, pre)
	defer release()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			t.Logf("status %d: %s", code, strings.TrimSpace(stderr))
			ok := code == c.code
			for _, w := range c.want {
				ok = ok && strings.Contains(stderr, w)
			}
			if !ok {
				t.Errorf("gptctl %s:\nstatus %d, stderr %q\nwant status %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
			}
			if strings.Count(stderr, "gptctl: ") != 1 || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr[strings.Index(stderr, "gptctl: "):], "\n") != 1 {
				t.Errorf("want a one-line error, got %q", stderr)
			}
		})
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// holdLock takes the lock of run directory dir as a running job would.
func holdLock(t *testing.T, dir string) func() {
	t.Helper()
	release, err := data.LockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	return release
}
