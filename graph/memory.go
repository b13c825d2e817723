package graph

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// SystemMemory returns the bytes of memory and swap this machine has, as
// /proc/meminfo says; 0 where it cannot tell (then nothing is refused).
func SystemMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
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
			return 0
		}
		total += kb << 10
	}
	return total
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

// FitsMemory refuses what needs more than times the machine's memory and
// swap, need bytes for the model of c (what names the use): it would die
// out of memory after a long allocation, not say why.
func (c Config) FitsMemory(need, times float64, what string) error {
	have := SystemMemory()
	if have <= 0 || need <= times*float64(have) {
		return nil
	}
	than := "more than"
	if times != 1 {
		than = fmt.Sprintf("more than %g times", times)
	}
	return fmt.Errorf("%s needs about %s (%.3g parameters: n_layer %d, n_embd %d, n_ctx %d, vocab_size %d), %s this machine's %s of memory and swap",
		what, Bytes(need), c.paramCount(), c.NLayer, c.NEmbd, c.NCtx, c.VocabSize, than, Bytes(float64(have)))
}
