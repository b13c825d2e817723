package train

// The walk of a config document beside the YAML decoder: what the decoder
// would let pass (a fraction for an integer, a null, a quoted true/false),
// and its own type errors rewritten to name the key and what it takes.

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

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
		if why := floatForInt(n.Value, t); why != "" {
			w.refuse(key, fmt.Sprintf("line %d: %s: `%s` %s", n.Line, key, n.Value, why))
		}
	}
}

// floatForInt says why the YAML float s (1e3, 2.5, or an integer too long
// for 64 bits) does not fit the integer type t, read exactly: the decoder
// would cut a fraction off, and take a value past t's range, or one a
// float64 rounds, for another number (2^64 for a uint64 as 2^63). "" where
// it fits, and for what is not a decimal number (.inf, .nan: the decoder's).
func floatForInt(s string, t reflect.Type) string {
	x, ok := new(big.Rat).SetString(strings.ReplaceAll(s, "_", ""))
	switch {
	case !ok:
		return ""
	case !x.IsInt():
		return "is not an integer"
	}
	v := x.Num()
	lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(t.Bits()))
	if t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64 {
		hi.Rsh(hi, 1)
		lo.Neg(hi)
	}
	switch {
	case v.Sign() < 0 && lo.Sign() == 0:
		return "is negative: give a whole number, 0 or more"
	case v.Cmp(lo) < 0:
		return "is too large a negative number for an integer key"
	case v.Cmp(hi) >= 0:
		return "is too large for an integer key"
	}
	if _, exact := x.Float64(); !exact { // 9223372036854775807.0, decoded as 2^63
		return "is read by YAML as a float, which cannot hold it exactly: write it as a whole number, without a fraction or exponent"
	}
	return ""
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
			w.refuse(sub, noValue(sub, v.Line, vt))
			continue
		}
		w.walk(v, vt, sub)
	}
}

// noValue is the problem of key, of type t, given no value on line.
func noValue(key string, line int, t reflect.Type) string {
	if t.Kind() == reflect.Struct { // a section (task:), which has no default
		return fmt.Sprintf("line %d: %s has no keys: write them below it, indented with spaces", line, key)
	}
	return fmt.Sprintf("line %d: %s has no value: give it one, or leave the key out for its default", line, key)
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
	v := w.valueAt(line, tag, value, sub[4])
	if v != nil && v.node.Kind == yaml.ScalarNode {
		value = v.node.Value // whole, where the message cuts it
	}
	got := map[string]string{"seq": "a list", "map": "a mapping of keys"}[tag]
	if got == "" {
		got = "`" + value + "`"
	}
	if v == nil { // not found (a value the message quotes otherwise): the type in words
		return unkeyed(m, line, got, sub[4]), ""
	}
	prefix := fmt.Sprintf("line %d: %s: ", line, v.key)
	why := whyWrongType(v, tag, value)
	if why == "" {
		return m, v.key
	}
	return prefix + got + " " + why, v.key
}

// valueAt finds the value a wrong-type error names: on line, of the Go
// type typ the decoder decoded into, and with the error's tag and value
// (which the decoder may have cut short). It returns nil where none is.
func (w *configWalk) valueAt(line int, tag, value, typ string) *configValue {
	var v *configValue
	for i := range w.values {
		c := &w.values[i]
		if c.node.Line != line || c.typ.String() != typ { // the decoder names the Go type it decoded into
			continue
		}
		// The decoder shortens a value of more than 10 bytes to its first 7 and "...".
		same := c.node.Value == value || len(c.node.Value) > 10 && len(value) == 10 && strings.HasSuffix(value, "...") && strings.HasPrefix(c.node.Value, value[:7])
		if c.node.Kind == yaml.ScalarNode && same && tag != "seq" && tag != "map" ||
			c.node.Kind == yaml.SequenceNode && tag == "seq" || c.node.Kind == yaml.MappingNode && tag == "map" {
			v = c // the last: a list's entry after the list, a nested key after its section
		}
	}
	return v
}

// unkeyed rewrites the wrong-type error m whose value keyed found no key
// for: got, the value or its kind, on line is not what the Go type typ
// takes, in words. It returns m where typ has no words.
func unkeyed(m string, line int, got, typ string) string {
	want := map[string]string{"float64": "a number", "float32": "a number", "int": "an integer", "uint64": "a whole number, 0 or more",
		"bool": "true or false", "string": "text"}[typ]
	if want == "" && strings.HasPrefix(typ, "train.") && strings.HasSuffix(typ, "Config") {
		return fmt.Sprintf("line %d: %s where the config's keys are wanted (key: value, one per line)", line, got)
	}
	if want == "" {
		return m
	}
	return fmt.Sprintf("line %d: %s is not %s", line, got, want)
}

// whyWrongType says why v, given as value with the decoder's tag, is not
// what its key takes, to follow the value in keyed's message: quoted or
// tagged where a number or true/false is wanted, negative, too large, or
// just of another kind. It returns "" for a kind it has no words for.
func whyWrongType(v *configValue, tag, value string) string {
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
	}
	return why
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
