//go:build cuda

// Every CUDA kernel against its CPU twin on the same random inputs, with
// the largest difference printed. The same cases run twice: on a dry-run
// device (no GPU: every launch is checked against the kernel's PTX
// signature, for the compute_80 and compute_90 PTX, and every kernel must
// be launched by some case), and on the GPU when one is usable, where the
// results are compared.

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"
)

// gpuShapes are the sizes the twins run at: odd sizes that leave partial
// tiles and warps, and GPT-2 small's (with a shorter context).
var gpuShapes = []struct {
	name           string
	b, t, c, nHead int
	v              int
}{
	{"odd", 2, 70, 96, 3, 1001},
	{"gpt2", 4, 256, 768, 12, 50257},
}

func TestCUDADry(t *testing.T) {
	for _, ptx := range []int{80, 90} {
		d, err := newDryDevice(ptx)
		if err != nil {
			t.Fatal(err)
		}
		g := &gpuHarness{t: t, d: d}
		for _, s := range gpuShapes {
			g.all(s.b, s.t, s.c, s.nHead, s.v)
		}
		launched := map[string]bool{}
		for _, n := range d.dry.launches {
			launched[n] = true
		}
		for _, k := range d.Kernels() {
			if !launched[k] {
				t.Errorf("compute_%d: kernel %s (%s) has no launcher or no test", ptx, k, d.kernels[k].file)
			}
		}
		t.Logf("compute_%d: %d kernels, %d launches checked against their PTX signatures", ptx, len(d.kernels), len(d.dry.launches))
	}
}

func TestCUDAProbe(t *testing.T) {
	desc, err := ProbeCUDA()
	if err != nil {
		t.Logf("no usable GPU, a cuda build falls back to the CPU: %v", err)
		return
	}
	t.Logf("device: %s", desc)
	d, _ := OpenCUDA()
	t.Logf("PTX compute_%d, %d kernels loaded in %v", d.PTX, len(d.kernels), d.JIT)
}

func TestCUDATwins(t *testing.T) {
	d, err := OpenCUDA()
	if err != nil {
		t.Skipf("no usable GPU (%v): the CUDA kernels were checked against their PTX only (TestCUDADry)", err)
	}
	t.Logf("device: %s", d)
	for _, s := range gpuShapes {
		t.Run(s.name, func(t *testing.T) {
			g := &gpuHarness{t: t, d: d}
			defer g.free()
			g.all(s.b, s.t, s.c, s.nHead, s.v)
		})
	}
}

// gpuHarness runs one case on a device and compares it with the CPU twin
// (no comparison on a dry-run device).
type gpuHarness struct {
	t    *testing.T
	d    *Device
	bufs []Buffer
	rng  *rand.Rand
}

func (g *gpuHarness) real() bool { return g.d.dry == nil }

func (g *gpuHarness) must(err error) {
	g.t.Helper()
	if err != nil {
		g.t.Fatal(err)
	}
}

func (g *gpuHarness) alloc(n int) Buffer {
	g.t.Helper()
	b, err := g.d.Alloc(n)
	g.must(err)
	g.bufs = append(g.bufs, b)
	return b
}

func (g *gpuHarness) up(x []float32) Buffer {
	g.t.Helper()
	b := g.alloc(len(x))
	g.must(g.d.Upload(b, x))
	return b
}

func (g *gpuHarness) upInt(x []int32) Buffer {
	g.t.Helper()
	b := g.alloc(len(x))
	g.must(g.d.UploadInt32(b, x))
	return b
}

func (g *gpuHarness) down(b Buffer, n int) []float32 {
	g.t.Helper()
	out := make([]float32, n)
	g.must(g.d.Download(out, b))
	return out
}

func (g *gpuHarness) free() {
	for _, b := range g.bufs {
		g.d.Free(b)
	}
	g.bufs = nil
}

// timed runs f on the device and returns the milliseconds its work took.
func (g *gpuHarness) timed(f func() error) float64 {
	g.t.Helper()
	stop, err := g.d.Timer()
	g.must(err)
	g.must(f())
	ms, err := stop()
	g.must(err)
	return ms
}

// compare checks |got-want| <= atol + rtol*|want| elementwise and logs the
// largest difference.
func (g *gpuHarness) compare(name string, ms float64, got, want []float32, atol, rtol float64) {
	g.t.Helper()
	if !g.real() {
		return
	}
	var maxDiff, maxRef float64
	bad := -1
	for i := range want {
		w, x := float64(want[i]), float64(got[i])
		diff := math.Abs(x - w)
		if math.IsNaN(x) != math.IsNaN(w) {
			diff = math.Inf(1)
		}
		maxDiff, maxRef = max(maxDiff, diff), max(maxRef, math.Abs(w))
		if bad < 0 && diff > atol+rtol*math.Abs(w) {
			bad = i
		}
	}
	line := fmt.Sprintf("%-28s n=%-9d maxdiff %.3g (max |ref| %.3g) gpu %.3f ms", name, len(want), maxDiff, maxRef, ms)
	if bad >= 0 {
		g.t.Errorf("%s: FAIL at %d: gpu %g, cpu %g (atol %g rtol %g)", line, bad, got[bad], want[bad], atol, rtol)
		return
	}
	g.t.Log(line)
	if os.Getenv("GPTCTL_GPU_LOG") != "" {
		fmt.Println("twin", g.t.Name(), line)
	}
}

// randn returns n random values (zeros on a dry-run device, where no
// result is compared).
func (g *gpuHarness) randn(n int, scale float32) []float32 {
	if !g.real() {
		return make([]float32, n)
	}
	return testRand(g.rng, n, scale)
}

// cpu runs a CPU twin, only where its result is compared.
func (g *gpuHarness) cpu(f func()) {
	if g.real() {
		f()
	}
}

// TestCUDALayout checks the kernel list against the .cu files: every kernel
// of the compute_80 PTX is in the compute_90 PTX too.
func TestCUDALayout(t *testing.T) {
	var names [2][]string
	for i, ptx := range []int{80, 90} {
		d, err := newDryDevice(ptx)
		if err != nil {
			t.Fatal(err)
		}
		names[i] = d.Kernels()
		sort.Strings(names[i])
	}
	if fmt.Sprint(names[0]) != fmt.Sprint(names[1]) {
		t.Fatalf("compute_80 and compute_90 PTX differ:\n%v\n%v", names[0], names[1])
	}
}

// BenchmarkCUDALaunch is the host's cost of queueing one small kernel:
// the launcher's checks, the goroutine locked to its thread with the
// context made current (onDevice), and cuLaunchKernel through cu. When it is
// below a kernel's device time the host keeps ahead of the GPU.
func BenchmarkCUDALaunch(b *testing.B) {
	d, err := OpenCUDA()
	if err != nil {
		b.Skipf("no usable GPU: %v", err)
	}
	x, err := d.Alloc(256)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Free(x)
	if err := d.Zero(x); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := d.ScaleConst(x, x, 1, 256); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCUDABind is onDevice's share of that: the thread lock and
// cuCtxSetCurrent every driver call pays.
func BenchmarkCUDABind(b *testing.B) {
	if _, err := OpenCUDA(); err != nil {
		b.Skipf("no usable GPU: %v", err)
	}
	for b.Loop() {
		if err := onDevice(func() error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// The attention launchers refuse a width that the heads do not divide
// with an error (the CPU graph refuses it first; a direct caller of the
// device gets an error, not a panic).
func TestCUDAAttentionHeadsRefused(t *testing.T) {
	d, err := newDryDevice(90)
	if err != nil {
		t.Fatal(err)
	}
	buf := func(n int) Buffer {
		b, err := d.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, tt, c, nHead := 1, 2, 100, 3
	qkv, out, att := buf(b*tt*3*c), buf(b*tt*c), buf(b*nHead*tt*tt)
	lse := buf(b * nHead * tt)
	for name, call := range map[string]func() error{
		"attention":          func() error { return d.AttentionForward(out, att, qkv, b, tt, c, nHead, Buffer{}) },
		"attention backward": func() error { return d.AttentionBackward(qkv, out, qkv, att, b, tt, c, nHead, Buffer{}) },
		"flash attention":    func() error { return d.FlashAttentionForward(out, out, lse, qkv, b, tt, c, nHead, 0, 1) },
		"flash attention backward": func() error {
			return d.FlashAttentionBackward(qkv, out, qkv, out, lse, b, tt, c, nHead, 0, 1)
		},
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "not divisible by nHead=3") {
			t.Errorf("%s of c=100 in 3 heads: %v", name, err)
		}
	}
}
