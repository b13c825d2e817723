// Package data holds everything gptctl reads from disk that is not a model:
// tokenizers, corpora and token shards, labeled task files and safetensors.
// It is a leaf package: it imports nothing from the rest of gptctl.
package data
