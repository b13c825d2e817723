//go:build cuda

package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gptctl/data"
	"gptctl/graph"
)

// needGPU skips a test where no GPU (or driver emulator, see the Makefile's
// test-cuda) is usable.
func needGPU(t *testing.T) {
	t.Helper()
	if _, err := openGPU(); err != nil {
		t.Skipf("no usable GPU: %v (make test-cuda runs this on the driver emulator)", err)
	}
}

// Pretraining on the GPU follows the CPU run: the same losses and weights to
// float32 rounding (TF32 off), with gradient accumulation; and a run
// interrupted and resumed on the GPU ends where an uninterrupted one does.
func TestPretrainOnGPU(t *testing.T) {
	needGPU(t)
	cfg := tinyConfig(t, "dropout=0", "grad_accum=2", "tf32=false", "max_steps=8", "eval_interval=4", "eval_batches=2",
		"log_interval=2", "checkpoint_interval=0")
	cpuDir, gpuDir, splitDir := t.TempDir(), t.TempDir(), t.TempDir()
	cpuCfg := cfg
	cpuCfg.Device = "cpu"
	a, err := Pretrain(context.Background(), cpuCfg, Options{OutDir: cpuDir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	gpuCfg := cfg
	gpuCfg.Device = "cuda"
	b, err := Pretrain(context.Background(), gpuCfg, Options{OutDir: gpuDir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if b.Device != "cuda" || math.Abs(lossOf(a.ValLoss)-lossOf(b.ValLoss)) > 1e-4*lossOf(a.ValLoss) || math.Abs(lossOf(a.TrainLoss)-lossOf(b.TrainLoss)) > 1e-4*lossOf(a.TrainLoss) {
		t.Errorf("GPU run %+v\nCPU run %+v: want the same losses to 1e-4", b, a)
	}
	t.Logf("val loss: cpu %.6f, gpu %.6f", lossOf(a.ValLoss), lossOf(b.ValLoss))
	weightsClose(t, "gpu vs cpu", filepath.Join(gpuDir, "checkpoint"), filepath.Join(cpuDir, "checkpoint"), 1e-4)

	ctx, cancel := context.WithCancelCause(context.Background())
	stop := func(step int) {
		if step == 3 {
			cancel(errors.New("test interruption"))
		}
	}
	if s, err := Pretrain(ctx, gpuCfg, Options{OutDir: splitDir, Log: io.Discard, AfterStep: stop}); err != nil || s.Status != "interrupted" {
		t.Fatalf("interrupted GPU run: %+v, %v", s, err)
	}
	c, err := Pretrain(context.Background(), gpuCfg, Options{OutDir: splitDir, Resume: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lossOf(c.ValLoss)-lossOf(b.ValLoss)) > 1e-5*lossOf(b.ValLoss) {
		t.Errorf("resumed GPU run val_loss %.7f, uninterrupted %.7f", lossOf(c.ValLoss), lossOf(b.ValLoss))
	}
	weightsClose(t, "resumed vs uninterrupted", filepath.Join(splitDir, "checkpoint"), filepath.Join(gpuDir, "checkpoint"), 1e-5)
	if got, want := stepsOf(readFile(t, filepath.Join(splitDir, "metrics.jsonl"))), stepsOf(readFile(t, filepath.Join(gpuDir, "metrics.jsonl"))); got != want {
		t.Errorf("metrics steps %s, want %s", got, want)
	}

	// init_from: the GPU continues the loaded model as the CPU does.
	var cont [2]*Summary
	contDirs := [2]string{t.TempDir(), t.TempDir()}
	for i, dev := range []string{"cpu", "cuda"} {
		c := tinyConfig(t, "init_from="+cpuDir, "dropout=0", "tf32=false", "max_steps=4", "eval_batches=2", "checkpoint_interval=0", "device="+dev)
		if cont[i], err = Pretrain(context.Background(), c, Options{OutDir: contDirs[i], Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
	}
	if math.Abs(lossOf(cont[0].ValLoss)-lossOf(cont[1].ValLoss)) > 1e-4*lossOf(cont[0].ValLoss) {
		t.Errorf("init_from: GPU val_loss %.6f, CPU %.6f", lossOf(cont[1].ValLoss), lossOf(cont[0].ValLoss))
	}
	weightsClose(t, "init_from gpu vs cpu", filepath.Join(contDirs[1], "checkpoint"), filepath.Join(contDirs[0], "checkpoint"), 1e-4)
}

// weightsClose compares the model.safetensors of two model directories.
func weightsClose(t *testing.T, what, dirA, dirB string, tol float64) {
	t.Helper()
	tensorsClose(t, what, filepath.Join(dirA, "model.safetensors"), filepath.Join(dirB, "model.safetensors"), tol, nil)
}

// bench --profile on the GPU times every op of one step: each kind of op the
// model has, counted once per layer where it is per layer. (Bench itself
// also measures a 4096³ GEMM, hours on the driver emulator: the test runs
// the profiled step as Bench does.)
func TestBenchProfileOnGPU(t *testing.T) {
	needGPU(t)
	c := tinyBenchConfig()
	c.Device = "cuda"
	b, err := newBenchRun(c, "cuda")
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if _, err := b.step(); err != nil {
		t.Fatal(err)
	}
	graph.StartDeviceProfile()
	_, err = b.step()
	prof := graph.StopDeviceProfile()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, o := range prof {
		if o.Calls < 1 || o.MS < 0 || math.IsNaN(o.MS) {
			t.Errorf("profile entry %+v", o)
		}
		calls[o.Op] = o.Calls
	}
	for _, op := range []string{"attention", "attention_grad", "layernorm", "gelu", "cross_entropy"} {
		if n, ok := calls[op]; !ok || (op != "cross_entropy" && n < c.NLayer) {
			t.Errorf("op %s: %d calls in the profile, want one per layer (profile %v)", op, n, prof)
		}
	}
	if graph.StopDeviceProfile() != nil {
		t.Error("a second StopDeviceProfile returned a profile")
	}
}

// bench's "blas" on a GPU names the GEMM the products went to, as the
// device's description does: cuBLAS with its version, or gemm.cu's kernel
// (always with GPTCTL_CUBLAS=off, as on the driver emulator).
func TestBenchNamesGPUGEMM(t *testing.T) {
	needGPU(t)
	dev, err := openGPU()
	if err != nil {
		t.Fatal(err)
	}
	name := gpuBLASName()
	if !regexp.MustCompile(`^(cublas/\d+\.\d+\.\d+|gemm\.cu)$`).MatchString(name) {
		t.Fatalf("gpuBLASName() = %q, want cublas/MAJOR.MINOR.PATCH or gemm.cu", name)
	}
	if cublas := strings.Contains(dev.String(), "cuBLAS"); cublas != strings.HasPrefix(name, "cublas/") {
		t.Errorf("gpuBLASName() = %q on a device described as %q", name, dev)
	}
	if os.Getenv("GPTCTL_CUBLAS") == "off" && name != "gemm.cu" {
		t.Errorf("gpuBLASName() = %q with GPTCTL_CUBLAS=off, want gemm.cu", name)
	}
}

// flash_attention reaches the device: on, every layer's attention runs
// through flash.cu; off, the batched path; and the two give the same loss
// on the second step to TF32's rounding.
func TestFlashAttentionOnGPU(t *testing.T) {
	needGPU(t)
	var losses []float64
	for _, flash := range []bool{false, true} {
		c := tinyBenchConfig() // head size 16
		c.Device, c.Dropout, c.TF32, c.Flash = "cuda", 0, true, flash
		b, err := newBenchRun(c, "cuda")
		if err != nil {
			t.Fatal(err)
		}
		loss, err := b.step()
		if err == nil {
			loss, err = b.step() // after the first step's backward and update
		}
		got := b.gpu.attention()
		b.close()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{false: "batched", true: "flash"}[flash]; got != want {
			t.Errorf("flash_attention %v: attention ran %q, want %q", flash, got, want)
		}
		losses = append(losses, float64(loss))
	}
	if math.Abs(losses[0]-losses[1]) > 1e-3*losses[0] {
		t.Errorf("loss with batched attention %.6f, with flash %.6f: want them within 1e-3", losses[0], losses[1])
	}
}

// Finetuning on the GPU follows the CPU run for each kind of head (dropout
// off, TF32 off): the same validation metrics and, to float32 rounding, the
// same model and head weights, though the GPU pads every batch to max_len
// where the CPU pads each to its own length; and a run interrupted and
// resumed on the GPU ends where an uninterrupted one does.
func TestFinetuneOnGPU(t *testing.T) {
	needGPU(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	var mc strings.Builder
	mc.WriteString("story,q,o1,o2,o3,answer\n")
	for i := 0; i < 24; i++ {
		third := randWord(r)
		if i%4 == 1 && i%3 != 2 { // two options only (min_options): the third's score is masked on the device too
			third = ""
		}
		fmt.Fprintf(&mc, "%s %s,why?,%s,%s,%s,%c\n", randWord(r), randWord(r), randWord(r), randWord(r), third, "ABC"[i%3])
	}
	model := tinyModelDir(t)
	tasks := map[string]string{
		"classification": fmt.Sprintf(`task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}`,
			writeFile(t, filepath.Join(dir, "c.tsv"), synthTSV(60))),
		"similarity": fmt.Sprintf(`task: {type: similarity, train: %s, columns: {a: s1, b: s2, score: sim}, val_fraction: 0.25}`,
			writeFile(t, filepath.Join(dir, "s.jsonl"), synthPairs(40))),
		"multiple_choice": fmt.Sprintf(`task: {type: multiple_choice, train: %s, header: true, val_fraction: 0.25, labels: [A, B, C],
  columns: {context: story, question: q, option0: o1, option1: o2, option2: o3, label: answer}, min_options: 2}`,
			writeFile(t, filepath.Join(dir, "m.csv"), mc.String())),
	}
	for name, task := range tasks {
		if testing.Short() && name != "classification" { // the driver emulator takes minutes per task
			continue
		}
		t.Run(name, func(t *testing.T) {
			yaml := writeFile(t, filepath.Join(t.TempDir(), "f.yaml"), fmt.Sprintf("init_from: %s\n%s\n", model, task)+
				"batch_size: 4\nmax_steps: 6\neval_interval: 3\nlr: 1.0e-3\ndropout: 0\nhead_dropout: 0\ntf32: false\n")
			run := func(ctx context.Context, device, out string, opt Options) *FinetuneSummary {
				t.Helper()
				cfg, err := LoadFinetune(yaml, []string{"device=" + device})
				if err != nil {
					t.Fatal(err)
				}
				opt.OutDir, opt.Log = out, io.Discard
				sum, err := Finetune(ctx, cfg, opt)
				if err != nil {
					t.Fatal(err)
				}
				return sum
			}
			// A multiple-choice head's bias adds the same to every option's
			// score: the softmax ignores it, its gradient is zero up to
			// rounding, and AdamW turns whatever rounding noise the device's
			// summation order leaves into lr-sized steps. It does not change
			// a prediction, so it is not compared.
			var skip []string
			if name == "multiple_choice" {
				skip = []string{"clf.bias"}
			}
			cpuDir, gpuDir, splitDir := t.TempDir(), t.TempDir(), t.TempDir()
			bg := context.Background()
			a, b := run(bg, "cpu", cpuDir, Options{}), run(bg, "cuda", gpuDir, Options{})
			if b.Device != "cuda" || b.Step != 6 || math.Abs(lossOf(a.TrainLoss)-lossOf(b.TrainLoss)) > 1e-4*math.Abs(lossOf(a.TrainLoss)) {
				t.Fatalf("GPU %+v\nCPU %+v: want the same run", b, a)
			}
			for k, v := range a.Val {
				if math.Abs(v-b.Val[k]) > 1e-4*max(1, math.Abs(v)) {
					t.Errorf("val %s: cpu %.6f, gpu %.6f", k, v, b.Val[k])
				}
			}
			t.Logf("train loss: cpu %.6f, gpu %.6f; val %v", lossOf(a.TrainLoss), lossOf(b.TrainLoss), b.Val)
			for _, f := range []string{"model.safetensors", "head.safetensors"} {
				tensorsClose(t, "gpu vs cpu "+f, filepath.Join(gpuDir, "checkpoint", f), filepath.Join(cpuDir, "checkpoint", f), 1e-4, skip)
			}

			ctx, cancel := context.WithCancelCause(context.Background())
			stop := func(step int) {
				if step == 4 {
					cancel(errors.New("test interruption"))
				}
			}
			if s := run(ctx, "cuda", splitDir, Options{AfterStep: stop}); s.Status != "interrupted" {
				t.Fatalf("interrupted GPU run: %+v", s)
			}
			run(bg, "cuda", splitDir, Options{Resume: true})
			for _, f := range []string{"model.safetensors", "head.safetensors", "optimizer.safetensors"} {
				tensorsClose(t, "resumed vs uninterrupted "+f, filepath.Join(splitDir, "checkpoint", f), filepath.Join(gpuDir, "checkpoint", f), 1e-5, skip)
			}
			// Stopped at step 4, which neither logs nor checkpoints: its
			// loss sums were still on the device, and the line of step 6
			// averages steps 1-6 all the same.
			metricsClose(t, filepath.Join(splitDir, "metrics.jsonl"), filepath.Join(gpuDir, "metrics.jsonl"), 1e-5)

			// A signal in the step-3 evaluation (at its first batch): the
			// resume makes that evaluation first, before any step, on the
			// GPU trainer it builds for it.
			evalDir := t.TempDir()
			tctx, arm := newTripCtx(2, 2)
			if s := run(tctx, "cuda", evalDir, Options{AfterStep: arm}); s.Status != "interrupted" || s.Step != 3 {
				t.Fatalf("GPU run stopped in its evaluation: %+v", s)
			}
			run(bg, "cuda", evalDir, Options{Resume: true})
			for _, f := range []string{"model.safetensors", "head.safetensors"} {
				tensorsClose(t, "resumed after a stopped evaluation vs uninterrupted "+f, filepath.Join(evalDir, "checkpoint", f), filepath.Join(gpuDir, "checkpoint", f), 1e-5, skip)
			}
			metricsClose(t, filepath.Join(evalDir, "metrics.jsonl"), filepath.Join(gpuDir, "metrics.jsonl"), 1e-5)
		})
	}
}

// With bf16 the GPU's products take bfloat16 operands: training still
// follows the float32 CPU run, to bfloat16's precision.
func TestPretrainBF16OnGPU(t *testing.T) {
	needGPU(t)
	dev, _ := openGPU()
	if !dev.UsesCublas() {
		t.Skip("bf16 products need cuBLAS (the driver emulator has none)")
	}
	t.Cleanup(func() { dev.SetBF16(false) }) // the device is the process's: leave it as found
	cfg := tinyConfig(t, "dropout=0", "max_steps=8", "eval_interval=4", "eval_batches=2", "log_interval=2", "checkpoint_interval=0")
	cpuCfg, gpuCfg := cfg, cfg
	cpuCfg.Device, gpuCfg.Device, gpuCfg.BF16 = "cpu", "cuda", true
	a, err := Pretrain(context.Background(), cpuCfg, Options{OutDir: t.TempDir(), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Pretrain(context.Background(), gpuCfg, Options{OutDir: t.TempDir(), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("val loss: cpu %.6f, gpu bf16 %.6f", lossOf(a.ValLoss), lossOf(b.ValLoss))
	if math.Abs(lossOf(a.ValLoss)-lossOf(b.ValLoss)) > 2e-2*lossOf(a.ValLoss) {
		t.Errorf("bf16 GPU val loss %.5f, CPU %.5f: want within 2%%", lossOf(b.ValLoss), lossOf(a.ValLoss))
	}
}

// A non-finite gradient on the GPU stops the run as on the CPU: under
// on_nonfinite: stop the steps between logs do not wait for the gradient
// norm, so the device refuses the bad step (and every later one) and the
// next logged step reports it, naming it; under skip every step waits, and
// the run gives up after ten skipped steps.
func TestNonFiniteOnGPU(t *testing.T) {
	needGPU(t)
	policies := []string{"stop", "skip"}
	if testing.Short() { // skip waits on every step, as it did before the device guard
		policies = policies[:1]
	}
	for _, policy := range policies {
		cfg := tinyConfig(t, "on_nonfinite="+policy, "device=cuda", "log_interval=4", "eval_interval=0",
			"checkpoint_interval=0")
		r, err := newRun(cfg, Options{OutDir: t.TempDir(), Log: io.Discard}, "cuda")
		if err != nil {
			t.Fatal(err)
		}
		fc := r.params.Get("h.0.mlp.c_fc.weight")
		keep := fc.Data[0]
		fc.Data[0] = float32(math.NaN())
		dev := r.gpu.(*deviceRun)
		if err := dev.dt.UploadWeights(); err != nil {
			t.Fatal(err)
		}
		fc.Data[0] = keep // the host copy stays finite: only the device's is poisoned
		_, err = r.loop(context.Background())
		steps := dev.steps
		r.close()
		want := map[string]string{"stop": "step 4: the gradient norm of step 1 was not finite", "skip": "10 steps skipped"}[policy]
		var ne *NonFiniteError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), want) {
			t.Errorf("on_nonfinite %s: %v, want a NonFiniteError containing %q", policy, err, want)
		}
		if policy == "stop" && steps != 4 {
			t.Errorf("on_nonfinite stop: %d steps run, want 4 (up to the first logged step)", steps)
		}
		if policy == "stop" && (r.state.Step != 0 || r.state.TokensSeen != 0) {
			t.Errorf("on_nonfinite stop: the state counts %d steps, %d tokens; want none, as every step was refused", r.state.Step, r.state.TokensSeen)
		}
	}
}

// A finetune on the GPU waits for the device only on the steps that log:
// a non-finite gradient before then is refused on the device and reported
// by the next logging step, naming the step it happened at.
func TestFinetuneNonFiniteOnGPU(t *testing.T) {
	needGPU(t)
	dir := t.TempDir()
	cfg := graph.Config{Arch: "gpt1", VocabSize: len(synthChars), NCtx: 32, NEmbd: 32, NHead: 2, NLayer: 1, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	// A finite weight the forward overflows (a NaN one is refused when the
	// model loads): step 1's gradient norm is not finite.
	p.Get("h.0.mlp.c_fc.weight").Data[0] = math.MaxFloat32
	model := t.TempDir()
	if err := writeModelDir(model, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf("init_from: %s\n", model)+
		fmt.Sprintf("task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}\n",
			writeFile(t, filepath.Join(dir, "c.tsv"), synthTSV(60)))+
		"batch_size: 4\nmax_steps: 6\neval_interval: 3\nlog_interval: 3\ndropout: 0\nhead_dropout: 0\ndevice: cuda\n")
	c, err := LoadFinetune(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Finetune(context.Background(), c, Options{OutDir: filepath.Join(dir, "run"), Log: io.Discard})
	var ne *NonFiniteError
	if want := "step 3: the gradient norm of step 1 was not finite"; !errors.As(err, &ne) || !strings.Contains(err.Error(), want) {
		t.Errorf("finetune from a model with a NaN weight: %v, want a NonFiniteError containing %q", err, want)
	}
	// Its summary names the last step whose update stands, none here.
	if s := readFile(t, filepath.Join(dir, "run", summaryFile)); !strings.Contains(s, `"step": 0,`) {
		t.Errorf("summary after steps 1-2 were refused on the device:\n%s\nwant step 0", s)
	}
	// Under on_nonfinite: skip every step looks at its norm: each is
	// skipped, logged, and the run gives up after maxSkipped of them (with
	// no evaluation before: the outputs overflow there too, which stops
	// any run). Ten steps take a minute on the driver emulator (-short).
	if testing.Short() {
		return
	}
	c, err = LoadFinetune(yaml, []string{"on_nonfinite=skip", "max_steps=20", "eval_interval=100"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "skip")
	_, err = Finetune(context.Background(), c, Options{OutDir: out, Log: io.Discard})
	metrics := readFile(t, filepath.Join(out, metricsName))
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "giving up") || strings.Count(metrics, `"skipped":true`) != maxSkipped {
		t.Errorf("skip on the GPU: %v\nmetrics.jsonl:\n%s", err, metrics)
	}
}

// gptctl eval and predict on the GPU give the CPU's numbers: the loss of a
// language model over a file longer than a batch of windows, its zero-shot
// option scores, and the task
// metrics and every prediction of a finetuned classifier and regressor
// (products in float32 on both devices).
func TestEvalPredictOnGPU(t *testing.T) {
	needGPU(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(8, 9))
	var text strings.Builder
	for range 120 { // 120 words: a few batches of 4 windows of 32 characters
		text.WriteString(randWord(r) + " ")
	}
	model := tinyModelDir(t)
	txt := writeFile(t, filepath.Join(dir, "text.txt"), text.String())
	cpu, err := EvalLM(model, txt, InferOptions{Batch: 4, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := EvalLM(model, txt, InferOptions{Batch: 4, Device: "cuda"})
	if err != nil {
		t.Fatal(err)
	}
	if gpu.Tokens != cpu.Tokens || math.Abs(gpu.Loss-cpu.Loss) > 1e-5*cpu.Loss {
		t.Errorf("eval: gpu %+v, cpu %+v", gpu, cpu)
	}
	// Zero-shot option scores read the logits (the GPU's padded to 64 columns).
	p, _, err := LoadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	var rows []choiceRow
	for i := range 5 {
		row := choiceRow{first: 1 + i}
		for j := range 8 + i {
			row.ids = append(row.ids, int32((i*7+j*3)%len(synthChars)))
		}
		rows = append(rows, row)
	}
	sc, err := scoreRows(p, rows, 12, InferOptions{Batch: 2}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	sg, err := scoreRows(p, rows, 12, InferOptions{Batch: 2}, "cuda")
	if err != nil {
		t.Fatal(err)
	}
	for i := range sc {
		if math.Abs(sc[i]-sg[i]) > 1e-5*max(1, math.Abs(sc[i])) {
			t.Errorf("zero-shot score of row %d: gpu %v, cpu %v", i, sg[i], sc[i])
		}
	}

	tasks := map[string]string{
		"classification": fmt.Sprintf(`task: {type: classification, train: %s, val_fraction: 0.2, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}`,
			writeFile(t, filepath.Join(dir, "c.tsv"), synthTSV(40))),
		"similarity": fmt.Sprintf(`task: {type: similarity, train: %s, columns: {a: s1, b: s2, score: sim}, val_fraction: 0.25}`,
			writeFile(t, filepath.Join(dir, "s.jsonl"), synthPairs(40))),
	}
	for name, task := range tasks {
		if testing.Short() && name != "classification" { // the driver emulator takes minutes per task
			continue
		}
		t.Run(name, func(t *testing.T) {
			yaml := writeFile(t, filepath.Join(t.TempDir(), "f.yaml"), fmt.Sprintf("init_from: %s\n%s\n", model, task)+
				"batch_size: 4\nmax_steps: 6\neval_interval: 0\nlr: 1.0e-3\ndevice: cpu\n")
			cfg, err := LoadFinetune(yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
				t.Fatal(err)
			}
			file := cfg.Task.Train
			metrics := map[string]map[string]any{}
			preds := map[string][]Prediction{}
			for _, device := range []string{"cpu", "cuda"} {
				o := InferOptions{Batch: 16, Device: device} // the last batch is part padding
				if metrics[device], err = EvalTask(out, file, o); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if _, err := PredictTask(out, file, &buf, o); err != nil {
					t.Fatal(err)
				}
				for dec := json.NewDecoder(&buf); dec.More(); {
					var p Prediction
					if err := dec.Decode(&p); err != nil {
						t.Fatal(err)
					}
					preds[device] = append(preds[device], p)
				}
			}
			for k, v := range metrics["cpu"] {
				if f, ok := v.(float64); ok && math.Abs(f-metrics["cuda"][k].(float64)) > 1e-5*max(1, math.Abs(f)) {
					t.Errorf("eval %s: cpu %v, gpu %v", k, f, metrics["cuda"][k])
				}
			}
			if len(preds["cuda"]) != len(preds["cpu"]) || len(preds["cpu"]) < 40 {
				t.Fatalf("%d predictions on the GPU, %d on the CPU", len(preds["cuda"]), len(preds["cpu"]))
			}
			for i, c := range preds["cpu"] {
				g := preds["cuda"][i]
				if g.Line != c.Line || g.Label != c.Label {
					t.Fatalf("prediction %d: gpu %+v, cpu %+v", i, g, c)
				}
				if c.Score != nil && math.Abs(*g.Score-*c.Score) > 1e-5*max(1, math.Abs(*c.Score)) {
					t.Errorf("line %d: score gpu %v, cpu %v", c.Line, *g.Score, *c.Score)
				}
				for _, lp := range c.Probabilities {
					if l, p := lp.Label, lp.P; math.Abs(g.Probabilities.Of(l)-p) > 1e-5 {
						t.Errorf("line %d: P(%s) gpu %v, cpu %v", c.Line, l, g.Probabilities.Of(l), p)
					}
				}
			}
		})
	}
}

// grad_accum on the GPU: a step's micro-batches fill the one graph in
// turn, and the log window sums their mean losses; the run follows the
// CPU's, metrics lines and weights.
func TestFinetuneGradAccumOnGPU(t *testing.T) {
	needGPU(t)
	dir := t.TempDir()
	yaml := writeFile(t, filepath.Join(dir, "f.yaml"), fmt.Sprintf(`init_from: %s
task: {type: classification, train: %s, val: %s, header: true, columns: {text: sentence, label: label}, labels: [neg, pos]}
batch_size: 3
grad_accum: 2
max_steps: 3
log_interval: 2
dropout: 0
head_dropout: 0
lr: 1.0e-3
tf32: false
`, tinyModelDir(t), writeFile(t, filepath.Join(dir, "train.tsv"), sameWidthTSV(10, 1)), writeFile(t, filepath.Join(dir, "val.tsv"), sameWidthTSV(6, 2))))
	outs := map[string]string{}
	for _, device := range []string{"cpu", "cuda"} {
		cfg, err := LoadFinetune(yaml, []string{"device=" + device})
		if err != nil {
			t.Fatal(err)
		}
		outs[device] = filepath.Join(dir, device)
		if _, err := Finetune(context.Background(), cfg, Options{OutDir: outs[device], Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
	}
	metricsClose(t, filepath.Join(outs["cuda"], metricsName), filepath.Join(outs["cpu"], metricsName), 1e-4)
	for _, f := range []string{"model.safetensors", "head.safetensors"} {
		tensorsClose(t, "gpu vs cpu with grad_accum 2: "+f, filepath.Join(outs["cuda"], "checkpoint", f), filepath.Join(outs["cpu"], "checkpoint", f), 1e-4, nil)
	}
}

// A GPU that runs out of memory, at any allocation of a run's setup, first
// step or evaluation, ends the job with one error that matches
// graph.ErrDeviceMemory, is a ConfigError (exit status 2) and names the
// settings to lower; no panic. Only the driver emulator can be made to run
// out (CUDA_EMU_ALLOCS, scripts/cuda-emu/driver.cpp): a real GPU skips.
func TestOutOfMemoryOnGPU(t *testing.T) {
	needGPU(t)
	if desc, _ := graph.ProbeCUDA(); !strings.Contains(desc, "emulator") {
		t.Skipf("%s: only the driver emulator runs out of memory on demand", desc)
	}
	t.Cleanup(func() { t.Setenv("CUDA_EMU_ALLOCS", "") })
	oom := func(t *testing.T, err error, want string) {
		t.Helper()
		var ce *ConfigError
		if !errors.Is(err, graph.ErrDeviceMemory) || !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v; want a ConfigError matching graph.ErrDeviceMemory that names %s", err, want)
		}
	}
	cfg := tinyConfig(t, "device=cuda", "max_steps=2", "eval_interval=2", "eval_batches=1", "checkpoint_interval=0")
	failed, last := 0, ""
	for i, n := range []int{0, 3, 10, 25, 45, 60, 70, 75, 80, 90, 120, 1 << 30} {
		t.Setenv("CUDA_EMU_ALLOCS", fmt.Sprintf("%d:%d", n, i))
		dir := t.TempDir()
		_, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard})
		if err == nil {
			last = dir
			continue
		}
		failed++
		oom(t, err, "batch_size")
	}
	if failed < 3 || last == "" {
		t.Fatalf("%d runs failed, the last succeeded: %v; want several failures at different points and a run with memory to spare", failed, last != "")
	}
	text := filepath.Join(t.TempDir(), "text.txt")
	writeFile(t, text, strings.Repeat("the cat sat on the mat. ", 8))
	for i, n := range []int{0, 2, 5} {
		t.Setenv("CUDA_EMU_ALLOCS", fmt.Sprintf("%d:eval%d", n, i))
		_, err := EvalLM(filepath.Join(last, "checkpoint"), text, InferOptions{Device: "cuda", Batch: 2})
		oom(t, err, "--batch-size")
	}
	t.Setenv("CUDA_EMU_ALLOCS", "")
	if _, err := EvalLM(filepath.Join(last, "checkpoint"), text, InferOptions{Device: "cuda", Batch: 2}); err != nil {
		t.Fatalf("eval with memory to spare: %v", err)
	}
}

// TestGenerateOnGPU: generate on the GPU prints the CPU's text, greedy and
// sampled, several samples two at a time, past the context (n_ctx 32: a
// 4-token prompt and 32 new tokens), with stop strings and JSON, from a
// post-LN model and a pre-LN one whose every weight is moved off its
// initial value; a GPU out of memory gets the advice to lower --batch-size,
// at allocations all through the decoder's setup and first steps.
func TestGenerateOnGPU(t *testing.T) {
	needGPU(t)
	pre := t.TempDir()
	cfg := graph.Config{Arch: "gpt2", VocabSize: len(synthChars), NCtx: 32, NEmbd: 32, NHead: 2, NLayer: 2, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, graph.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	perturb(p, 6)
	if err := writeModelDir(pre, p, data.NewCharTokenizer(synthChars)); err != nil {
		t.Fatal(err)
	}
	model := tinyModelDir(t) // post-LN, as initialised
	for _, m := range []string{model, pre} {
		testGenerateOnGPU(t, m)
	}
	if desc, _ := graph.ProbeCUDA(); !strings.Contains(desc, "emulator") {
		return // only the driver emulator runs out of memory on demand
	}
	o := GenerateOptions{Prompt: "the ", MaxNewTokens: 5, TopP: 1, NumSamples: 2, BatchSize: 2, Device: "cuda"}
	for i, n := range []int{0, 4, 15, 22} {
		t.Setenv("CUDA_EMU_ALLOCS", fmt.Sprintf("%d:generate%d", n, i))
		err := Generate(model, o, io.Discard)
		var ce *ConfigError
		if !errors.Is(err, graph.ErrDeviceMemory) || !errors.As(err, &ce) || !strings.Contains(err.Error(), "--batch-size (2)") {
			t.Errorf("%d allocations: %v; want a ConfigError matching graph.ErrDeviceMemory that names --batch-size (2)", n, err)
		}
	}
	t.Setenv("CUDA_EMU_ALLOCS", "0:generate-one")
	o.BatchSize = 1
	if err := Generate(model, o, io.Discard); err == nil || strings.Contains(err.Error(), "--batch-size") || !strings.Contains(err.Error(), "use --device cpu") {
		t.Errorf("out of memory with one slot: %v; want the advice to use --device cpu alone", err)
	}
}

func testGenerateOnGPU(t *testing.T, model string) {
	t.Helper()
	for _, o := range []GenerateOptions{
		{Prompt: "the ", MaxNewTokens: 32, Temperature: 0.8, TopP: 1, Seed: 3, NumSamples: 3, BatchSize: 2},
		{Prompt: "a", MaxNewTokens: 8, TopP: 1, Seed: 1, NumSamples: 1, BatchSize: 8},
		{MaxNewTokens: 12, Temperature: 1, TopK: 5, TopP: 0.9, Seed: 7, NumSamples: 3, BatchSize: 3, Stop: []string{"e"}, JSON: true},
	} {
		var cpu, gpu bytes.Buffer
		o.Device = "cpu"
		if err := Generate(model, o, &cpu); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		o.Device, o.Log = "cuda", &log
		if err := Generate(model, o, &gpu); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(log.String(), "device: cuda") {
			t.Fatalf("generate --device cuda logged %q", log.String())
		}
		if gpu.String() != cpu.String() {
			t.Errorf("%s %+v:\ngpu %q\ncpu %q", model, o, gpu.String(), cpu.String())
		}
	}
}
