// Package train runs gptctl's jobs: configuration, the training loop with
// AdamW and its schedule, evaluation, checkpoints and resume, sampling, and
// loading models from gptctl run directories or Hugging Face directories.
package train
