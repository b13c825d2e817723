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
	var given yaml.Node
	if yaml.Unmarshal([]byte(v), &given) == nil && len(given.Content) == 1 {
		clearWholeMaps(c, parts, given.Content[0])
	}
	return decodeConfig(doc, c, true)
}

// clearWholeMaps clears, on the config c points to, each map key (a
// task's columns) that the YAML node n, the value --set gives the key
// named by the dotted parts, gives whole, at any depth: a map given whole replaces the
// map, as a list does, whether it comes as task.columns={...} or within
// task={columns: {...}}, while a section given whole sets the keys it
// names and leaves the others as they were.
func clearWholeMaps(c any, parts []string, n *yaml.Node) {
	typ := keyType(reflect.TypeOf(c), parts)
	for typ != nil && typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if n.Kind != yaml.MappingNode || typ == nil {
		return
	}
	switch typ.Kind() {
	case reflect.Map:
		clearKey(reflect.ValueOf(c), parts)
	case reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			clearWholeMaps(c, append(parts[:len(parts):len(parts)], n.Content[i].Value), n.Content[i+1])
		}
	}
}

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
