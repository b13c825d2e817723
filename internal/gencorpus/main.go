//go:build ignore

// Command gencorpus writes gptctl's built-in corpus. It is run by go generate
// from data/corpus.go:
//
//	go run ../internal/gencorpus/main.go -o corpus/builtin.txt
package main

import (
	"flag"
	"fmt"
	"os"

	"gptctl/internal/gencorpus"
)

func main() {
	out := flag.String("o", "builtin.txt", "output file")
	seed := flag.Int64("seed", gencorpus.DefaultSeed, "random seed")
	size := flag.Int("size", gencorpus.DefaultSize, "minimum size in bytes")
	flag.Parse()
	text := gencorpus.Generate(*seed, *size)
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}
