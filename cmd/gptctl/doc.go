// Command gptctl pretrains GPT models on text corpora and finetunes them on
// labeled tasks, on the CPU or a CUDA GPU: main.go runs the command and maps
// errors to exit statuses, root.go holds the command tree, and each
// subcommand has a file of its own (an Options struct, its flags, its RunE).
package main
