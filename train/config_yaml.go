package train

// Config files and --set overrides as YAML: the strict decoder behind Load
// (unknown keys, wrong types and fractional integers are errors), and the
// overrides Apply decodes into the keys they name.

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// applyOverrides sets key=value overrides on the config c points to. A
// dotted key names a nested one (task.max_len); hint follows "want
// key=value" in the error for a malformed override.
func applyOverrides(c any, overrides []string, hint string) error {
	var errs []*keyProblems // every override's problem, at once
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !strings.Contains(kv, "=") || k == "" || slices.Contains(strings.Split(k, "."), "") {
			errs = append(errs, &keyProblems{fmt.Errorf("--set %q: want key=value%s", kv, hint), []string{k}})
			continue
		}
		if err := applyOverride(c, k, v); err != nil {
			msg := strings.TrimPrefix(setLine.ReplaceAllString(err.Error(), "$1"), k+": ")
			e := &keyProblems{fmt.Errorf("--set %s: %s", shownOverride(kv), msg), []string{k}}
			if u, ok := unreadKeys(err); ok && len(u) == 0 { // unknown keys alone
				e.unread = nil
			}
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return &ConfigError{errors.Join(onceKnownKeys(errs)...)}
	}
	return nil
}

// shownOverride is the override kv as an error shows it: quoted where it
// is not UTF-8, escaping the bytes that are not.
func shownOverride(kv string) string {
	if utf8.ValidString(kv) {
		return kv
	}
	return strconv.Quote(kv)
}

// applyOverride sets the value v of the key k (dotted) on the config c
// points to.
func applyOverride(c any, k, v string) error {
	if i := invalidUTF8([]byte(k + v)); i >= 0 {
		return fmt.Errorf("byte 0x%02X is not UTF-8: give the override as UTF-8 text (is the shell's locale UTF-8?)", (k + v)[i])
	}
	parts := strings.Split(k, ".")
	typ := keyType(reflect.TypeOf(c), parts)
	doc, err := overrideDoc(k, v, typ)
	if err != nil {
		return err
	}
	if typ != nil && typ.Kind() == reflect.Map && strings.HasPrefix(strings.TrimSpace(v), "{") {
		clearKey(reflect.ValueOf(c), parts) // a map given whole replaces the map, as a list does
	}
	return decodeConfig(doc, c, true)
}

// knownKeysList is the list of a section's keys an unknown key's message
// ends with.
var knownKeysList = regexp.MustCompile(` \([^()]*known keys: [^()]*\)$`)

// setLine is the line number in the YAML a --set becomes, which means
// nothing to the user, at the start of each of its problems.
var setLine = regexp.MustCompile(`(^|; )line \d+: `)

// overrideDoc is the YAML document of one --set: the dotted key as nested
// keys and the value. For a key that holds text (typ a string) the value is
// that text, whatever YAML would make of it (a comment after " #", a tag,
// a leading @, *, | or >, null), unless it is quoted ("..." or '...', as
// the commands quote the paths they pass): then what the quotes hold.
// Other values are read as YAML (a number, true, [a, b], {k: v}); one YAML
// cannot read cleanly is passed as text, for the decoder to refuse with the
// key's type, and null, which would leave the key as it was, is refused.
func overrideDoc(key, value string, typ reflect.Type) ([]byte, error) {
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	var doc yaml.Node
	clean := value != "" && yaml.Unmarshal([]byte(value), &doc) == nil && len(doc.Content) == 1 && !hasComment(&doc)
	switch {
	case typ != nil && typ.Kind() == reflect.String:
		if n := doc.Content; clean && n[0].Kind == yaml.ScalarNode && n[0].Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			val.Value = n[0].Value
		}
	case clean && doc.Content[0].Tag == "!!null":
		return nil, fmt.Errorf("%s is %s: give it a value", key, value)
	case typ != nil && typ.Kind() == reflect.Bool && !clean: // as text it would read as quoted
		return nil, fmt.Errorf("%s: `%s` is not true or false", key, value)
	case clean:
		val = doc.Content[0]
	}
	parts := strings.Split(key, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		val = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: parts[i]}, val}}
	}
	return yaml.Marshal(val)
}

// configWalk checks a config document against the type it decodes into
// for what the YAML decoder would let pass: a number with a fraction given
// for an integer key (n_layer: 2.5), which it would cut to its whole part,
// and a null (a key with no value, "lr:" or "lr: ~"), which it would skip,
// leaving the default in place without a word, or drop from a list, moving
// the later entries up. Whole numbers written as floats (1e3) are integers.
// Aliases (*x) and merge keys (<<: *x) are followed, as the decoder follows
// them. It also records where each value is and which key it is for, to
// name the key in the decoder's own errors (keyed).
type configWalk struct {
	values   []configValue
	problems []configProblem // what it refuses, each a key's, in the order met
	// aliased are the anchored values reached through an alias or a
	// merge key, each walked once for a type: a merge key inside its own
	// anchor would recurse for ever, and aliases of aliases could grow the
	// walk exponentially (the decoder refuses both, after this walk).
	aliased map[aliasKey]bool
}

type aliasKey struct {
	n *yaml.Node
	t reflect.Type
}

// follow resolves an alias to the value its anchor holds; ok is false when
// that value was walked for t before.
func (w *configWalk) follow(n *yaml.Node, t reflect.Type) (_ *yaml.Node, ok bool) {
	if n.Kind != yaml.AliasNode {
		return n, true
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	k := aliasKey{n, t}
	if w.aliased[k] {
		return n, false
	}
	if w.aliased == nil {
		w.aliased = map[aliasKey]bool{}
	}
	w.aliased[k] = true
	return n, true
}

// configValue is one value of a config document and the key it is for.
type configValue struct {
	key  string // dotted (task.max_len)
	node *yaml.Node
	typ  reflect.Type
}

func (w *configWalk) walk(n *yaml.Node, t reflect.Type, key string) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n, ok := w.follow(n, t)
	if !ok {
		return
	}
	if key != "" {
		w.values = append(w.values, configValue{key, n, t})
	}
	if msg := boolScalar(n, t, key); msg != "" {
		w.refuse(key, msg)
	}
	switch {
	case n.Kind == yaml.MappingNode && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		w.walkMapping(n, t, key)
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode && c.Tag == "!!null" { // the decoder drops it, moving the rest up
				w.refuse(key, fmt.Sprintf("line %d: %s: a list entry with no value (%s): give it one, quoted if it is text", c.Line, key, cmp.Or(c.Value, "empty")))
				continue
			}
			w.walk(c, t.Elem(), key)
		}
	case n.Kind == yaml.ScalarNode && n.Tag == "!!float" && (t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64):
		if x, err := strconv.ParseFloat(n.Value, 64); err == nil && x != math.Trunc(x) {
			w.refuse(key, fmt.Sprintf("line %d: %s: `%s` is not an integer", n.Line, key, n.Value))
		}
	}
}

// walkMapping walks the keys of the mapping n, for the struct or map type
// t of the config key key.
func (w *configWalk) walkMapping(n *yaml.Node, t reflect.Type, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" { // the merged mapping(s) fill this one
			v, ok := w.follow(v, t)
			if !ok {
				continue
			}
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				w.walk(m, t, key)
			}
			continue
		}
		vt := t
		if t.Kind() == reflect.Map {
			vt = t.Elem()
		} else if f, ok := yamlField(t, k.Value); ok {
			vt = f.Type
		} else {
			continue // an unknown key: the decoder names it
		}
		sub := k.Value
		if key != "" {
			sub = key + "." + k.Value
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && t.Kind() == reflect.Struct {
			w.refuse(sub, fmt.Sprintf("line %d: %s has no value: give it one, or leave the key out for its default", v.Line, sub))
			continue
		}
		w.walk(v, vt, sub)
	}
}

// refuse records a problem, msg ("line N: ..."), with the value of key.
func (w *configWalk) refuse(key, msg string) {
	w.problems = append(w.problems, configProblem{msg: msg, key: key})
}

// wrongType is how the YAML decoder reports a value of the wrong type.
var wrongType = regexp.MustCompile("line (\\d+): cannot unmarshal !!(\\w+)(?: `([^`]*)`)? into ([\\w.*\\[\\]]+)")

// keyed rewrites one of the decoder's wrong-type errors (m, matched by
// wrongType) to name the key and say what the key takes; key is the key,
// "" where the value is none found.
func (w *configWalk) keyed(m string) (msg, key string) {
	sub := wrongType.FindStringSubmatch(m)
	line, _ := strconv.Atoi(sub[1])
	tag, value := sub[2], sub[3]
	var v *configValue
	for i := range w.values {
		c := &w.values[i]
		if c.node.Line != line || c.typ.String() != sub[4] { // the decoder names the Go type it decoded into
			continue
		}
		// The decoder shortens a value of more than 10 bytes to its first 7 and "...".
		same := c.node.Value == value || len(c.node.Value) > 10 && len(value) == 10 && strings.HasSuffix(value, "...") && strings.HasPrefix(c.node.Value, value[:7])
		if c.node.Kind == yaml.ScalarNode && same && tag != "seq" && tag != "map" ||
			c.node.Kind == yaml.SequenceNode && tag == "seq" || c.node.Kind == yaml.MappingNode && tag == "map" {
			v = c // the last: a list's entry after the list, a nested key after its section
		}
	}
	if v != nil && v.node.Kind == yaml.ScalarNode {
		value = v.node.Value // whole, where the message cuts it
	}
	got := map[string]string{"seq": "a list", "map": "a mapping of keys"}[tag]
	if got == "" {
		got = "`" + value + "`"
	}
	if v == nil { // not found (a value the message quotes otherwise): the type in words
		want := map[string]string{"float64": "a number", "float32": "a number", "int": "an integer", "uint64": "a whole number, 0 or more",
			"bool": "true or false", "string": "text"}[sub[4]]
		if want == "" && strings.HasPrefix(sub[4], "train.") && strings.HasSuffix(sub[4], "Config") {
			return fmt.Sprintf("line %d: %s where the config's keys are wanted (key: value, one per line)", line, got), ""
		}
		if want == "" {
			return m, ""
		}
		return fmt.Sprintf("line %d: %s is not %s", line, got, want), ""
	}
	prefix := fmt.Sprintf("line %d: %s: ", line, v.key)
	t := v.typ
	quoted := v.node.Kind == yaml.ScalarNode && v.node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	tagged := v.node.Kind == yaml.ScalarNode && v.node.Style&yaml.TaggedStyle != 0 // !!str 1
	x, numErr := strconv.ParseFloat(value, 64)
	var why string
	switch k := t.Kind(); {
	case quoted && numErr == nil && (k >= reflect.Int && k <= reflect.Float64):
		why = "is quoted, which makes it text: write the number without quotes"
	case tagged && tag == "str" && numErr == nil && (k >= reflect.Int && k <= reflect.Float64):
		why = "is tagged !!str, which makes it text: write the number without the tag"
	case k >= reflect.Uint && k <= reflect.Uint64 && numErr == nil && x == math.Trunc(x) && x < 0:
		why = "is negative: give a whole number, 0 or more"
	case quoted && k == reflect.Bool && (value == "true" || value == "false"):
		why = "is quoted, which makes it text: write true or false without quotes"
	case tagged && tag == "str" && k == reflect.Bool && (value == "true" || value == "false"):
		why = "is tagged !!str, which makes it text: write true or false without the tag"
	case (k >= reflect.Int && k <= reflect.Int64 || k >= reflect.Uint && k <= reflect.Uint64) && numErr == nil && x == math.Trunc(x):
		why = "is too large for an integer key"
	case k >= reflect.Uint && k <= reflect.Uint64:
		why = "is not a whole number, 0 or more"
	case k >= reflect.Int && k <= reflect.Int64:
		why = "is not an integer"
	case (k == reflect.Float32 || k == reflect.Float64) && errors.Is(numErr, strconv.ErrRange):
		why = "is out of range for a number"
	case k == reflect.Float32 || k == reflect.Float64:
		why = "is not a number"
	case k == reflect.Bool:
		why = "is not true or false"
	case k == reflect.String:
		why = "where text is wanted"
	case k == reflect.Slice || k == reflect.Array:
		why = "where a list is wanted, e.g. [a, b]"
	case k == reflect.Map:
		why = "where a mapping of names is wanted, e.g. {text: sentence}"
	case k == reflect.Struct:
		why = "where a section of keys is wanted (" + v.key + ":, then its keys indented below it)"
	default:
		return m, v.key
	}
	return prefix + got + " " + why, v.key
}

// hasComment reports whether a YAML node or any below it carries a comment.
func hasComment(n *yaml.Node) bool {
	if n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return true
	}
	return slices.ContainsFunc(n.Content, hasComment)
}

// unknownField is how the YAML decoder reports a key the struct lacks, and
// the struct's type.
var unknownField = regexp.MustCompile(`field (\S+) not found in type ([\w.]+)`)

// checkedWith are keys whose value changes the checks of others without
// the messages of those naming them: a refused lr_decay hides the check of
// lr and min_lr (constant lets min_lr exceed lr), a refused init_from every
// check (with it, the model keys are the init model's).
var checkedWith = map[string]string{"lr_decay": "lr", "init_from": ""}

// configWord is a word of a validation message: a key's name, a section's
// (task of task.max_len), or another word.
var configWord = regexp.MustCompile(`\w+`)

// configProblem is one problem of a config document: msg, "line N: ...",
// and key, the key whose value it leaves unread ("" for none: an unknown
// key, which field names, or a problem of the document, a syntax error or
// a second document, when field is "" too).
type configProblem struct {
	msg, key, field string
}

// problemLine is the line a problem's message starts with.
var problemLine = regexp.MustCompile(`^line (\d+): `)

// line is the line of the problem; 0 for none.
func (p configProblem) line() int {
	n := 0
	if m := problemLine.FindStringSubmatch(p.msg); m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	return n
}

func decodeStrict(r io.Reader, c any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return decodeConfig(b, c, false)
}

// decodeConfig decodes the config document b into c and reports every
// problem of it at once, in line order: those the YAML decoder would let
// pass (configWalk), and its own, each naming its key; a syntax error
// alone. dotted names the keys it suggests for an unknown key as --set
// takes them (task.max_len).
func decodeConfig(b []byte, c any, dotted bool) error {
	if err := notUTF8(b); err != nil {
		return err
	}
	var doc yaml.Node
	var w configWalk
	if yaml.Unmarshal(b, &doc) == nil { // a syntax error is the decoder's to report
		w.walk(&doc, reflect.TypeOf(c), "")
	}
	probs := w.problems
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a mistyped key is an error, not a silent default
	var te *yaml.TypeError
	switch err := dec.Decode(c); {
	case errors.As(err, &te): // the decoder read the other values
		probs = append(probs, w.decoderProblems(te.Errors)...)
	case err != nil && !errors.Is(err, io.EOF):
		return errors.New(syntaxLine(strings.TrimPrefix(err.Error(), "yaml: "), b))
	}
	if p := moreDocuments(dec, b); p != "" {
		probs = append(probs, configProblem{msg: p})
	}
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b configProblem) int { return cmp.Compare(a.line(), b.line()) })
	unknownKeys(probs, reflect.TypeOf(c), dotted)
	msgs := make([]string, len(probs))
	var unread []string
	keys := true // every problem a key's
	for i, p := range probs {
		msgs[i] = p.msg
		keys = keys && (p.key != "" || p.field != "")
		if p.key != "" && !slices.Contains(unread, p.key) {
			unread = append(unread, p.key)
		}
	}
	err := errors.New(strings.Join(msgs, "; "))
	if keys {
		return &keyProblems{err, unread}
	}
	return err
}

// decoderProblems are the decoder's type errors (msgs), each naming its
// key, less those of a key and line that the walk refused already (a
// quoted "maybe" for a true/false key).
func (w *configWalk) decoderProblems(msgs []string) []configProblem {
	var probs []configProblem
	for _, m := range msgs {
		p := configProblem{msg: m}
		switch {
		case wrongType.MatchString(m):
			p.msg, p.key = w.keyed(m)
		case unknownField.MatchString(m):
			p.field = unknownField.FindStringSubmatch(m)[1]
		}
		line := problemLine.FindString(p.msg)
		if p.key != "" && slices.ContainsFunc(w.problems, func(q configProblem) bool { return q.key == p.key && strings.HasPrefix(q.msg, line) }) {
			continue
		}
		probs = append(probs, p)
	}
	return probs
}

// boolScalar refuses, for a true/false key, a scalar the decoder would
// take for one though YAML makes it text: quoted or tagged !!str ("off"),
// or y and n, which YAML 1.1 reserved but no reader takes for booleans.
// Bare yes, no, on and off are YAML 1.1's booleans, as PyYAML reads them.
// It returns the problem ("line N: ..."), or "".
func boolScalar(n *yaml.Node, t reflect.Type, key string) string {
	if t.Kind() != reflect.Bool || n.Kind != yaml.ScalarNode || n.Tag == "!!bool" || n.Value == "true" || n.Value == "false" {
		return "" // true and false as text: the decoder names them, with its other problems
	}
	switch {
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return fmt.Sprintf("line %d: %s: `%s` is quoted, which makes it text: write true or false without quotes", n.Line, key, n.Value)
	case n.Style&yaml.TaggedStyle != 0:
		return fmt.Sprintf("line %d: %s: `%s` is tagged %s, which makes it text: write true or false without the tag", n.Line, key, n.Value, n.Tag)
	case strings.EqualFold(n.Value, "y") || strings.EqualFold(n.Value, "n"):
		return fmt.Sprintf("line %d: %s: `%s` is not true or false", n.Line, key, n.Value)
	}
	return ""
}

// parserProblems are the syntax errors the YAML parser (not its scanner)
// reports: it counts their lines from 0 where the scanner counts from 1.
var parserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"did not find expected key", "did not find expected node content",
	"found duplicate %TAG directive", "found duplicate %YAML directive",
	"found incompatible YAML document", "found undefined tag handle",
}

// scannerProblems are the scanner's, which the library counts from 1.
var scannerProblems = []string{
	"block sequence entries are not allowed", "could not find expected",
	"did not find expected", "did not find the expected", "exceeded max depth",
	"found a tab character", "found an indentation indicator", "found character that cannot start",
	"found extremely long", "found invalid Unicode", "found unexpected",
	"found unknown", "mapping keys are not allowed", "mapping values are not allowed",
}

var syntaxAt = regexp.MustCompile(`^line (\d+): (.*)$`)
