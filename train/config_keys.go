package train

// Config keys by name: the struct fields YAML keys name, and the near keys
// an unknown one is told of.

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gptctl/data"
)

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
		d := data.EditDistance(norm, name)
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
