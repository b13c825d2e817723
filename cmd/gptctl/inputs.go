package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// inputsFlag defines --data as a list of input files or globs, given by
// repeating the flag or separating them with commas; a value naming a file
// that exists is that file, commas and all.
func inputsFlag(f *pflag.FlagSet, to *[]string, usage string) {
	f.Var(&inputList{to: to}, "data", usage)
}

type inputList struct{ to *[]string }

func (l *inputList) String() string {
	if l == nil || l.to == nil {
		return ""
	}
	return strings.Join(*l.to, ",")
}
func (l *inputList) Type() string { return "strings" }

func (l *inputList) Set(v string) error {
	if _, err := os.Lstat(v); err == nil {
		*l.to = append(*l.to, v)
		return nil
	}
	*l.to = append(*l.to, strings.Split(v, ",")...)
	return nil
}

// configOnce is what to do instead of a second -c.
const configOnce = "one config file a job: override its keys with --set key=value"

// onceFlag defines a string flag that may be given once: a second value is
// an error saying what to do instead (hint), where pflag would keep the
// last silently (a config or corpus dropped without a word).
func onceFlag(f *pflag.FlagSet, to *string, name, short, usage, hint string) {
	f.VarP(&onceString{to: to, hint: hint}, name, short, usage)
}

type onceString struct {
	to   *string
	set  bool
	hint string
}

func (s *onceString) String() string {
	if s == nil || s.to == nil {
		return ""
	}
	return *s.to
}
func (s *onceString) Type() string { return "string" }

func (s *onceString) Set(v string) error {
	if s.set {
		return &givenTwice{first: *s.to, hint: s.hint}
	}
	*s.to, s.set = v, true
	return nil
}

// givenTwice is a onceFlag's second value; flagValueError words it.
type givenTwice struct{ first, hint string }

func (e *givenTwice) Error() string {
	return fmt.Sprintf("given twice (%q first): %s", e.first, e.hint)
}
