//go:build unix

package train

import (
	"syscall"
	"time"
)

// cpuSeconds is the user and system CPU time the process has used: unlike
// the step times, it hardly changes when other processes share the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
