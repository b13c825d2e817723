package data

// The inputs of a job: InputError, the user's problems with them, and the
// expansion of glob patterns into the files Prepare reads.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// InputError is a problem with the input a job was given (a path that does
// not exist, a pattern that matches nothing, a directory, a JSONL line that
// is not a document; in package train also a corpus or model directory that
// does not fit): the user's to fix, not a failure of the run.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// ExpandInputs resolves the glob patterns among inputs (a pattern that
// matches nothing is an error; a file of the pattern's own name is that
// file) and checks that every file exists and is not
// a directory. Its errors are *InputError.
func ExpandInputs(inputs []string) ([]string, error) {
	files, _, err := expandInputs(inputs)
	return files, err
}

// expandInputs is ExpandInputs, with the files' total size.
// A file named twice (by two patterns, or a pattern and its name) is read
// once: twice, its text would be trained on twice, and a share of it held
// out for validation in one copy would be trained on in the other.
func expandInputs(inputs []string) ([]string, int64, error) {
	var files []string
	var total int64
	seen := map[string]bool{}
	for _, in := range inputs {
		matches := []string{in}
		if _, err := os.Lstat(in); err != nil && strings.ContainsAny(in, "*?[") { // a name such as x[1].txt is itself first
			m, err := filepath.Glob(in)
			if err != nil {
				return nil, 0, &InputError{fmt.Errorf("input %q: bad pattern: %w", in, err)}
			}
			visible := slices.DeleteFunc(slices.Clone(m), func(f string) bool { return hiddenMatch(in, f) })
			if len(visible) == 0 {
				if len(m) > 0 {
					return nil, 0, &InputError{fmt.Errorf("input %q: only hidden files match (%s): a wildcard skips names that begin with '.', as the shell's does; begin the pattern's name with '.' to take them", in, m[0])}
				}
				return nil, 0, &InputError{fmt.Errorf("input %q: no files match", in)}
			}
			matches = visible
		}
		for _, f := range matches {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, 0, &InputError{fmt.Errorf("input: %w", err)}
			}
			if fi.IsDir() {
				return nil, 0, &InputError{fmt.Errorf("input %s is a directory (pass its files, e.g. %s)", f, filepath.Join(f, "*.txt"))}
			}
			id, err := fileID(f, fi)
			if err != nil {
				return nil, 0, &InputError{fmt.Errorf("input %s: %w", f, err)}
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			files = append(files, f)
			total += fi.Size()
		}
	}
	if len(files) == 0 {
		return nil, 0, &InputError{errors.New("no input files")}
	}
	return files, total, nil
}

// hiddenMatch reports whether the pattern's match f takes a hidden name
// (one that begins with '.': an editor's backup, macOS's ._ resource
// forks, a .git directory) by a wildcard, where the pattern's own part
// does not begin with '.': the shell's * and ? skip such names, and a
// corpus of *.txt is not meant to take ._notes.txt.
func hiddenMatch(pattern, f string) bool {
	sep := string(filepath.Separator)
	ps := strings.Split(filepath.Clean(pattern), sep)
	fs := strings.Split(filepath.Clean(f), sep)
	if len(ps) != len(fs) {
		return false
	}
	for i, p := range ps {
		dot := strings.HasPrefix(p, ".") || strings.HasPrefix(p, `\.`) // \. is an escaped '.'
		if strings.ContainsAny(p, "*?[") && !dot && strings.HasPrefix(fs[i], ".") {
			return true
		}
	}
	return false
}
