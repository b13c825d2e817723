//go:build cuda

// The device layer of the cuda build: one GPU, its primary context and one
// stream, the kernels of kernels/*.cu loaded from PTX embedded in the binary,
// device buffers, and a launcher per kernel (the *_cuda.go files), each the
// twin of a CPU function in this package.
//
// The driver is reached through gorgonia.org/cu (cuda_driver.go), cuBLAS is
// loaded at run time (cuda_cublas.go), and the PTX is embedded, so the
// build needs the CUDA headers cu compiles against but not nvcc.

package kernels

import (
	"embed"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gorgonia.org/cu"
)

// CUDA reports whether this build can run kernels on an NVIDIA GPU.
const CUDA = true

// The PTX of every kernels/*.cu file, from `make kernels` (committed, so a
// cuda build needs no nvcc).
//
//go:embed *_compute80.ptx *_compute90.ptx
var ptxFiles embed.FS

// Device is one GPU with its primary context, one stream and the loaded
// kernels. Launchers queue work on the stream and return; Download and Sync
// wait for it. A Device is used by one goroutine at a time.
type Device struct {
	Name         string
	Major, Minor int   // compute capability
	SMs          int   // multiprocessors
	L2Bytes      int   // L2 cache size
	Memory       int64 // bytes
	Driver       int   // CUDA version of the driver, 13000 for 13.0
	PTX          int   // 80 or 90: which PTX was loaded
	JIT          time.Duration
	BLAS         string // which GEMM the Linear launchers use

	stream  cu.Stream
	kernels map[string]*kernel
	blas    *cublas
	scratch Buffer
	// ownAttention sends attention's products to gemm.cu even when cuBLAS
	// is loaded (the twin tests check both paths).
	ownAttention bool
	bf16         bool      // cuBLAS products on bfloat16 copies (SetBF16)
	tf32         bool      // products may round to TF32 (SetTF32)
	flash        bool      // attention through flash.cu where it can (SetFlash)
	bfScratch    [2]Buffer // those copies: A's, B's
	dry          *dryRun   // not nil: record launches and touch no device (tests)
}

// kernel is one __global__ function: its parameter types from the PTX and,
// once loaded, its handle.
type kernel struct {
	name   string
	file   string   // the .ptx it is in
	params []string // PTX types: u32, u64, f32
	fn     cu.Function
}

var (
	cudaOnce sync.Once
	cudaDev  *Device
	cudaErr  error
)

// OpenCUDA opens the first GPU (once per process) and loads the kernels.
// Its error says why no GPU is usable: no driver library, no device, a
// device too old for the PTX, or a driver that cannot compile it.
func OpenCUDA() (*Device, error) {
	cudaOnce.Do(func() { cudaDev, cudaErr = openDevice(0) })
	return cudaDev, cudaErr
}

// ProbeCUDA describes the GPU a cuda build would use, or says why there is
// none (gptctl version; device auto's notice).
func ProbeCUDA() (string, error) {
	d, err := OpenCUDA()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

func openDevice(ordinal int) (*Device, error) {
	if err := driverOpen(); err != nil {
		return nil, err
	}
	d := &Device{}
	if err := driverDevice(d, ordinal); err != nil {
		return nil, err
	}
	if d.Major < 8 {
		return nil, fmt.Errorf("cuda: %s has compute capability %d.%d; the kernels need 8.0 or newer", d.Name, d.Major, d.Minor)
	}
	d.PTX = 80
	if d.Major >= 9 {
		d.PTX = 90
	}
	start := time.Now()
	if err := d.loadKernels(true); err != nil {
		return nil, err
	}
	d.JIT = time.Since(start)
	d.blas, d.BLAS = openCublas(streamHandle(d.stream))
	return d, nil
}

func (d *Device) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %.1f GiB), driver %d.%d, %s", d.Name, d.Major, d.Minor, d.SMs,
		float64(d.Memory)/(1<<30), d.Driver/1000, d.Driver%1000/10, d.BLAS)
}

var entryRE = regexp.MustCompile(`\.entry\s+(\w+)\s*\(([^)]*)\)`)
var paramRE = regexp.MustCompile(`\.param\s+\.(\w+)`)

// loadKernels reads the entry points of every embedded PTX file for d.PTX
// and, when load is set, JIT-compiles the modules and looks the kernels up.
func (d *Device) loadKernels(load bool) error {
	names, err := ptxFiles.ReadDir(".")
	if err != nil {
		return err
	}
	d.kernels = map[string]*kernel{}
	suffix := fmt.Sprintf("_compute%d.ptx", d.PTX)
	for _, e := range names {
		if !strings.HasSuffix(e.Name(), suffix) {
			continue
		}
		text, err := ptxFiles.ReadFile(e.Name())
		if err != nil {
			return err
		}
		var mod cu.Module
		if load {
			if mod, err = moduleLoad(string(text)); err != nil {
				return fmt.Errorf("load %s: %w", e.Name(), err)
			}
		}
		for _, m := range entryRE.FindAllStringSubmatch(string(text), -1) {
			k := &kernel{name: m[1], file: e.Name()}
			for _, p := range paramRE.FindAllStringSubmatch(m[2], -1) {
				k.params = append(k.params, p[1])
			}
			if load {
				if k.fn, err = moduleFunction(mod, k.name); err != nil {
					return err
				}
			}
			d.kernels[k.name] = k
		}
	}
	if len(d.kernels) == 0 {
		return fmt.Errorf("cuda: no kernels in the embedded %s files (run make kernels)", suffix)
	}
	return nil
}

// Kernels lists the loaded kernels by name.
func (d *Device) Kernels() []string {
	names := make([]string, 0, len(d.kernels))
	for n := range d.kernels {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// launch checks args against the kernel's PTX parameters and queues it.
// Arguments: Buffer (a pointer; the zero Buffer is NULL), int, int64,
// uint64, float32, float64.
func (d *Device) launch(name string, grid, block dim3, shmem int, args ...any) error {
	k := d.kernels[name]
	if k == nil {
		return fmt.Errorf("cuda: no kernel %s in the embedded PTX (run make kernels)", name)
	}
	if len(args) != len(k.params) {
		return fmt.Errorf("cuda: %s takes %d parameters, launched with %d", name, len(k.params), len(args))
	}
	slots := make([]uint64, len(args))
	for i, a := range args {
		v, ok := argSlot(a, k.params[i])
		if !ok {
			return fmt.Errorf("cuda: %s parameter %d is .%s, launched with %T %v", name, i, k.params[i], a, a)
		}
		slots[i] = v
	}
	if err := checkDims(name, grid, block, shmem); err != nil {
		return err
	}
	if d.dry != nil {
		d.dry.launches = append(d.dry.launches, name)
		return nil
	}
	return driverLaunch(k.fn, grid, block, shmem, d.stream, slots)
}

// argSlot encodes one parameter in an 8-byte slot (little-endian, so a
// 4-byte parameter reads the low half).
func argSlot(a any, ptx string) (uint64, bool) {
	switch v := a.(type) {
	case Buffer:
		return v.ptr, ptx == "u64"
	case int:
		return uint64(int64(v)), ptx == "u64" || ptx == "s64" || ((ptx == "u32" || ptx == "s32") && v == int(int32(v)))
	case int64:
		return uint64(v), ptx == "u64" || ptx == "s64"
	case uint64:
		return v, ptx == "u64"
	case float32:
		return uint64(math.Float32bits(v)), ptx == "f32"
	case float64:
		return math.Float64bits(v), ptx == "f64"
	}
	return 0, false
}

// maxGridYZ is the most blocks a grid takes along y and along z.
const maxGridYZ = 65535

func checkDims(name string, grid, block dim3, shmem int) error {
	threads := block.x * block.y * block.z
	switch {
	case grid.x < 1 || grid.y < 1 || grid.z < 1 || block.x < 1 || block.y < 1 || block.z < 1:
		return fmt.Errorf("cuda: %s: empty launch grid %v block %v", name, grid, block)
	case threads > 1024 || grid.x > math.MaxInt32 || grid.y > maxGridYZ || grid.z > maxGridYZ:
		return fmt.Errorf("cuda: %s: launch grid %v block %v is over the limits", name, grid, block)
	case shmem > 48<<10:
		return fmt.Errorf("cuda: %s: %d bytes of shared memory, over 48 KiB", name, shmem)
	}
	return nil
}

// grid1 is the launch size of a grid-stride loop over n elements.
func (d *Device) grid1(n int, threads int) dim3 {
	return dim3{max(1, min((n+threads-1)/threads, 16*max(d.SMs, 1))), 1, 1}
}

// Sync waits for the work queued on the device's stream and returns the
// first error of a kernel that failed.
func (d *Device) Sync() error {
	if d.dry != nil {
		return nil
	}
	return driverSync(d.stream)
}

// Timer starts timing the stream; the function returned stops it and
// returns the milliseconds between.
func (d *Device) Timer() (func() (float64, error), error) {
	if d.dry != nil {
		return func() (float64, error) { return 0, nil }, nil
	}
	return driverTimer(d.stream)
}

// MemInfo returns the free and total device memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) {
	if d.dry != nil {
		return d.Memory, d.Memory, nil
	}
	return driverMemInfo()
}

// dryRun stands in for a device in tests on machines without a GPU: it
// checks every launch against the PTX and records it.
type dryRun struct {
	next     uint64
	launches []string
}

// NewDryRunDevice returns a Device that runs nothing: it checks every
// launch against the signatures of the compute_<ptx> kernels (80 or 90)
// and hands out fake memory (downloads leave their destination alone), so
// that a caller's launches (the device executor's) are checked on a
// machine without a GPU.
func NewDryRunDevice(ptx int) (*Device, error) { return newDryDevice(ptx) }

// newDryDevice returns a Device that loads the PTX signatures for ptx (80
// or 90) and checks launches without running them.
func newDryDevice(ptx int) (*Device, error) {
	d := &Device{Name: "dry run", Major: ptx / 10, SMs: 132, Memory: 1 << 40, PTX: ptx,
		BLAS: "own GEMM kernel (dry run)", dry: &dryRun{next: 1 << 32}}
	return d, d.loadKernels(false)
}
