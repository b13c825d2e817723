// Command anchor-replay runs the char-level pretraining loop of
// train/run_loop.go from the exported APIs and writes what a PyTorch replay
// needs: the initial weights, every training batch, the per-step loss,
// gradient norm and learning rate, the step-1 gradients, the final weights
// and the validation batches with gptctl's estimate over them. replay.py
// then feeds the same weights and batches to the model of
// ../shared/bench/shakespeare_anchor.py (post-LN) and compares step by step:
//
//	go run ./scripts/anchor-replay -config configs/shakespeare-char.yaml \
//	    -data ../shared/data/pretrain/tinyshakespeare.txt -steps 2000 -out /tmp/replay
//	python3 scripts/anchor-replay/replay.py /tmp/replay ../shared/data/pretrain/tinyshakespeare.txt
//
// With -ids (a corpus encoded by gptctl tokenizer encode --binary) and -vocab
// it replays any tokenizer's run, such as configs/shakespeare-gpt2.yaml's,
// which scripts/shakespeare-gpt2-torch.py takes as its INIT to train on the
// same weights and batches. It reproduces a run of bin/gptctl to the last
// digit when built as the binary was (go run -tags openblas, and the same
// OPENBLAS_CORETYPE); without the tag its products are gonum's, which round
// differently.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/train"
)

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func writeF32(path string, ws [][]float32) {
	f, err := os.Create(path)
	must(err)
	defer f.Close()
	for _, w := range ws {
		must(binary.Write(f, binary.LittleEndian, w))
	}
}

func main() {
	cfgPath := flag.String("config", "configs/shakespeare-char.yaml", "pretraining config (char tokenizer)")
	dataPath := flag.String("data", "../shared/data/pretrain/tinyshakespeare.txt", "the corpus")
	out := flag.String("out", "anchor-replay", "output directory")
	steps := flag.Int("steps", 300, "steps to run (the schedule still spans max_steps)")
	seed := flag.Uint64("seed", 1337, "the run's seed")
	evalAt := flag.Int("evalat", 0, "also print the validation loss at this step (0: only at the end)")
	idsPath := flag.String("ids", "", "the corpus as token ids (uint32, gptctl tokenizer encode --binary) instead of -data's characters")
	vocab := flag.Int("vocab", 0, "with -ids: the vocabulary size")
	flag.Parse()
	must(os.MkdirAll(*out, 0o755))
	cfg, err := train.Load(*cfgPath, []string{"data=" + *dataPath, fmt.Sprintf("seed=%d", *seed), "device=cpu"})
	must(err)
	_, err = train.SetupDevice(cfg, os.Stderr)
	must(err)

	var all train.Tokens
	if *idsPath != "" { // as pretraining splits a text corpus of any tokenizer
		b, err := os.ReadFile(*idsPath)
		must(err)
		all = make(train.Tokens, len(b)/4)
		for i := range all {
			all[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
		cfg.VocabSize = *vocab
	} else {
		b, err := os.ReadFile(*dataPath)
		must(err)
		text := string(b)
		tok := data.NewCharTokenizer(text)
		for _, id := range tok.Encode(text) {
			all = append(all, int32(id))
		}
		cfg.VocabSize = tok.VocabSize()
		must(os.WriteFile(filepath.Join(*out, "vocab.txt"), []byte(tok.Decode(seq(cfg.VocabSize))), 0o644))
	}
	n := int(float64(len(all)) * (1 - cfg.ValFraction))
	tr, va := all[:n], all[n:]
	fmt.Fprintf(os.Stderr, "vocab %d train %d val %d\n", cfg.VocabSize, len(tr), len(va))

	p, err := graph.NewParams(cfg.Config, graph.NewRNG(cfg.Seed))
	must(err)
	type pm struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	var man []pm
	var init [][]float32
	for _, w := range p.List {
		man = append(man, pm{w.Name, w.Shape})
		init = append(init, append([]float32(nil), w.Data...))
	}
	mb, _ := json.Marshal(map[string]any{"params": man, "B": cfg.BatchSize, "T": cfg.T(), "steps": *steps,
		"max_steps": cfg.MaxSteps, "ntrain": len(tr), "nval": len(va), "vocab": cfg.VocabSize})
	must(os.WriteFile(filepath.Join(*out, "manifest.json"), mb, 0o644))
	writeF32(filepath.Join(*out, "init.bin"), init)

	opt := train.NewAdamW(p, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	m, err := graph.New(p, cfg.BatchSize, cfg.T(), graph.NewRNG(cfg.Seed+1))
	must(err)
	loss, targets, err := m.LMLoss()
	must(err)
	trn, err := m.Differentiate(loss)
	must(err)
	ts, err := train.NewSampler(tr, cfg.T(), cfg.Seed+2)
	must(err)
	vs, err := train.NewSampler(va, cfg.T(), cfg.Seed+3)
	must(err)
	grads := make([][]float32, len(p.List))
	for i := range p.List {
		grads[i] = trn.Grad(i)
	}
	in, tg := graph.Int32Data(m.Idx), graph.Int32Data(targets)
	bf, err := os.Create(filepath.Join(*out, "batches.bin"))
	must(err)
	lf, err := os.Create(filepath.Join(*out, "go_log.jsonl"))
	must(err)
	evalv := func(tag string) float64 {
		vs.Reset()
		vf, err := os.Create(filepath.Join(*out, "valbatches.bin"))
		must(err)
		var s float64
		for i := 0; i < cfg.EvalBatches; i++ {
			must(vs.Fill(in, tg, m.B))
			must(binary.Write(vf, binary.LittleEndian, in))
			must(binary.Write(vf, binary.LittleEndian, tg))
			l, err := trn.Eval()
			must(err)
			s += float64(l)
		}
		vf.Close()
		v := s / float64(cfg.EvalBatches)
		fmt.Fprintf(os.Stderr, "%s val %.5f\n", tag, v)
		return v
	}
	for step := 0; step < *steps; step++ {
		lr := train.LR(step, cfg.WarmupSteps, cfg.MaxSteps, cfg.LR, cfg.MinLR, cfg.LRDecay)
		must(ts.Fill(in, tg, m.B))
		must(binary.Write(bf, binary.LittleEndian, in))
		must(binary.Write(bf, binary.LittleEndian, tg))
		l, err := trn.Step()
		must(err)
		if step == 0 {
			writeF32(filepath.Join(*out, "grads1.bin"), grads)
		}
		gn := graph.ClipGrads(grads, cfg.GradClip)
		opt.Update(p, grads, lr)
		fmt.Fprintf(lf, "{\"step\":%d,\"loss\":%.8g,\"gn\":%.8g,\"lr\":%.10g}\n", step+1, l, gn, lr)
		if math.IsNaN(float64(l)) {
			log.Fatalf("step %d: the loss is NaN", step+1)
		}
		if *evalAt > 0 && step+1 == *evalAt {
			evalv(fmt.Sprintf("step %d", step+1))
		}
		if (step+1)%100 == 0 {
			fmt.Fprintf(os.Stderr, "step %d loss %.4f gn %.4f lr %.3g\n", step+1, l, gn, lr)
		}
	}
	bf.Close()
	lf.Close()
	var fin [][]float32
	for _, w := range p.List {
		fin = append(fin, w.Data)
	}
	writeF32(filepath.Join(*out, "final.bin"), fin)
	v := evalv("final")
	must(os.WriteFile(filepath.Join(*out, "go_val.txt"), []byte(fmt.Sprintf("%.8f\n", v)), 0o644))
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
