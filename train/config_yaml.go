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
	"unicode/utf16"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"gptctl/data"
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

// onceKnownKeys leaves the list of a section's keys on the last of the
// messages of errs that end with it, not on each.
func onceKnownKeys(errs []*keyProblems) []error {
	last := map[string]int{}
	for i, err := range errs {
		if l := knownKeysList.FindString(err.Error()); l != "" {
			last[l] = i
		}
	}
	out := make([]error, len(errs))
	for i, err := range errs {
		out[i] = err
		if l := knownKeysList.FindString(err.Error()); l != "" && last[l] != i {
			out[i] = &keyProblems{errors.New(strings.TrimSuffix(err.Error(), l)), err.unread} // the list follows only unknown keys
		}
	}
	return out
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

// unknownField is how the YAML decoder reports a key the struct lacks, and
// the struct's type.
var unknownField = regexp.MustCompile(`field (\S+) not found in type ([\w.]+)`)

// unknownKeys rewrites the decoder's unknown-key problems among probs, for
// a config of type root: each names the key with its section (task.foo)
// and the known keys nearest to it, where one is close (a typo, or a key of
// another section), by their full dotted names where dotted (as --set takes
// them); the keys of a section are listed, once, after the last of its
// unknown keys that is near none of them.
func unknownKeys(probs []configProblem, root reflect.Type, dotted bool) {
	for root.Kind() == reflect.Pointer {
		root = root.Elem()
	}
	sections := map[string]string{root.String(): ""} // struct type: the prefix of its keys
	all := configKeys(root, "", sections)
	var listed []string      // the prefixes of the sections to list
	last := map[string]int{} // a prefix's: the problem its list follows
	for i := range probs {
		p := &probs[i]
		p.msg = unknownField.ReplaceAllStringFunc(p.msg, func(m string) string {
			sub := unknownField.FindStringSubmatch(m)
			prefix := sections[sub[2]]
			if near := nearKeys(sub[1], prefix, all); len(near) > 0 {
				return fmt.Sprintf("unknown key %s%s (%s)", prefix, sub[1], suggest(near, prefix, dotted))
			}
			if !slices.Contains(listed, prefix) {
				listed = append(listed, prefix)
			}
			last[prefix] = i
			return "unknown key " + prefix + sub[1]
		})
	}
	for _, prefix := range listed {
		var keys []string
		for _, k := range all {
			if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, ".") {
				keys = append(keys, rest)
			}
		}
		where := "the known keys"
		if prefix != "" {
			where = strings.TrimSuffix(prefix, ".") + "'s known keys"
		}
		probs[last[prefix]].msg += fmt.Sprintf(" (%s: %s)", where, strings.Join(keys, ", "))
	}
}

// configKeys lists the keys of the config struct type t, in order, each
// with prefix and a section's keys after it (task, task.type, ...), and
// records in sections the prefix of each section's struct type.
func configKeys(t reflect.Type, prefix string, sections map[string]string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported():
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			keys = append(keys, configKeys(f.Type, prefix, sections)...)
		case name == "" || name == "-":
		case f.Type.Kind() == reflect.Struct:
			sections[f.Type.String()] = prefix + name + "."
			keys = append(keys, prefix+name)
			keys = append(keys, configKeys(f.Type, prefix+name+".", sections)...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	return keys
}

// suggest is the "did you mean" of the keys near (dotted) to an unknown
// key of the section with prefix: where dotted (a --set), the keys as
// --set names them; else a key of that section by its name, with where the
// keys belong when another section holds them.
func suggest(near []string, prefix string, dotted bool) string {
	if dotted {
		return "did you mean " + strings.Join(near, " or ") + "?"
	}
	parent := func(k string) string { return k[:strings.LastIndex(k, ".")+1] }
	names := slices.Clone(near)
	other := parent(near[0]) // the section of the near keys when one other holds them all
	for i, k := range near {
		if p := parent(k); p == prefix {
			names[i], other = strings.TrimPrefix(k, prefix), prefix
		} else if p != other {
			other = prefix
		}
	}
	s := "did you mean " + strings.Join(names, " or ") + "?"
	switch {
	case other == prefix:
	case other == "":
		s += " it is a top-level key, not under " + strings.TrimSuffix(prefix, ".") + ":"
	default:
		s += " it belongs under " + strings.TrimSuffix(other, ".") + ":"
	}
	return s
}

// nearKeys are the keys among all (dotted) nearest to key, an unknown key
// of the section with prefix, where they are near enough to be what was
// meant: within an edit or two, more for a long key, case and - for _
// aside; a key of this section before one of another.
func nearKeys(key, prefix string, all []string) []string {
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	best := min(len(norm)/4+1, 3) // the most edits that still suggest a key
	var near []string
	for _, k := range all {
		parent, name := "", k
		if i := strings.LastIndex(k, "."); i >= 0 {
			parent, name = k[:i+1], k[i+1:]
		}
		d := editDistance(norm, name)
		if parent != prefix {
			d++ // a key of this section first
		}
		if d > best {
			continue
		}
		if d < best {
			near, best = nil, d
		}
		near = append(near, k)
	}
	return near
}

// editDistance is the number of insertions, deletions, substitutions and
// swaps of two neighbours that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// notUTF8 refuses a config in UTF-16 or UTF-32 without a byte order mark,
// which the YAML decoder would read as keys cut short (n_ where n_layer is
// written): one that holds a NUL byte, as they do for every ASCII
// character. (With its byte order mark, UTF-16 is decoded as such.) It
// refuses a config in another 8-bit encoding (Latin-1 café), which the
// decoder refuses without a line, at the line of its first byte that is not
// UTF-8.
func notUTF8(b []byte) error {
	utf32 := bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}) || bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF})
	if !utf32 && (bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF})) {
		return nil // UTF-16 with its byte order mark: the decoder reads it
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		what := "the file is UTF-16 or UTF-32, or not text; save it as UTF-8"
		if note := data.WideNote(b); note != "" {
			what = "the file " + note
		}
		return fmt.Errorf("line %d: a NUL byte, which UTF-8 text does not hold: %s", lineAt(b, i), what)
	}
	if i := invalidUTF8(b); i >= 0 {
		return fmt.Errorf("line %d: byte 0x%02X is not UTF-8: the file is in another encoding, such as Latin-1; gptctl reads UTF-8: convert it, e.g. with iconv -f LATIN1 -t UTF-8", lineAt(b, i), b[i])
	}
	return nil
}

// invalidUTF8 is the offset of the first byte of b that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// lineAt is the line of the config src that holds its byte i, counted
// from 1 by YAML's line breaks: LF, CRLF and a lone CR.
func lineAt(src []byte, i int) int {
	before := bytes.ReplaceAll(src[:i], []byte("\r\n"), []byte("\n"))
	return bytes.Count(before, []byte("\n")) + bytes.Count(before, []byte("\r")) + 1
}

// loadErrors is the error of loading a config: the problems of reading
// its file and overrides (errs), and those of its values (validate's,
// prefixed with where) where errs leave the keys read: every problem of
// errs a key's, each check of the values that involves no key left unread
// (unread). A value that could not be read would make the checks of the
// keys beside it misleading (seq_len against the default n_ctx where the
// file's n_ctx was refused); a syntax error leaves none read. nil when
// there are none.
func loadErrors(errs []error, validate func() error, where string) error {
	if unread, ok := unreadKeys(errors.Join(errs...)); ok {
		if err := withoutKeys(validate(), unread); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	if len(errs) > 0 {
		return &ConfigError{errors.Join(errs...)}
	}
	return nil
}

// checkedWith are keys whose value changes the checks of others without
// the messages of those naming them: a refused lr_decay hides the check of
// lr and min_lr (constant lets min_lr exceed lr), a refused init_from every
// check (with it, the model keys are the init model's).
var checkedWith = map[string]string{"lr_decay": "lr", "init_from": ""}

// withoutKeys is the problems that validation found (err, of errors.Join)
// less those that involve a key of unread (dotted keys; a key of a section
// unread, the section's every check): those that name it, or a key checked
// with it (checkedWith).
func withoutKeys(err error, unread []string) error {
	hide := map[string]bool{}
	for _, k := range unread {
		top, _, _ := strings.Cut(k, ".")
		hide[top] = true
		if also, ok := checkedWith[top]; ok {
			if also == "" {
				return nil
			}
			hide[also] = true
		}
	}
	var kept []error
	for _, e := range leafErrors(err) {
		if !slices.ContainsFunc(configWord.FindAllString(e.Error(), -1), func(w string) bool { return hide[w] }) {
			kept = append(kept, e)
		}
	}
	return errors.Join(kept...)
}

// configWord is a word of a validation message: a key's name, a section's
// (task of task.max_len), or another word.
var configWord = regexp.MustCompile(`\w+`)

// leafErrors is the errors that err joins (errors.Join, nested), each one
// problem; err alone where it joins none, nil for nil.
func leafErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if err == nil {
			return nil
		}
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leafErrors(e)...)
	}
	return out
}

// keyProblems is a config document's or an override's error when each of
// its problems is a key's: an unknown key, which the decoder skips, reading
// the others, or a value that could not be read, of a key of unread
// (dotted). The values of the other keys were read and can be validated.
type keyProblems struct {
	err    error
	unread []string
}

func (e *keyProblems) Error() string { return e.err.Error() }
func (e *keyProblems) Unwrap() error { return e.err }

// unreadKeys is the keys that err, from decodeStrict or applyOverrides
// (one error, or several joined, wrapped or not), left unread, and whether
// all its problems are keys' (keyProblems): ok is false where one is not
// (a syntax error, a file that cannot be read). nil and true for nil.
func unreadKeys(err error) (unread []string, ok bool) {
	switch e := err.(type) {
	case nil:
		return nil, true
	case *keyProblems:
		return e.unread, true
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			u, ok := unreadKeys(c)
			if !ok {
				return nil, false
			}
			unread = append(unread, u...)
		}
		return unread, true
	case interface{ Unwrap() error }:
		return unreadKeys(e.Unwrap())
	}
	return nil, false
}

// topKeys is the top-level keys of the config document b, in order; none
// where YAML cannot read it or it is not a mapping.
func topKeys(b []byte) []string {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	for i := 0; i < len(doc.Content[0].Content); i += 2 {
		keys = append(keys, doc.Content[0].Content[i].Value)
	}
	return keys
}

// otherCommand is a note, as a problem that leaves the keys read, that
// the config path is another command's; what says whose and why.
func otherCommand(path, what string) error {
	return &keyProblems{fmt.Errorf("%s is %s", path, what), nil}
}

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

// moreDocuments is the problem of the documents dec holds after the
// config's first, of the config src: "" where they are empty (a trailing
// ---, comments), else a second document refused, or its syntax error.
func moreDocuments(dec *yaml.Decoder, src []byte) string {
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil { // a syntax error past the first document
			return syntaxLine(strings.TrimPrefix(err.Error(), "yaml: "), src)
		}
		if len(next.Content) == 0 || next.Content[0].Kind == yaml.ScalarNode && next.Content[0].Tag == "!!null" {
			continue
		}
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return fmt.Sprintf("line %d: a second YAML document (after ---), which would be ignored: a config is one document", line)
	}
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

// syntaxLine gives a syntax error of the YAML library, msg, over the
// config src, the line a user looks for: the library counts the lines of
// its parser's errors from 0 (line 1's unnumbered), and names the start of
// the scalar a misplaced tab follows, not the tab's line.
func syntaxLine(msg string, src []byte) string {
	line, problem := 0, msg
	if m := syntaxAt.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		problem = m[2]
	}
	switch {
	case slices.Contains(parserProblems, problem):
		line++
	case !slices.ContainsFunc(scannerProblems, func(p string) bool { return strings.HasPrefix(problem, p) }):
		return msg // not a syntax error: a type error's line is right
	case line == 0:
		line = 1
	}
	// YAML's line breaks: LF, CRLF and a lone CR, in the text as UTF-8.
	text := strings.ReplaceAll(strings.ReplaceAll(utf16Text(src), "\r\n", "\n"), "\r", "\n")
	if !utf8.ValidString(text) {
		return fmt.Sprintf("line %d: %s", line, problem)
	}
	// At the end of the text the parser's mark is past its last line.
	if last := strings.Count(strings.TrimRight(text, " \t\n"), "\n") + 1; line > last {
		line = last
	}
	if strings.HasPrefix(problem, "found a tab character") {
		lines := strings.Split(text, "\n")
		for i := max(line-1, 0); i < len(lines); i++ {
			l := lines[i]
			if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
				line = i + 1
				break
			}
		}
	}
	return fmt.Sprintf("line %d: %s", line, problem)
}

// utf16Text is a config's text as UTF-8: src decoded from UTF-16 where its
// byte order mark says so (the YAML library reads such a file), else src.
func utf16Text(src []byte) string {
	var big bool
	switch {
	case bytes.HasPrefix(src, []byte{0xff, 0xfe}):
	case bytes.HasPrefix(src, []byte{0xfe, 0xff}):
		big = true
	default:
		return string(src)
	}
	u := make([]uint16, (len(src)-2)/2)
	for i := range u {
		a, b := uint16(src[2+2*i]), uint16(src[3+2*i])
		if u[i] = b<<8 | a; big {
			u[i] = a<<8 | b
		}
	}
	return string(utf16.Decode(u))
}
