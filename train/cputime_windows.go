package train

import (
	"time"

	"golang.org/x/sys/windows"
)

// cpuSeconds is the user and kernel CPU time the process has used: unlike
// the step times, it hardly changes when other processes share the cores.
func cpuSeconds() float64 {
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user) != nil {
		return 0
	}
	// Filetime counts 100 ns intervals; Nanoseconds also subtracts the
	// 1601 epoch, which a duration must not.
	ticks := func(t windows.Filetime) int64 { return int64(t.HighDateTime)<<32 | int64(t.LowDateTime) }
	return time.Duration(100 * (ticks(kernel) + ticks(user))).Seconds()
}
