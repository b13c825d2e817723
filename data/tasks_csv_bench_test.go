package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkReadTaskCSV reads SST-2's training set written as CSV (every
// sentence quoted, its quotes doubled, as Python's csv module writes it).
func BenchmarkReadTaskCSV(b *testing.B) {
	dir := os.Getenv("GPTCTL_DATA_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	tsv, err := os.ReadFile(filepath.Join(dir, "tasks", "sst2", "train.tsv"))
	if err != nil {
		b.Skip(err)
	}
	var sb strings.Builder
	for ln := range strings.Lines(string(tsv)) {
		s, label, _ := strings.Cut(strings.TrimSuffix(ln, "\n"), "\t")
		sb.WriteString(`"` + strings.ReplaceAll(s, `"`, `""`) + `",` + label + "\n")
	}
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		d, err := ParseTaskFile(body, "sst2.csv", sst2Format, true)
		if err != nil || d.Count == 0 {
			b.Fatal(err, d.Count)
		}
	}
}
