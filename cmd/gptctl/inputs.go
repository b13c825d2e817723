package main

import (
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
