package train

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig feeds arbitrary bytes to the config loaders, pretraining's and
// finetuning's: each must return a valid config or an error, never panic.
func FuzzConfig(f *testing.F) {
	seeds, _ := filepath.Glob("../configs/*.yaml")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "n_layer=3")
		}
	}
	f.Add([]byte("n_embd: 100\nn_head: 3\n"), "lr=")
	f.Add([]byte("arch: [1, 2]\nmax_time: -5s\n"), "=x")
	f.Add([]byte("n_heads: 2\ntask:\n  lamda: 1\n"), "task.max_lne=3")
	f.Add([]byte("\xff\xfen\x00_\x00"), "N-LAYER=2")
	path := filepath.Join(f.TempDir(), "c.yaml") // one a process: each fuzzing worker has its own
	f.Fuzz(func(t *testing.T, body []byte, set string) {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, []string{set})
		if err == nil {
			if cfg.NEmbd%cfg.NHead != 0 || cfg.BatchSize <= 0 {
				t.Fatalf("Load accepted an invalid config: %+v", cfg)
			}
		}
		ft, err := LoadFinetune(path, []string{set})
		if err == nil {
			if ft.Lambda < 0 || ft.Lambda > 1 || ft.BatchSize <= 0 || ft.Task.Type == "" {
				t.Fatalf("LoadFinetune accepted an invalid config: %+v", ft)
			}
		}
	})
}
