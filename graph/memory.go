package graph

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// MemoryLimit, when positive, is what SystemMemory returns: for tests, and
// for a program that knows the memory it may use better.
var MemoryLimit int64

// Where SystemMemory reads (tests point them elsewhere).
var (
	meminfoFile = "/proc/meminfo"
	cgroupFile  = "/proc/self/cgroup"
	cgroupRoot  = "/sys/fs/cgroup"
)

// SystemMemory returns the bytes of memory and swap this process may use:
// the machine's, as /proc/meminfo says, or less where its control group
// (a batch scheduler's job, a container) is limited to less; 0 where it
// cannot tell (then nothing is refused).
func SystemMemory() int64 {
	if MemoryLimit > 0 {
		return MemoryLimit
	}
	mem, swap := meminfo()
	if mem <= 0 {
		return 0
	}
	if limit, swapLimit := cgroupLimits(); limit > 0 && limit < mem {
		if swapLimit >= 0 {
			swap = min(swap, swapLimit)
		}
		return limit + swap
	}
	return mem + swap
}

// meminfo returns /proc/meminfo's MemTotal and SwapTotal in bytes; 0, 0
// where it cannot be read.
func meminfo() (mem, swap int64) {
	f, err := os.Open(meminfoFile)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "MemTotal" && key != "SwapTotal" {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0
		}
		if key == "MemTotal" {
			mem = kb << 10
		} else {
			swap = kb << 10
		}
	}
	return mem, swap
}

// cgroupLimits returns the memory limit of this process's control group,
// the lowest of its own and its ancestors' (0: none), and their swap
// limit (-1: none): cgroup v2's memory.max and memory.swap.max, or v1's
// memory.limit_in_bytes.
func cgroupLimits() (mem, swap int64) {
	b, err := os.ReadFile(cgroupFile)
	if err != nil {
		return 0, -1
	}
	mem, swap = 0, -1
	lower := func(cur, v int64) int64 {
		if v > 0 && (cur <= 0 || v < cur) {
			return v
		}
		return cur
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		// The group and its ancestors up to the mount's root (a
		// container's own group, where the path is the host's).
		walk := func(root string, limit func(dir string)) {
			for dir := parts[2]; ; dir = path.Dir(dir) {
				limit(filepath.Join(root, dir))
				if dir == "/" || dir == "." {
					return
				}
			}
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			walk(cgroupRoot, func(dir string) {
				mem = lower(mem, limitFile(filepath.Join(dir, "memory.max")))
				if v := limitFile(filepath.Join(dir, "memory.swap.max")); v >= 0 && (swap < 0 || v < swap) {
					swap = v
				}
			})
		case slices.Contains(strings.Split(parts[1], ","), "memory"): // v1
			walk(filepath.Join(cgroupRoot, "memory"), func(dir string) {
				mem = lower(mem, limitFile(filepath.Join(dir, "memory.limit_in_bytes")))
			})
		}
	}
	return mem, swap
}

// limitFile reads a cgroup limit in bytes: -1 for "max", none or a file
// that is not there, and v1's "unlimited" (a number near 2^63) too.
func limitFile(name string) int64 {
	b, err := os.ReadFile(name)
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v >= 1<<62 {
		return -1
	}
	return v
}

// Bytes writes a byte count for people: 1.5 GB, 512 MB.
func Bytes(n float64) string {
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.1f TB", n/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", n/(1<<30))
	}
	return fmt.Sprintf("%.0f MB", n/(1<<20))
}

// ParamBytes is the bytes of bytesPerParam for each parameter, in floating
// point, which no shape overflows.
func (c Config) ParamBytes(bytesPerParam int) float64 { return c.paramCount() * float64(bytesPerParam) }

// FitsMemory refuses what needs more than times the memory and swap this
// process may use (SystemMemory), need bytes for the model of c (what
// names the use): it would die out of memory after a long allocation, not
// say why.
func (c Config) FitsMemory(need, times float64, what string) error {
	have := SystemMemory()
	if have <= 0 || need <= times*float64(have) {
		return nil
	}
	than := "more than"
	if times != 1 {
		than = fmt.Sprintf("more than %g times", times)
	}
	return fmt.Errorf("%s needs about %s (%.3g parameters: n_layer %d, n_embd %d, n_ctx %d, vocab_size %d), %s the %s of memory and swap this process may use",
		what, Bytes(need), c.paramCount(), c.NLayer, c.NEmbd, c.NCtx, c.VocabSize, than, Bytes(float64(have)))
}
