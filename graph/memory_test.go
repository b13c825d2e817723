package graph

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A model far beyond the machine's memory is refused by name before any
// allocation; one that fits is not.
func TestNewParamsRefusesWhatCannotFit(t *testing.T) {
	MemoryLimit = 16 << 30 // a machine of 16 GiB, whatever this one has
	defer func() { MemoryLimit = 0 }()
	ok := Config{Arch: "gpt1", VocabSize: 50, NCtx: 16, NEmbd: 32, NHead: 2, NLayer: 1, LNEps: 1e-5}
	if _, err := NewParams(ok, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.NEmbd = 1 << 20 }, "n_embd 1048576"},
		{func(c *Config) { c.NCtx = 2_000_000_000 }, "n_ctx 2000000000"},
		{func(c *Config) { c.NLayer = 100_000_000 }, "n_layer 100000000"},
		{func(c *Config) { c.VocabSize = 2_000_000_000; c.NEmbd = 1024; c.NHead = 1 }, "vocab_size 2000000000"},
	} {
		cfg := ok
		c.set(&cfg)
		if _, err := NewParams(cfg, nil); err == nil || !strings.Contains(err.Error(), "of memory and swap this process may use") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want the model refused for memory", c.want, err)
		}
	}
}

// SystemMemory takes the lower of the machine's memory and its control
// group's limit (a scheduler's job, a container): cgroup v2's memory.max,
// the lowest along the path, with memory.swap.max, or v1's
// memory.limit_in_bytes; MemoryLimit overrides both.
func TestSystemMemoryCgroups(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	defer func(a, b, c string) { meminfoFile, cgroupFile, cgroupRoot = a, b, c }(meminfoFile, cgroupFile, cgroupRoot)
	meminfoFile = write("meminfo", "MemTotal:       67108864 kB\nMemFree:  1 kB\nSwapTotal:       8388608 kB\n")
	cgroupRoot = filepath.Join(dir, "cg")
	const gib = 1 << 30
	for _, c := range []struct {
		name, cgroup string
		files        map[string]string
		want         int64
	}{
		{"no cgroup file", "", nil, 72 * gib},
		{"v2 unlimited", "0::/\n", map[string]string{"memory.max": "max\n"}, 72 * gib},
		{"v2 job limit, step unlimited, no swap", "0::/job/step\n",
			map[string]string{"job/memory.max": "8589934592\n", "job/step/memory.max": "max\n", "job/step/memory.swap.max": "0\n"}, 8 * gib},
		{"v2 limit with swap", "0::/c\n", map[string]string{"c/memory.max": "4294967296\n", "c/memory.swap.max": "1073741824\n"}, 5 * gib},
		{"v1 limit", "4:memory:/slurm/job\n0::/\n", map[string]string{"memory/slurm/job/memory.limit_in_bytes": "4294967296\n"}, 12 * gib},
		{"v1 unlimited", "4:memory:/x\n", map[string]string{"memory/x/memory.limit_in_bytes": "9223372036854771712\n"}, 72 * gib},
		{"v1 in a container: the host's path is not there, the mount's root holds the limit", "4:memory:/docker/abc\n",
			map[string]string{"memory/memory.limit_in_bytes": "2147483648\n"}, 10 * gib},
		{"v1 job limit above the step", "4:memory:/slurm/job_1/step_0\n",
			map[string]string{"memory/slurm/job_1/memory.limit_in_bytes": "6442450944\n", "memory/slurm/job_1/step_0/memory.limit_in_bytes": "9223372036854771712\n"}, 14 * gib},
		{"a limit above the machine", "0::/\n", map[string]string{"memory.max": "137438953472\n"}, 72 * gib},
	} {
		os.RemoveAll(cgroupRoot)
		cgroupFile = filepath.Join(dir, "none")
		if c.cgroup != "" {
			cgroupFile = write("cgroup", c.cgroup)
		}
		for name, body := range c.files {
			write(filepath.Join("cg", name), body)
		}
		if got := SystemMemory(); got != c.want {
			t.Errorf("%s: %d GiB, want %d", c.name, got/gib, c.want/gib)
		}
	}
	MemoryLimit = 3 * gib
	defer func() { MemoryLimit = 0 }()
	if got := SystemMemory(); got != 3*gib {
		t.Errorf("MemoryLimit 3 GiB: SystemMemory %d", got)
	}
}
