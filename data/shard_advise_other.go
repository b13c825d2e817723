//go:build !linux

package data

// adviseRandom is a no-op where gptctl does not give the kernel access
// hints.
func adviseRandom([]byte) {}
