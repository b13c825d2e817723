package data

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// adviseRandom tells the kernel that the mapping m is read at random
// places: a page fault reads that page, not the read-ahead window after it
// (megabytes on some disks), which a sampler of short windows would read
// and throw away.
func adviseRandom(m []byte) {
	if len(m) > 0 {
		_ = syscall.Madvise(m, syscall.MADV_RANDOM) // a hint: reads are correct without it
	}
}

// adviseSequential tells the kernel that the mapping m is about to be read
// through once, in order: read ahead of it.
func adviseSequential(m []byte) {
	if len(m) > 0 {
		_ = syscall.Madvise(m, syscall.MADV_SEQUENTIAL)
	}
}

// adviseRead drops the pages of the mapping m, read through, from this
// process's memory (the page cache keeps them: a read-only file mapping
// loses nothing), so that reading every shard once does not leave the
// resident set the size of the shards, and restores the default access
// hint.
func adviseRead(m []byte) {
	if len(m) > 0 {
		_ = syscall.Madvise(m, syscall.MADV_DONTNEED)
		_ = syscall.Madvise(m, syscall.MADV_NORMAL)
	}
}

// MapLimit is the most memory maps a process may hold
// (/proc/sys/vm/max_map_count), 0 where it cannot be read.
func MapLimit() int {
	b, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
