package data

import _ "embed" // for the built-in corpus

//go:generate go run ../internal/gencorpus/main.go -o corpus/builtin.txt

// BuiltinCorpusName is the name under which the embedded corpus is selected.
const BuiltinCorpusName = "builtin"

//go:embed corpus/builtin.txt
var builtinCorpus string

// BuiltinCorpus returns the corpus embedded in the binary: about 450 KB of
// stories, dialogues, letters, lists and descriptions in simple English,
// written by the generator in internal/gencorpus (see its package comment),
// so gptctl may redistribute it. `go generate ./data` rewrites it.
func BuiltinCorpus() string { return builtinCorpus }
