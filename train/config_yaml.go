package train

// Config files and --set overrides as YAML: the strict decoder behind Load
// (unknown keys, wrong types and fractional integers are errors), and the
// overrides Apply decodes into the keys they name.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// applyOverrides sets key=value overrides on the config c points to. A
// dotted key names a nested one (task.max_len); hint follows "want
// key=value" in the error for a malformed override.
func applyOverrides(c any, overrides []string, hint string) error {
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !strings.Contains(kv, "=") || k == "" || slices.Contains(strings.Split(k, "."), "") {
			return &ConfigError{fmt.Errorf("--set %q: want key=value%s", kv, hint)}
		}
		parts := strings.Split(k, ".")
		typ := keyType(reflect.TypeOf(c), parts)
		doc, err := overrideDoc(k, v, typ)
		if err == nil && typ != nil && typ.Kind() == reflect.Map && strings.HasPrefix(strings.TrimSpace(v), "{") {
			clearKey(reflect.ValueOf(c), parts) // a map given whole replaces the map, as a list does
		}
		if err == nil {
			err = decodeStrict(bytes.NewReader(doc), c)
		}
		if err != nil {
			return &ConfigError{fmt.Errorf("--set %s: %s", kv, setLine.ReplaceAllString(err.Error(), ""))}
		}
	}
	return nil
}

// setLine is the line number in the YAML a --set becomes, which means
// nothing to the user.
var setLine = regexp.MustCompile(`^line \d+: `)

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
	case clean:
		val = doc.Content[0]
	}
	parts := strings.Split(key, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		val = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: parts[i]}, val}}
	}
	return yaml.Marshal(val)
}

// fractionalInts refuses a number with a fraction given for an integer key
// (n_layer: 2.5), which the YAML decoder would cut to its whole part: n the
// document, t the type decoded into. Whole numbers written as floats (1e3)
// are integers.
func fractionalInts(n *yaml.Node, t reflect.Type) error {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		for i := 0; i+1 < len(n.Content); i += 2 {
			vt := t
			if t.Kind() == reflect.Map {
				vt = t.Elem()
			} else if f, ok := yamlField(t, n.Content[i].Value); ok {
				vt = f.Type
			} else {
				continue // an unknown key: the decoder names it
			}
			if err := fractionalInts(n.Content[i+1], vt); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, c := range n.Content {
			if err := fractionalInts(c, t.Elem()); err != nil {
				return err
			}
		}
	case n.Kind == yaml.ScalarNode && n.Tag == "!!float" && (t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64):
		if x, err := strconv.ParseFloat(n.Value, 64); err == nil && x != math.Trunc(x) {
			return fmt.Errorf("line %d: `%s` is not an integer", n.Line, n.Value)
		}
	}
	return nil
}

// keyType is the type of the config key named by the dotted parts in the
// struct type t (or a pointer to it): a field by its yaml name (inline
// structs included), a map's value for its keys; nil when there is none
// (the decoder reports the unknown key).
func keyType(t reflect.Type, parts []string) reflect.Type {
	for _, p := range parts {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := yamlField(t, p)
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	return t
}

// clearKey sets the config key named by the dotted parts, in the struct v
// points to, to its zero value: the decoder merges a map into the one it
// finds there.
func clearKey(v reflect.Value, parts []string) {
	for _, p := range parts {
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return
		}
		if v = fieldByYAMLName(v, p); !v.IsValid() {
			return
		}
	}
	if v.CanSet() {
		v.Set(reflect.Zero(v.Type()))
	}
}

// fieldByYAMLName is the field of struct v that YAML calls name (inline
// structs included), or the zero Value.
func fieldByYAMLName(v reflect.Value, name string) reflect.Value {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			if g := fieldByYAMLName(v.Field(i), name); g.IsValid() {
				return g
			}
		} else if tag == name && f.IsExported() {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// yamlField is the field of struct type t that YAML calls name.
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			if g, ok := yamlField(f.Type, name); ok {
				return g, true
			}
		} else if tag == name && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// hasComment reports whether a YAML node or any below it carries a comment.
func hasComment(n *yaml.Node) bool {
	if n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return true
	}
	return slices.ContainsFunc(n.Content, hasComment)
}

// unknownField is how the YAML decoder reports a key the struct lacks.
var unknownField = regexp.MustCompile(`field (\S+) not found in type [\w.]+`)

// wrongType is how it reports a value of the wrong type.
var wrongType = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into (\\w+)")

func decodeStrict(r io.Reader, c any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) == nil { // a syntax error is the decoder's to report
		if err := fractionalInts(&doc, reflect.TypeOf(c)); err != nil {
			return err
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a mistyped key is an error, not a silent default
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.ReplaceAll(strings.ReplaceAll(msg, "unmarshal errors:\n  ", ""), "\n  ", "; ")
		msg = wrongType.ReplaceAllStringFunc(msg, func(m string) string {
			sub := wrongType.FindStringSubmatch(m)
			want := map[string]string{"float64": "a number", "float32": "a number", "int": "an integer", "uint64": "a whole number, not negative",
				"bool": "true or false", "string": "a string"}[sub[2]]
			if want == "" {
				return m
			}
			return fmt.Sprintf("`%s` is not %s", sub[1], want)
		})
		if !unknownField.MatchString(msg) {
			return errors.New(msg)
		}
		return fmt.Errorf("%s (see configs/ for the known keys)", unknownField.ReplaceAllString(msg, "unknown key $1"))
	}
	for { // more documents: refused unless empty (a trailing ---, comments)
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil { // a syntax error past the first document
			return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if len(next.Content) == 0 || next.Content[0].Kind == yaml.ScalarNode && next.Content[0].Tag == "!!null" {
			continue
		}
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return fmt.Errorf("line %d: a second YAML document (after ---), which would be ignored: a config is one document", line)
	}
}
