package data

import "syscall"

// adviseRandom tells the kernel that the mapping m is read at random
// places: a page fault reads that page, not the read-ahead window after it
// (megabytes on some disks), which a sampler of short windows would read
// and throw away.
func adviseRandom(m []byte) {
	if len(m) > 0 {
		_ = syscall.Madvise(m, syscall.MADV_RANDOM) // a hint: reads are correct without it
	}
}
