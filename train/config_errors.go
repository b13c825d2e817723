package train

// How a config's problems are told: every one at once, in line order, and
// the checks of the keys that were read, not of those that were not.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// keyProblems is a config document's or an override's error when each of
// its problems is a key's: an unknown key, which the decoder skips, reading
// the others, or a value that could not be read, of a key of unread
// (dotted). The values of the other keys were read and can be validated.
type keyProblems struct {
	err    error
	unread []string
}

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

// withoutKeys is the problems that validation found (err, of errors.Join)
// less those that involve a key of unread (dotted keys, task.max_len): those
// that name it by its full dotted name, or a key of a section unread (task
// unread: every task.* check), or a key checked with it (checkedWith). A
// task key left unread hides its own checks, not the task's others.
func withoutKeys(err error, unread []string) error {
	hide := map[string]bool{}
	for _, k := range unread {
		hide[k] = true
		for s := k; s != ""; s, _ = cutLast(s, ".") { // task.columns.text is task.columns's
			if also, ok := checkedWith[s]; ok {
				if also == nil {
					return nil
				}
				for _, a := range also {
					hide[a] = true
				}
			}
		}
	}
	var kept []error
	for _, e := range leafErrors(err) {
		if !slices.ContainsFunc(configWord.FindAllString(e.Error(), -1), func(w string) bool { return hidden(w, hide) }) {
			kept = append(kept, e)
		}
	}
	return errors.Join(kept...)
}

// cutLast is s before the last sep, and whether there was one ("" if not).
func cutLast(s, sep string) (before string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], true
	}
	return "", false
}

// hidden reports whether the word w of a validation message names a key
// of hide: the key, a key inside it (task.max_len where task is), or a
// dotted key that holds it (task.columns where task.columns.text is).
func hidden(w string, hide map[string]bool) bool {
	for k := range hide {
		if w == k || strings.HasPrefix(w, k+".") || strings.Contains(w, ".") && strings.HasPrefix(k, w+".") {
			return true
		}
	}
	return false
}

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

// knownKeysList is the list of a section's keys an unknown key's message
// ends with.
var knownKeysList = regexp.MustCompile(` \([^()]*known keys: [^()]*\)$`)

// checkedWith are keys whose value changes the checks of others without
// the messages of those naming it, each with those others: they are checked
// together. A refused lr_decay hides the check of lr and min_lr (constant
// lets min_lr exceed lr), a refused init_from (nil) every check (with it,
// the model keys are the init model's). A task's type says which columns
// it reads, whether it takes labels and label_base, and its least max_len;
// its columns whether it has a label or a score (the labels, label_base and
// metric that go with it) and options (min_options); its labels whether
// label_base counts and a label column is wanted; its format and header how
// a column is named; its val whether val_fraction is used.
var checkedWith = map[string][]string{
	"lr_decay":     {"lr"},
	"init_from":    nil,
	"task.type":    {"task.columns", "task.labels", "task.label_base", "task.max_len"},
	"task.columns": {"task.labels", "task.label_base", "task.metric", "task.min_options"},
	"task.labels":  {"task.columns", "task.label_base"},
	"task.format":  {"task.columns"},
	"task.header":  {"task.columns"},
	"task.val":     {"task.val_fraction"},
}

// configWord is a word of a validation message: a key's name, dotted for
// a key of a section (task.max_len), or another word.
var configWord = regexp.MustCompile(`\w+(?:\.\w+)*`)
