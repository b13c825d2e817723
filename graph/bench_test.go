package graph

import (
	"testing"

	"gptctl/kernels"
)

// BenchmarkTrainStep measures forward + backward of a whole model (no
// optimizer) and reports tokens per second.
func BenchmarkTrainStep(b *testing.B) {
	for _, s := range []struct {
		name              string
		L, C, H, T, B, V int
	}{
		{"L4-C128-T64-B12-V65", 4, 128, 4, 64, 12, 65},
		{"L6-C384-T128-B8-V256", 6, 384, 6, 128, 8, 256},
	} {
		b.Run(s.name, func(b *testing.B) {
			cfg := Config{Arch: "gpt1", VocabSize: s.V, NCtx: s.T, NEmbd: s.C, NHead: s.H, NLayer: s.L, LNEps: 1e-5}
			p, err := NewParams(cfg, kernels.NewRNG(1))
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(p, s.B, s.T, &kernels.Mode{}, kernels.NewRNG(2))
			if err != nil {
				b.Fatal(err)
			}
			loss, tg, err := m.LMLoss()
			if err != nil {
				b.Fatal(err)
			}
			tr, err := m.Differentiate(loss)
			if err != nil {
				b.Fatal(err)
			}
			in, tgt := Int32Data(m.Idx), Int32Data(tg)
			for i := range in {
				in[i], tgt[i] = int32(i%s.V), int32((i+1)%s.V)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.B*s.T*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
