//go:build !linux

package data

// adviseRandom is a no-op where gptctl does not give the kernel access
// hints.
func adviseRandom([]byte) {}

// adviseSequential is a no-op where gptctl does not give the kernel access
// hints.
func adviseSequential([]byte) {}

// adviseRead is a no-op where gptctl does not give the kernel access
// hints.
func adviseRead([]byte) {}

// MapLimit is 0 where gptctl does not know the limit on a process's memory
// maps.
func MapLimit() int { return 0 }
