package data

import (
	"os"
	"runtime"
	"sync"
	"testing"
)

func shakespeare(b *testing.B) string {
	path := sharedPath("GPTCTL_SHAKESPEARE", "../../shared/data/pretrain/tinyshakespeare.txt")
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Skipf("no corpus (set GPTCTL_SHAKESPEARE): %v", err)
	}
	return string(raw)
}

// chunks cuts text into pieces of about size bytes where cuts allows.
func chunks(text string, size int, cuts Cuts) []string {
	var out []string
	for len(text) > size {
		p := cuts.Last(text, size)
		if p == 0 {
			p = size
		}
		out = append(out, text[:p])
		text = text[p:]
	}
	return append(out, text)
}

// BenchmarkGPT2Encode encodes tinyshakespeare on one goroutine. After the
// first pass the piece cache is warm, as it is after the first megabytes of
// any corpus; BenchmarkGPT2EncodeCold empties it before every pass.
func BenchmarkGPT2Encode(b *testing.B) {
	tok := gpt2Vocab(b)
	text := shakespeare(b)
	b.SetBytes(int64(len(text)))
	var n int
	for b.Loop() {
		n = len(tok.Encode(text))
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkGPT2EncodeParallel encodes tinyshakespeare cut into 64 KiB chunks
// at SafeCut points, on one goroutine per core.
func BenchmarkGPT2EncodeParallel(b *testing.B) {
	tok := gpt2Vocab(b)
	text := shakespeare(b)
	parts := chunks(text, 64<<10, WhitespaceCuts)
	workers := runtime.GOMAXPROCS(0)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		var wg sync.WaitGroup
		next := make(chan string, len(parts))
		for _, p := range parts {
			next <- p
		}
		close(next)
		for w := 0; w < workers; w++ {
			wg.Go(func() {
				for p := range next {
					tok.Encode(p)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(workers), "goroutines")
}

func BenchmarkGPT2EncodeCold(b *testing.B) {
	tok := gpt2Vocab(b)
	text := shakespeare(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		b.StopTimer()
		tok.cache = newPieceCache()
		b.StartTimer()
		tok.Encode(text)
	}
}
