package train

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "n_layer: 2\nlr: 3e-4\narch: gpt2\n")
	cases := []struct {
		name  string
		path  string
		sets  []string
		want  []string // substrings of the error; none = success
		check func(Config) bool
	}{
		{"defaults", "", nil, nil, func(c Config) bool { return c.NLayer == 4 && c.Data == "builtin" }},
		{"file", good, nil, nil, func(c Config) bool { return c.NLayer == 2 && c.LR == 3e-4 && c.Arch == "gpt2" && c.NEmbd == 128 }},
		{"set wins over file", good, []string{"n_layer=6", "data=x.txt"}, nil, func(c Config) bool { return c.NLayer == 6 && c.Data == "x.txt" }},
		{"unknown key in file", write("typo.yaml", "n_layers: 2\n"), nil, []string{"typo.yaml", "n_layers", "unknown key n_layers"}, nil},
		{"a bad --set value is named", good, []string{"dropout=2"}, []string{"good.yaml with --set dropout=2: dropout 2 is not in [0, 1)"}, nil},
		{"the overrides of flags are named as the flags", good, []string{"dropout=2", `data="my corpus.txt"`, `device="cpu"`}, []string{"good.yaml with --set dropout=2 --data my corpus.txt --device cpu: dropout 2"}, nil},
		{"two documents", write("two.yaml", "n_layer: 2\n---\nn_layrs: 3\n"), nil, []string{"two.yaml", "line 3: a second YAML document"}, nil},
		{"one document with its markers", write("one.yaml", "---\nn_layer: 2\n...\n"), nil, nil, func(c Config) bool { return c.NLayer == 2 }},
		{"a syntax error in a second document", write("bad2.yaml", "n_layer: 2\n---\n: bad: [\n"), nil, []string{"bad2.yaml", "did not find expected key"}, nil},
		{"an empty second document", write("empty2.yaml", "n_layer: 2\n---\n# nothing\n---\n"), nil, nil, func(c Config) bool { return c.NLayer == 2 }},
		{"two unknown keys", write("typos.yaml", "n_layers: 2\nlrate: 1\n"), nil, []string{"line 1: unknown key n_layers (did you mean n_layer?); line 2: unknown key lrate (the known keys: arch, "}, nil},
		{"unknown key in --set", "", []string{"lrate=1"}, []string{"--set lrate=1", "lrate"}, nil},
		{"bad value type", write("type.yaml", "n_layer: many\n"), nil, []string{"type.yaml", "line 1"}, nil},
		{"set without =", "", []string{"n_layer"}, []string{"want key=value"}, nil},
		{"every problem at once", write("bad.yaml", "n_embd: 100\nn_head: 3\nlr: -1\narch: gpt3\nbatch_size: 0\n"), nil,
			[]string{"bad.yaml", "n_embd 100 is not divisible by n_head 3", "lr -1", `arch "gpt3"`, "batch_size 0"}, nil},
		{"missing file", filepath.Join(dir, "none.yaml"), nil, []string{"none.yaml", "no such file"}, nil},
		{"seq_len beyond context", "", []string{"seq_len=65"}, []string{"seq_len 65"}, nil},
		{"bad device", "", []string{"device=tpu"}, []string{`device "tpu"`}, nil},
		{"flash without tf32", "", []string{"flash_attention=true", "tf32=false"}, []string{"flash_attention: true needs tf32: true"}, nil},
		{"flash with tf32", "", []string{"flash_attention=true"}, nil, func(c Config) bool { return c.Flash && c.TF32 }},
		{"exact gelu on gpt2", "", []string{"arch=gpt2", "gelu=erf"}, nil, func(c Config) bool { return c.GELU == "erf" }},
		{"exact gelu on gpt1", "", []string{"gelu=erf"}, []string{"gelu erf needs arch gpt2"}, nil},
		// init_from's model replaces the architecture keys (the command
		// refuses a --set of one): they are not checked against the
		// config's arch; dropout, the config's own, is.
		{"exact gelu with init_from", "", []string{"gelu=erf", "init_from=m"}, nil, func(c Config) bool { return c.GELU == "erf" && c.InitFrom == "m" }},
		{"architecture keys with init_from", "", []string{"n_embd=100", "n_head=3", "arch=gpt3", "init_from=m"}, nil, func(c Config) bool { return c.NEmbd == 100 }},
		{"dropout with init_from", "", []string{"dropout=2", "init_from=m"}, []string{"dropout 2 is not in [0, 1)"}, nil},
		{"unknown gelu", "", []string{"gelu=exact"}, []string{`gelu "exact" is not tanh or erf`}, nil},
		{"--set values YAML would misread", "", []string{"data=my file #2.txt", "tokenizer=@tok", "val_data=*.txt", "n_layer=6"}, nil,
			func(c Config) bool {
				return c.Data == "my file #2.txt" && c.Tokenizer == "@tok" && c.ValData == "*.txt" && c.NLayer == 6
			}},
		{"--set text keys take the text", "", []string{"data=!x.txt", "val_data=|", "tokenizer=null", "init_from=~", "max_time=\"1h\"", "lr_decay='linear'"}, nil,
			func(c Config) bool {
				return c.Data == "!x.txt" && c.ValData == "|" && c.Tokenizer == "null" && c.InitFrom == "~" && c.MaxTime == "1h" && c.LRDecay == "linear"
			}},
		{"--set null for a number", "", []string{"lr=null"}, []string{"--set lr=null", "give it a value"}, nil},
		{"a fraction for an integer key", write("frac.yaml", "lr: 1e-3\nn_layer: 2.5\n"), nil, []string{"frac.yaml", "line 2", "`2.5` is not an integer"}, nil},
		{"--set a fraction for an integer key", "", []string{"max_steps=5.9"}, []string{"--set max_steps=5.9: `5.9` is not an integer"}, nil},
		{"a whole number written as a float", "", []string{"max_steps=1e3"}, nil, func(c Config) bool { return c.MaxSteps == 1000 }},
		{"a negative seed", "", []string{"seed=-1"}, []string{"`-1` is negative: give a whole number, 0 or more"}, nil},
		{"an empty gelu is the default tanh", write("gelu.yaml", "gelu: \"\"\n"), nil, nil, func(c Config) bool { return c.GELU == "tanh" }},
		{"NaN and infinity", write("nan.yaml", "lr: .nan\ndropout: -.inf\n"), []string{"grad_clip=.inf"},
			[]string{"nan.yaml", "lr is NaN: want a finite number", "dropout is -Inf", "grad_clip is +Inf"}, nil},
		{"each bad key named with its value", "", []string{"checkpoint_interval=-1", "grad_clip=-2", "eps=0", "weight_decay=-1", "patience=-3"},
			[]string{"checkpoint_interval -1 must not be negative", "grad_clip -2 must not be negative", "eps 0 must be positive", "weight_decay -1 must not be negative", "patience -3 must not be negative"}, nil},
		{"a list for the config", write("list.yaml", "- n_layer: 2\n"), nil, []string{"list.yaml", "line 1: a list where the config's keys are wanted"}, nil},
		{"a number out of range", "", []string{"lr=1e999"}, []string{"--set lr=1e999: `1e999` is out of range for a number"}, nil},
		{"float32 key not a number", "", []string{"dropout=abc"}, []string{"--set dropout=abc: `abc` is not a number"}, nil},
		{"a number tagged as text", write("tag.yaml", "n_layer: !!str 1\nlr: !!str 1e-3\n"), nil,
			[]string{"tag.yaml: line 1: n_layer: `1` is tagged !!str, which makes it text: write the number without the tag; line 2: lr: `1e-3` is tagged !!str"}, nil},
		{"true or false as text", write("bool.yaml", "tf32: !!str true\nbf16: \"false\"\n"), nil,
			[]string{"line 1: tf32: `true` is tagged !!str, which makes it text: write true or false without the tag; line 2: bf16: `false` is quoted, which makes it text: write true or false without quotes"}, nil},
		{"YAML 1.1 booleans as text", write("bool11.yaml", "n_layer: 2\ntf32: 'off'\n"), nil, []string{"bool11.yaml: line 2: tf32: `off` is quoted, which makes it text: write true or false without quotes"}, nil},
		{"y is not a boolean", "", []string{"tf32=n"}, []string{"--set tf32=n: `n` is not true or false"}, nil},
		{"an empty --set of a boolean", "", []string{"tf32=", "bf16=yes # on"}, []string{"--set tf32=: `` is not true or false", "--set bf16=yes # on: `yes # on` is not true or false"}, nil},
		{"a quoted no in --set", "", []string{`bf16="no"`}, []string{"--set bf16=\"no\": `no` is quoted"}, nil},
		{"bare YAML 1.1 booleans", "", []string{"tf32=off", "bf16=yes"}, nil, func(c Config) bool { return !c.TF32 && c.BF16 }},
		{"UTF-16 with its byte order mark", write("utf16.yaml", "\xff\xfen\x00_\x00l\x00a\x00y\x00e\x00r\x00:\x00 \x003\x00\n\x00"), nil, nil,
			func(c Config) bool { return c.NLayer == 3 }},
		{"UTF-16BE with its byte order mark", write("utf16be.yaml", "\xfe\xff\x00l\x00r\x00:\x00 \x000\x00.\x005\x00\n"), nil, nil,
			func(c Config) bool { return c.LR == 0.5 }},
		{"AdamW settings float32 makes 1 or 0", "", []string{"beta2=0.99999999", "eps=1e-50"},
			[]string{"beta1 0.9 and beta2 0.99999999 must be below 1 in float32", "eps 1e-50 is 0 in float32"}, nil},
		{"an alias without its anchor", write("alias.yaml", "n_layer: 2\r\nbatch_size: [1, *b]\r\nlr: *b\n"), nil,
			[]string{"alias.yaml: line 2: *b refers to an anchor &b that no line before it defines (a value starting with * must be quoted: \"*b\")"}, nil},
		{"an lr float32 overflows or makes 0", "", []string{"lr=1e300", "weight_decay=0"},
			[]string{"lr 1e+300 over 1-beta1 0.1, the first step's size, overflows float32"}, nil},
		{"an lr float32 makes 0", "", []string{"lr=1e-50", "min_lr=0"}, []string{"lr 1e-50 is 0 in float32"}, nil},
		{"a decay float32 overflows", "", []string{"weight_decay=1e42"},
			[]string{"lr 0.001 times weight_decay 1e+42, each step's decay, overflows float32"}, nil},
		{"an lr that diverges, in float32", "", []string{"lr=1e30", "weight_decay=1e8", "beta1=0.5"}, nil,
			func(c Config) bool { return c.LR == 1e30 }},
		{"every --set problem at once", "", []string{"foo=3", "max_steps=.nan", "bar=4"},
			[]string{"--set foo=3: unknown key foo\n", "--set max_steps=.nan: `.nan` is not an integer", "--set bar=4: unknown key bar (the known keys: arch,"}, nil},
		{"unknown keys beside bad values", "", []string{"foo=3", "bar=4", "n_layer=-1", "lr=.inf"},
			[]string{"--set foo=3: unknown key foo\n", "--set bar=4: unknown key bar (the known keys: arch,", "n_layer -1 must be positive", "lr is +Inf"}, nil},
		{"the file's unknown keys and every value at once", write("all.yaml", "n_layer: -1\nfoo: 3\nlr: .inf\nbatch_size: 0\n"), []string{"bar=1"},
			[]string{"all.yaml: line 2: unknown key foo", "--set bar=1: unknown key bar", "n_layer -1 must be positive", "lr is +Inf", "batch_size 0 must be positive"}, nil},
		{"UTF-16 without a byte order mark", write("nobom.yaml", "l\x00r\x00:\x00 \x001\x00\n\x00"), nil,
			[]string{"nobom.yaml: line 1: a NUL byte, which UTF-8 text does not hold: the file is UTF-16LE without a byte order mark (NUL bytes lie between its first characters); gptctl reads UTF-8: convert it, e.g. with iconv -f UTF-16LE -t UTF-8"}, nil},
		{"UTF-32 with its byte order mark", write("utf32.yaml", "\xff\xfe\x00\x00l\x00\x00\x00r\x00\x00\x00:\x00\x00\x00 \x00\x00\x001\x00\x00\x00\n\x00\x00\x00"), nil,
			[]string{"utf32.yaml: line 1: a NUL byte, which UTF-8 text does not hold: the file is UTF-32LE (it begins with that byte order mark); gptctl reads UTF-8: convert it, e.g. with iconv -f UTF-32 -t UTF-8"}, nil},
		{"NUL bytes in no wide encoding", write("nul.yaml", "lr: 1\x00\x00\x00\x00\n"), nil,
			[]string{"nul.yaml: line 1: a NUL byte, which UTF-8 text does not hold: the file is UTF-16 or UTF-32, or not text; save it as UTF-8"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(c.path, c.sets)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !c.check(cfg) {
					t.Errorf("unexpected config %+v", cfg)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a ConfigError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// An unknown key is named with the known keys nearest to it, those of its
// own section or the one it belongs in, or else with the keys of its
// section: things that exist for a user of the binary, where the message
// pointed to configs/, whose files list no finetune key.
func TestUnknownKeyNamesTheNearest(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		finetune bool
		body     string
		sets     []string
		want     string
	}{
		{false, "n_heads: 2\n", nil, "line 1: unknown key n_heads (did you mean n_head?)"},
		{false, "lr: 1e-3\nN-LAYER: 2\n", nil, "line 2: unknown key N-LAYER (did you mean n_layer?)"},
		{false, "beta: 0.9\n", nil, "unknown key beta (did you mean beta1 or beta2?)"},
		{false, "", []string{"n_heads=2"}, "--set n_heads=2: unknown key n_heads (did you mean n_head?)"},
		{false, "zzz: 1\n", nil, "line 1: unknown key zzz (the known keys: arch, vocab_size, n_ctx, n_embd, n_head, n_layer, dropout, "},
		{false, "lambda: 0.5\n", nil, ", tf32, bf16, flash_attention)"},
		{true, "lamda: 0.3\n", nil, "line 1: unknown key lamda (did you mean lambda?)"},
		{true, "head_droput: 0.1\nwarmup_fracton: 0.1\n", nil, "line 1: unknown key head_droput (did you mean head_dropout?); line 2: unknown key warmup_fracton (did you mean warmup_fraction?)"},
		{true, "max_len: 64\n", nil, "line 1: unknown key max_len (did you mean task.max_len? it belongs under task:)"},
		{true, "task:\n  lambda: 1\n", nil, "line 2: unknown key task.lambda (did you mean lambda? it is a top-level key, not under task:)"},
		{true, "task:\n  val_fraktion: 0.2\n", nil, "line 2: unknown key task.val_fraktion (did you mean val_fraction?)"},
		{true, "task:\n  zzz: 1\n", nil, "line 2: unknown key task.zzz (task's known keys: type, format, header, columns, labels, label_base, min_options, skip_bad_rows, train, val, val_fraction, split_seed, max_len, metric)"},
		// --set names a key by its full dotted name, whatever section the key it misspells is in.
		{true, "", []string{"task.max_lne=3"}, "--set task.max_lne=3: unknown key task.max_lne (did you mean task.max_len?)\n"},
		{true, "", []string{"task.maxlen=64"}, "--set task.maxlen=64: unknown key task.maxlen (did you mean task.max_len?)\n"},
		{true, "", []string{"max_len=64"}, "--set max_len=64: unknown key max_len (did you mean task.max_len?)\n"},
		{true, "", []string{"task.lambda=1"}, "--set task.lambda=1: unknown key task.lambda (did you mean lambda?)\n"},
		{true, "", []string{"task.columns.text=s", "task.lables=[a, b]"}, "--set task.lables=[a, b]: unknown key task.lables (did you mean task.labels?)\n"},
		{true, "zzz: 1\n", nil, "line 1: unknown key zzz (the known keys: init_from, random_init, task, lambda, dropout, head_dropout, "},
	} {
		path := ""
		if c.body != "" {
			path = filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if c.finetune {
			_, err = LoadFinetune(path, c.sets)
		} else {
			_, err = Load(path, c.sets)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "configs/") {
			t.Errorf("%q %q: %v\nwant a ConfigError with %q", c.body, c.sets, err, c.want)
		}
	}
}

func TestShippedConfigsLoad(t *testing.T) {
	paths, _ := filepath.Glob("../configs/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no configs found")
	}
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), "finetune-") {
			continue // finetune configs: TestShippedFinetuneConfigsLoad
		}
		if _, err := Load(p, nil); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestLRSchedule(t *testing.T) {
	for _, c := range []struct {
		step int
		want float64
	}{{0, 1e-3 / 100}, {99, 1e-3}, {100, 1e-3}, {1050, 5.5e-4}, {2000, 1e-4}, {5000, 1e-4}} {
		if got := LR(c.step, 100, 2000, 1e-3, 1e-4, "cosine"); abs(got-c.want) > 1e-12 {
			t.Errorf("LR(%d) = %g, want %g", c.step, got, c.want)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// flash_attention on a model whose head size flash.cu lacks says so once
// at the start instead of silently running the batched path.
func TestFlashNotice(t *testing.T) {
	on := GPUMath{TF32: true, Flash: true}
	for _, c := range []struct {
		g    GPUMath
		hs   int
		want string
	}{{on, 8, "head size 8 (n_embd/n_head) is not 16, 32 or 64"}, {on, 64, ""}, {GPUMath{TF32: true}, 8, ""}} {
		var b strings.Builder
		c.g.flashNotice(&b, c.hs)
		if c.want == "" && b.Len() > 0 || !strings.Contains(b.String(), c.want) {
			t.Errorf("%+v, head size %d: notice %q, want %q", c.g, c.hs, b.String(), c.want)
		}
	}
}

// A fraction reached through an alias or a merge key is refused like one
// written in place (the decoder would cut it to its whole part), and a key
// with no value is refused as --set refuses one (the decoder would keep the
// default without a word), as is a null list entry (which it would drop,
// moving the later labels to other classes).
func TestConfigAliasesMergesNulls(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, body, want string }{
		{"fraction through an alias", "lr: &x 2.5\nn_layer: *x\n", "`2.5` is not an integer"},
		{"fraction through a merge key", "<<: {n_layer: 2.5}\n", "`2.5` is not an integer"},
		{"a key with no value", "n_layer: 2\nlr:\n", "line 2: lr has no value"},
		{"a key with null", "max_steps: ~\n", "line 1: max_steps has no value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "c.yaml")
			os.WriteFile(p, []byte(c.body), 0o644)
			cfg, err := Load(p, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q: Load gave n_layer %d, lr %v, max_steps %d, error %v; want an error with %q", c.body, cfg.NLayer, cfg.LR, cfg.MaxSteps, err, c.want)
			}
		})
	}
	p := filepath.Join(dir, "ft.yaml")
	os.WriteFile(p, []byte("init_from: x\ntask:\n  type: classification\n  train: t.tsv\n  columns: {text: s, label: l}\n  labels: [a, ~, b]\n"), 0o644)
	cfg, err := LoadFinetune(p, nil)
	if err == nil || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("labels [a, ~, b]: got labels %q, error %v; want an error at line 6", cfg.Task.Labels, err)
	}
	// A merge key inside its own anchor, an alias in its own anchor, and
	// aliases of aliases (a billion laughs) are the decoder's to refuse:
	// the check before it follows each anchor once, not for ever or
	// exponentially often.
	laughs := "init_from: x\na0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
	for i := 1; i < 9; i++ {
		laughs += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	for _, body := range []string{"task: &x {type: classification, columns: *x}\n", "task: &x {type: classification, <<: *x}\n", laughs + "task: {type: classification, labels: *a8}\n"} {
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadFinetune(p, nil); err == nil {
			t.Errorf("%.60q: loaded", body)
		}
	}
	// Merge keys of whole numbers still work.
	os.WriteFile(p, []byte("<<: [{n_layer: 3}, {n_head: 2}]\n"), 0o644)
	if c, err := Load(p, nil); err != nil || c.NLayer != 3 || c.NHead != 2 {
		t.Errorf("merge keys: %v, n_layer %d, n_head %d", err, c.NLayer, c.NHead)
	}
}

// A value of the wrong type is named by its key, nested keys dotted, also
// in a flow mapping that puts several keys on one line, and every one of
// them is reported at once.
func TestConfigTypeErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ft.yaml")
	os.WriteFile(p, []byte("lr: fast\nmax_steps: [1]\ntask: {type: classification, max_len: big, labels: a, columns: [text]}\nseed: -3\nbatch_size: \"8\"\n"), 0o644)
	_, err := LoadFinetune(p, nil)
	for _, want := range []string{
		"line 1: lr: `fast` is not a number",
		"line 2: max_steps: a list is not an integer",
		"line 3: task.max_len: `big` is not an integer",
		"line 3: task.labels: `a` where a list is wanted",
		"line 3: task.columns: a list where a mapping of names is wanted",
		"line 5: batch_size: `8` is quoted, which makes it text",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
	os.WriteFile(p, []byte("max_steps: 99999999999999999999\nlr: \"0.000000001\"\n"), 0o644)
	_, err = Load(p, nil)
	for _, want := range []string{"line 1: max_steps: `99999999999999999999` is too large", "line 2: lr: `0.000000001` is quoted"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("values the decoder's message cuts: %v\nlacks %q", err, want)
		}
	}
	os.WriteFile(p, []byte("seed: -3\n"), 0o644)
	if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), "line 1: seed: `-3` is negative") {
		t.Errorf("a negative seed: %v", err)
	}
}

// The key named in a type error is the one whose value the decoder refused,
// not another on the same line with the same value or kind.
func TestConfigTypeErrorsNameTheRightKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ft.yaml")
	for body, want := range map[string]string{
		"init_from: x\ntask: {type: classification, labels: 2, max_len: 2}\n":        "line 2: task.labels: `2` where a list is wanted",
		"init_from: x\ntask: {type: classification, columns: [text], labels: [a]}\n": "line 2: task.columns: a list where a mapping of names is wanted",
		"init_from: x\ntask: {type: classification, labels: positive_label}\n":       "line 2: task.labels: `positive_label` where a list is wanted",
		"init_from: x\nmax_steps: 99999999999999999999\n":                            "line 2: max_steps: `99999999999999999999` is too large",
		"init_from: x\ntask:\nlr: 1e-4\n":                                            "line 2: task has no keys: write them below it, indented with spaces",
	} {
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadFinetune(p, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant %q", body, err, want)
		}
	}
}

// configs/default.yaml spells out every key, with the values gptctl
// pretrain uses when given no config.
func TestDefaultYAMLIsDefault(t *testing.T) {
	c, err := Load("../configs/default.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.where = "" // names the file for errors
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("configs/default.yaml gives\n%+v\nDefault() is\n%+v", c, Default())
	}
	b, err := os.ReadFile("../configs/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file, all map[string]any
	out, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(out, &all); err != nil {
		t.Fatal(err)
	}
	for k := range all {
		if _, ok := file[k]; !ok {
			t.Errorf("configs/default.yaml lacks the key %s", k)
		}
	}
}

// A value that could not be read hides the checks that involve it: they
// would judge the keys around it by what stood before (n_ctx 64 for a
// seq_len meant for an n_ctx the file failed to set), naming problems the
// user does not have. The checks of the other keys are reported with it,
// and unknown keys leave every other key read.
func TestUnreadValueHidesValidation(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("n_ctx: 512\nn_layer: 2.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	decay, initFrom := filepath.Join(dir, "decay.yaml"), filepath.Join(dir, "init.yaml")
	os.WriteFile(decay, []byte("lr_decay: [constant]\n"), 0o644)
	os.WriteFile(initFrom, []byte("init_from: [m]\n"), 0o644)
	for _, c := range []struct {
		path string
		sets []string
		want string
	}{
		{"", []string{"n_ctx=abc", "seq_len=128"}, "--set n_ctx=abc"},
		{"", []string{"lr=abc", "min_lr=0.01"}, "--set lr=abc"},
		{bad, []string{"seq_len=256"}, "`2.5` is not an integer"},
		{decay, []string{"lr=1e-4", "min_lr=1e-3"}, "line 1: lr_decay: a list where text is wanted"},
		{initFrom, []string{"n_head=3"}, "line 1: init_from: a list where text is wanted"},
	} {
		_, err := Load(c.path, c.sets)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "with --set") || strings.Contains(err.Error(), "seq_len 2") {
			t.Errorf("%s %v: %v; want %q alone", c.path, c.sets, err, c.want)
		}
	}
	var ce *ConfigError
	if _, err := LoadFinetune("", []string{"task.columns={text: [a], label: l}"}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "task.columns.text: a list where text is wanted") ||
		!strings.Contains(err.Error(), "task.train is empty") || strings.Contains(err.Error(), "task.columns: ") || strings.Contains(err.Error(), "task.labels") {
		t.Errorf("a map override that could not be read: %v; want its error beside the checks of the other task keys", err)
	}
	// The checks of the keys that were read are reported beside it.
	p := filepath.Join(dir, "two.yaml")
	os.WriteFile(p, []byte("lr: abc\ndropout: 2\nn_ctx: x\nseq_len: 100\n"), 0o644)
	_, err := Load(p, []string{"batch_size=y", "max_steps=0"})
	for _, want := range []string{"line 1: lr: `abc` is not a number", "line 3: n_ctx: `x` is not an integer", "--set batch_size=y: `y` is not an integer",
		"config " + p + " with --set batch_size=y --set max_steps=0: dropout 2 is not in [0, 1)", "max_steps 0 must be positive"} {
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("type errors beside bad values: %v\nlacks %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "seq_len 100") || strings.Contains(err.Error(), "min_lr")) {
		t.Errorf("type errors beside bad values: %v\nchecks an unread key", err)
	}
	ft := filepath.Join(dir, "ft.yaml")
	os.WriteFile(ft, []byte("init_from: x\nlr: abc\nlambda: 2\ntask: {type: classification, train: t.tsv, columns: {text: s, label: l}, labels: [a, b], max_len: z}\n"), 0o644)
	_, err = LoadFinetune(ft, nil)
	if err == nil || !strings.Contains(err.Error(), "lambda 2 is not in [0, 1]") || strings.Contains(err.Error(), "task.") && !strings.Contains(err.Error(), "line 4: task.max_len: `z` is not an integer") {
		t.Errorf("a finetune's type errors beside bad values: %v", err)
	}
}

// A task key that could not be read hides the checks that involve it, not
// the task's others: a task's keys are keys of their own, each checked with
// those that change its checks (checkedWith).
func TestUnreadTaskValueHidesItsChecksAlone(t *testing.T) {
	ft := filepath.Join(t.TempDir(), "ft.yaml")
	os.WriteFile(ft, []byte("init_from: m\ntask:\n  type: classification\n  train: t.tsv\n  columns: {text: s, label: l}\n  labels: [a, b]\n  max_len: abc\n  val_fraction: 2\n  metric: bogus\n"), 0o644)
	typ := filepath.Join(filepath.Dir(ft), "type.yaml")
	os.WriteFile(typ, []byte("init_from: m\ntask:\n  type: [x]\n  train: t.tsv\n  max_len: 2\n  columns: {text: s}\n  val_fraction: 2\n  metric: bogus\n"), 0o644)
	for _, c := range []struct {
		path      string
		sets      []string
		want, not []string
	}{
		{"", []string{"init_from=m", "task.train=t.tsv", "task.max_len=abc", "task.type=foo", "task.metric=bogus"},
			[]string{"--set task.max_len=abc: `abc` is not an integer", `task.type "foo" is not classification`, `task.metric "bogus" is not one of`}, []string{"task.max_len 0"}},
		{ft, nil, []string{"line 7: task.max_len: `abc` is not an integer", "task.val_fraction 2 is not in (0, 1)", `task.metric "bogus" is not one of`}, nil},
		{typ, nil, []string{"line 3: task.type: a list where text is wanted", "task.val_fraction 2", `task.metric "bogus"`}, []string{"task.max_len 2", "map the label", "task.labels"}},
		{"", []string{"init_from=m", "task.train=", "task.max_len=2", "task.columns={text: [s]}", "task.type=foo", "task.labels=[a]", "task.label_base=1", "task.metric=bogus"},
			[]string{"--set task.columns={text: [s]}", `task.type "foo"`, "task.train is empty", "task.max_len 2 is too small"}, []string{"task.labels:", "task.label_base 1", `task.metric "bogus"`}},
	} {
		_, err := LoadFinetune(c.path, c.sets)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s %v: %v, want a ConfigError", c.path, c.sets, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %v: %v\nlacks %q", c.path, c.sets, err, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(err.Error(), n) {
				t.Errorf("%s %v: %v\nchecks an unread key: %q", c.path, c.sets, err, n)
			}
		}
	}
}

// An integer key given a number past its range, or one YAML reads as a
// float that cannot hold it, is refused, in a file and a --set alike, not
// taken for another number (2^64 as 2^63, -2^63-1 as -2^63).
func TestIntegerKeyOutOfRange(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ key, value, want string }{
		{"seed", "18446744073709551616", "is too large for an integer key"},
		{"seed", "1.9e19", "is too large for an integer key"},
		{"checkpoint_interval", "9223372036854775808.0", "is too large for an integer key"},
		{"checkpoint_interval", "-9223372036854775809", "is too large a negative number for an integer key"},
		{"seed", "-1.0", "is negative: give a whole number, 0 or more"},
		{"seed", "18446744073709551615.0", "is read by YAML as a float, which cannot hold it exactly: write it as a whole number"},
		{"max_steps", "9223372036854775807.0", "is read by YAML as a float, which cannot hold it exactly"},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(c.key+": "+c.value+"\n"), 0o644)
		_, fileErr := Load(p, nil)
		_, setErr := Load("", []string{c.key + "=" + c.value})
		for _, e := range []struct {
			err  error
			want string
		}{{fileErr, "line 1: " + c.key + ": `" + c.value + "` " + c.want}, {setErr, "--set " + c.key + "=" + c.value + ": `" + c.value + "` " + c.want}} {
			var ce *ConfigError
			if !errors.As(e.err, &ce) || !strings.Contains(e.err.Error(), e.want) {
				t.Errorf("%s %s: %v, want %q", c.key, c.value, e.err, e.want)
			}
		}
	}
	for _, c := range []struct {
		value string
		want  uint64
	}{{"18446744073709551615", math.MaxUint64}, {"1e3", 1000}, {"9.2e18", 9200000000000000000}, {"1_000.0", 1000}} {
		if cfg, err := Load("", []string{"seed=" + c.value}); err != nil || cfg.Seed != c.want {
			t.Errorf("seed %s: %d, %v; want %d", c.value, cfg.Seed, err, c.want)
		}
	}
}

// A config file with several problems reports every one of them, in line
// order, as --set does: those the decoder would let pass (a quoted
// boolean, a fraction for an integer, a key with no value) beside its own
// (unknown keys, wrong types), each once.
func TestConfigFileReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		finetune bool
		body     string
		want     []string // in this order
	}{
		{false, "n_heads: 4\nlr: abc\nbatch_size: x\ntf32: \"off\"\n", []string{
			"line 1: unknown key n_heads (did you mean n_head?)", "line 2: lr: `abc` is not a number",
			"line 3: batch_size: `x` is not an integer", "line 4: tf32: `off` is quoted, which makes it text"}},
		{false, "tf32: !!str on\nn_layer: abc\nmax_steps: 2.5\nzzz: 1\nlr:\nseed: 1\nbf16: n\n", []string{
			"line 1: tf32: `on` is tagged !!str", "line 2: n_layer: `abc` is not an integer", "line 3: max_steps: `2.5` is not an integer",
			"line 4: unknown key zzz (the known keys: arch,", "line 5: lr has no value", "line 7: bf16: `n` is not true or false"}},
		{false, "lr: abc\nn_embd: 2.5\nzzz: 1\n", []string{"line 1: lr: `abc`", "line 2: n_embd: `2.5`", "line 3: unknown key zzz (the known keys: arch,"}},
		{true, "init_from: x\nlamda: 0.3\nlr: abc\nepochs: 2.5\ntask:\n  type: classification\n", []string{
			"line 2: unknown key lamda (did you mean lambda?)", "line 3: lr: `abc` is not a number", "line 4: epochs: `2.5` is not an integer"}},
		{true, "init_from: x\ntask:\n  max_len: 2.5\n  labels: [a, ~]\n  zzz: 1\n  metric:\nlr: abc\n", []string{
			"line 3: task.max_len: `2.5`", "line 4: task.labels: a list entry with no value", "line 5: unknown key task.zzz",
			"line 6: task.metric has no value", "line 7: lr: `abc`"}},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(c.body), 0o644)
		var err error
		if c.finetune {
			_, err = LoadFinetune(p, nil)
		} else {
			_, err = Load(p, nil)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: %v, want a ConfigError", c.body, err)
			continue
		}
		at := 0
		for _, w := range c.want {
			i := strings.Index(err.Error()[at:], w)
			if i < 0 {
				t.Errorf("%q: %v\nlacks %q after byte %d", c.body, err, w, at)
				break
			}
			at += i + len(w)
		}
	}
	// A value both refuse is named once.
	p := filepath.Join(dir, "once.yaml")
	os.WriteFile(p, []byte("tf32: \"maybe\"\nseed: -2.5\n"), 0o644)
	if _, err := Load(p, nil); err == nil || strings.Count(err.Error(), "tf32") != 1 || strings.Count(err.Error(), "seed") != 1 {
		t.Errorf("a value both the walk and the decoder refuse: %v, want each named once", err)
	}
}

// A config in an 8-bit encoding (Latin-1) is refused at the line of its
// first byte that is not UTF-8, with the command that converts it; a --set
// value that is not UTF-8, naming its key.
func TestConfigNotUTF8(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		"max_steps: 1\nlr: 1e-3\nsample_prompt: caf\xe9 au lait\n": "line 3: byte 0xE9 is not UTF-8: the file is in another encoding, such as Latin-1; gptctl reads UTF-8: convert it, e.g. with iconv -f LATIN1 -t UTF-8",
		"lr: 1e-3\r\rsample_prompt: \xff\n":                        "line 3: byte 0xFF is not UTF-8",
		"\xef\xbb\xbflr: 1e-3\r\nsample_prompt: caf\xc3\n":         "line 2: byte 0xC3 is not UTF-8",
	} {
		p := filepath.Join(dir, "l1.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		var ce *ConfigError
		if _, err := Load(p, nil); !errors.As(err, &ce) || !strings.Contains(err.Error(), p+": "+want) {
			t.Errorf("%q: %v\nwant %q", body, err, want)
		}
	}
	var ce *ConfigError
	_, err := Load("", []string{"sample_prompt=caf\xe9", "n_layer=0"})
	if want := `--set "sample_prompt=caf\xe9": byte 0xE9 is not UTF-8: give the override as UTF-8 text`; !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || !utf8.ValidString(err.Error()) {
		t.Errorf("a --set value not UTF-8: %q\nwant %q, in UTF-8", err, want)
	}
}

// A config given to the other command says so, beside its unknown keys.
func TestOtherCommandsConfig(t *testing.T) {
	_, err := Load("../configs/finetune-sst2.yaml", nil)
	for _, want := range []string{"config ../configs/finetune-sst2.yaml is a finetune config (it has task:): give it to gptctl finetune -c\n", "line 21: unknown key epochs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pretrain with a finetune config: %v\nlacks %q", err, want)
		}
	}
	_, err = LoadFinetune("../configs/shakespeare-char.yaml", nil)
	for _, want := range []string{"finetune config ../configs/shakespeare-char.yaml is a pretraining config (it has arch, n_layer, n_head, ... and no task:): give it to gptctl pretrain -c\n", "line 6: unknown key arch", "task.train is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("finetune with a pretraining config: %v\nlacks %q", err, want)
		}
	}
	// A config of its own command, with a mistaken key, is not the other's.
	dir := t.TempDir()
	for body, finetune := range map[string]bool{"n_layer: 2\nepochs: 3\n": false, "init_from: x\nn_layer: 2\ntask: {type: classification}\n": true, "n_layer: 2\n": true} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		sets := []string{}
		if body == "n_layer: 2\n" {
			sets = []string{"task.type=classification"}
		}
		if finetune {
			_, err = LoadFinetune(p, sets)
		} else {
			_, err = Load(p, sets)
		}
		if err == nil || strings.Contains(err.Error(), "give it to") {
			t.Errorf("%q: %v, want an error without the other command's", body, err)
		}
	}
}

// A config's syntax error names the line a user must fix: the start of
// an unclosed bracket or quote, or where the problem was found, as
// PyYAML's marks say (the YAML library counts its parser's lines from 0,
// and names the scalar before a misplaced tab).
func TestYAMLSyntaxErrorLines(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, body, want string
	}{
		{"an unclosed flow mapping", "n_layer: 2\nn_head: 2\nlr_decay: {a: 1\nmax_steps: 1\n", "line 3: did not find expected ',' or '}'"},
		{"an unclosed flow sequence", "n_layer: 2\nn_embd: [32\nmax_steps: 1\n", "line 2: did not find expected ',' or ']'"},
		{"one on the first line", "n_layer: [2\nn_head: 2\n", "line 2: did not find expected ',' or ']'"},
		{"a tab indenting a key", "n_layer: 2\ndata: x.txt\n\tn_embd: 32\n", "line 3: found a tab character that violates indentation (a tab indents the line: YAML indents with spaces)"},
		{"a tab further down", "n_layer: 2\nn_head: 2\nlr: 1e-3\n\tn_embd: 32\n", "line 4: found a tab character that violates indentation"},
		{"a key indented too little", "n_layer: 2\nn_head:\n  - 1\n n_embd: 3\n", "line 4: did not find expected key"},
		{"a list item after a key", "n_layer: 2\nn_head: 2\ndata: x\n- a\n", "line 4: did not find expected key"},
		{"a key indented too much", "n_layer: 2\nn_head: 2\n  n_embd: 3\n", "line 3: mapping values are not allowed in this context"},
		{"an unclosed quote", "n_layer: 2\nn_head: 2\ndata: \"abc\n", "line 3: found unexpected end of stream"},
		{"a character that starts no token", "n_layer: 2\nn_head: 2\n@data: x\n", "line 3: found character that cannot start any token"},
		{"a tab indenting the first key", "\tn_layer: 2\nn_head: 2\n", "line 1: found character that cannot start any token (a tab indents the line: YAML indents with spaces)"},
		{"a tab indenting a nested key", "n_layer: 2\nlr_decay:\n\tcosine\n", "line 3: found character that cannot start any token (a tab indents the line: YAML indents with spaces)"},
		{"an unclosed bracket ending the file", "n_layer: 2\nn_head: 2\nlr: [\n\n", "line 3: did not find expected node content"},
		{"CR line breaks", "n_layer: 1\rn_head: 1\r  n_embd: 3\rseed: 2\r", "line 3: mapping values are not allowed in this context"},
		{"CRLF line breaks", "n_layer: 1\r\nn_head: 1\r\nseed: 2\r\nlr: [1, 2\r\nwarmup_steps: 1\r\n", "line 4: did not find expected ',' or ']'"},
		{"UTF-16 ending in an unclosed bracket", utf16LE("\ufeffn_layer: 1\nn_head: 1\nlr: [\n\n"), "line 3: did not find expected node content"},
		{"a type error keeps its line", "n_layer: 2\nn_head: many\n", "line 2: n_head: `many` is not an integer"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
		if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p, nil)
		if err == nil || !strings.Contains(err.Error(), p+": "+c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// utf16LE is s in UTF-16LE.
func utf16LE(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

// LostKeys names the keys, nested ones by their dotted names, that a job
// config cut short lost beside its checkpoint's copy, and nothing where
// the file holds every key or cannot be read.
func TestLostKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	full := "lr: 0.1\ntask:\n  type: classification\n  columns:\n    text: s\n    label: l\n  max_len: 0\nepochs: 3\n"
	copy := write("copy.yaml", full)
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"whole", full, nil},
		{"keys in another order", "epochs: 4\ntask: {max_len: 9, type: x, columns: {label: l, text: s}}\nlr: 1\n", nil},
		{"cut in a nested map", full[:strings.Index(full, "    label")], []string{"task.columns.label", "task.max_len", "epochs"}},
		{"cut after a section's first key", full[:strings.Index(full, "  columns")], []string{"task.columns.text", "task.columns.label", "task.max_len", "epochs"}},
		{"not YAML", "lr: [\n", nil},
	} {
		if got := LostKeys(write(c.name+".yaml", c.text), copy); !slices.Equal(got, c.want) {
			t.Errorf("%s: lost %q, want %q", c.name, got, c.want)
		}
	}
	if got := LostKeys(copy, filepath.Join(dir, "missing.yaml")); got != nil {
		t.Errorf("no copy: lost %q", got)
	}
}
