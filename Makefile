# gptctl build, test and benchmark targets.
# OpenBLAS is used when its development files are installed (Debian:
# libopenblas-dev); otherwise the pure-Go BLAS fallback is built.

GO      ?= go
BIN     ?= bin/gptctl
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
HAVE_OPENBLAS := $(shell echo 'int main(void){return 0;}' | $(CC) -x c - -lopenblas -o /dev/null 2>/dev/null && test -e /usr/include/cblas.h -o -e /usr/include/x86_64-linux-gnu/cblas.h -o -e /usr/include/openblas/cblas.h && echo yes)
TAGS    ?= $(if $(HAVE_OPENBLAS),openblas,)
LDFLAGS := -X main.Version=$(VERSION)
NVCC    ?= nvcc

# A recipe that fails leaves no target behind (build/cuda/go.mod half
# written by patch-deps would otherwise count as up to date).
.DELETE_ON_ERROR:

.PHONY: build build-cuda cuda-deps test test-short race test-hf hfjs test-cuda bench fuzz kernels vet fmt data clean gpu-check-build

build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gptctl

# The CUDA build: -tags cuda, the driver through gorgonia.org/cu, built
# against patched copies of cu and gorgonia (patches/, applied by
# scripts/patch-deps into $(CUDA_DEPS), used through -modfile): cu's init
# no longer exits without a GPU, and gorgonia's own CUDA engine (cuDNN
# bindings, which gptctl does not use) stays off under -tags cuda. It needs
# the CUDA headers (cuda.h) and libcuda.so to link, not nvcc: the PTX is
# committed. cuBLAS is loaded at run time.
CUDA_DEPS ?= build/cuda
CUDAMOD    = -modfile=$(CUDA_DEPS)/go.mod
CUDAFLAGS  = $(CUDAMOD) -tags '$(TAGS) cuda'

cuda-deps: $(CUDA_DEPS)/go.mod
$(CUDA_DEPS)/go.mod: go.mod go.sum scripts/patch-deps $(shell find patches -name '*.patch')
	GO=$(GO) scripts/patch-deps $(CUDA_DEPS)

build-cuda: cuda-deps
	$(GO) build $(CUDAFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gptctl

# The full suite, as CI runs it, then what depends on int's width under a
# 32-bit build: token shards over 2 GiB, the kernels' splits of large tensors
# (scripts/test-386: natively, or under qemu-i386).
test: vet
	$(GO) test -tags '$(TAGS)' -count=1 ./...
	GO=$(GO) scripts/test-386

test-short:
	$(GO) test -tags '$(TAGS)' -short -count=1 ./...

# The suite under the race detector (CI runs this): the kernels' worker
# goroutines, the data pipeline's readers and the signal handling.
race:
	$(GO) test -race -tags '$(TAGS)' -count=1 ./...

# Hugging Face's own tokenizer code reads the tokenizer.json files gptctl
# writes and encodes as gptctl does (CI runs this): the tokenizers library
# (Rust, through its Node binding) and tokenizers.js, its JavaScript port.
# hfjs installs both with npm.
HFJS ?= bin/hfjs
hfjs: $(HFJS)/installed
$(HFJS)/installed:
	mkdir -p $(HFJS)
	npm install --prefix $(HFJS) --no-audit --no-fund --no-save --silent tokenizers@0.23.2 @huggingface/tokenizers@0.2.0
	touch $@
test-hf: hfjs
	GPTCTL_TOKENIZERS_JS=$(abspath $(HFJS)) $(GO) test -tags '$(TAGS)' -count=1 -run 'TokenizerJSONInHuggingFace' -v ./data

# The CUDA build's tests. Without a GPU the kernels are checked against their
# PTX signatures, and (where g++ has C++20) run on a CPU emulator of the
# driver (scripts/cuda-emu): every kernel against its CPU twin at the small
# test shape, the device executor against the CPU Machine, the reference
# vectors, and pretraining, finetuning (every task type) and sampling on the
# "GPU" against the CPU's. On 2 cores the emulated kernels take about 20 s
# and graph and train about a minute; the twins at GPT-2's shape
# (CUDATwins/gpt2, 4 minutes) are left to a real GPU (scripts/gpu-check).
test-cuda: cuda-deps
	$(GO) vet $(CUDAFLAGS) ./kernels ./graph ./cmd/gptctl ./train
	$(GO) test $(CUDAFLAGS) -count=1 ./kernels ./graph ./train
	@if echo 'int main() {}' | $${CXX:-g++} -std=c++20 -x c++ - -o /dev/null 2>/dev/null; then \
	  scripts/cuda-emu/build.sh bin/cuda-emu >/dev/null || { echo "test-cuda: the driver emulator did not build"; exit 1; }; \
	  LD_LIBRARY_PATH=$(CURDIR)/bin/cuda-emu GPTCTL_CUBLAS=off \
	    $(GO) test $(CUDAFLAGS) -count=1 -run 'CUDA' -skip 'CUDATwins/gpt2' -v ./kernels >bin/cuda-emu/twins.log 2>&1; \
	  rc=$$?; grep -E 'maxdiff|FAIL|^ok|device' bin/cuda-emu/twins.log; [ $$rc -eq 0 ] || exit $$rc; \
	  LD_LIBRARY_PATH=$(CURDIR)/bin/cuda-emu GPTCTL_CUBLAS=off \
	    $(GO) test $(CUDAFLAGS) -count=1 -timeout 15m -run 'Device|OnGPU' -v ./graph ./train >bin/cuda-emu/executor.log 2>&1; \
	  rc=$$?; grep -E '^(--- |ok|FAIL)|val loss|max weight' bin/cuda-emu/executor.log; exit $$rc; \
	else echo "test-cuda: no C++20 compiler, the emulated twin run is skipped"; fi

# Prebuilt binaries for a GPU machine without Go: carry $(GPU_CHECK_DIR) (or,
# where a copy is size-limited, $(GPU_CHECK_DIR).tgz) there and run its
# gpu-check script (scripts/gpu-check). No openblas tag: that
# machine may not have libopenblas.
GPU_CHECK_DIR ?= bin/gpu-check
gpu-check-build: cuda-deps
	rm -rf $(GPU_CHECK_DIR) && mkdir -p $(GPU_CHECK_DIR)
	$(GO) build $(CUDAMOD) -tags cuda -trimpath -ldflags '$(LDFLAGS) -s -w' -o $(GPU_CHECK_DIR)/gptctl ./cmd/gptctl
	$(GO) test -c $(CUDAMOD) -tags cuda -trimpath -ldflags '-s -w' -o $(GPU_CHECK_DIR)/kernels.test ./kernels
	$(GO) test -c $(CUDAMOD) -tags cuda -trimpath -ldflags '-s -w' -o $(GPU_CHECK_DIR)/graph.test ./graph
	$(GO) test -c $(CUDAMOD) -tags cuda -trimpath -ldflags '-s -w' -o $(GPU_CHECK_DIR)/train.test ./train
	cp scripts/gpu-check scripts/gpu-torch-bench.py $(GPU_CHECK_DIR)/
	@if [ -f ../shared/bench/torch_ref.py ]; then cp ../shared/bench/torch_ref.py $(GPU_CHECK_DIR)/; fi
	cp configs/bench-gpt2-124m.yaml configs/bench-gpt1.yaml configs/shakespeare-char.yaml configs/shakespeare-char-gpu.yaml $(GPU_CHECK_DIR)/
	@if [ -f ../shared/data/pretrain/tinyshakespeare.txt ]; then cp ../shared/data/pretrain/tinyshakespeare.txt $(GPU_CHECK_DIR)/; fi
	@if [ -d ../shared/reference ]; then mkdir -p $(GPU_CHECK_DIR)/reference && \
	  cp -r ../shared/reference/gpt1-tiny ../shared/reference/gpt2-tiny ../shared/reference/README.md $(GPU_CHECK_DIR)/reference/; fi
	mkdir -p $(GPU_CHECK_DIR)/testdata && cp -r train/testdata/reference $(GPU_CHECK_DIR)/testdata/   # train.test's generated cases
	cp configs/finetune-sst2.yaml $(GPU_CHECK_DIR)/
	@if [ -f runs/pre-tasks/best/model.safetensors ]; then cp -r runs/pre-tasks/best $(GPU_CHECK_DIR)/finetune-init; \
	  else echo "gpu-check-build: no runs/pre-tasks/best, the SST-2 finetune will not run there"; fi
	@if [ -d ../shared/data/tasks/sst2 ]; then mkdir -p $(GPU_CHECK_DIR)/sst2 && \
	  cp ../shared/data/tasks/sst2/train.tsv ../shared/data/tasks/sst2/dev.tsv $(GPU_CHECK_DIR)/sst2/; fi
	tar -C $(dir $(GPU_CHECK_DIR)) -czf $(GPU_CHECK_DIR).tgz $(notdir $(GPU_CHECK_DIR))
	@du -sh $(GPU_CHECK_DIR) $(GPU_CHECK_DIR).tgz

# vet also checks the pure-Go CPU build for Windows and macOS, so the
# binary keeps building there (the platform files: *_unix.go, *_windows.go).
vet:
	$(GO) vet -tags '$(TAGS)' ./...
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./...
	GOARCH=386 CGO_ENABLED=0 $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: the files above need formatting'; exit 1; }

bench:
	$(GO) test -tags '$(TAGS)' -run='^$$' -bench=. -benchmem -benchtime=1x ./kernels ./graph

# Short fuzzing runs of every fuzz target (CI runs this). The budget is a
# count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure ("context deadline
# exceeded", no crasher) when a loaded machine starves a worker at the end.
FUZZTIME ?= 30000x
fuzz:
	@for pkg in ./data ./train; do \
	  list=$$($(GO) test -list '^Fuzz' $$pkg) || { echo "$$list"; exit 1; }; \
	  for f in $$(echo "$$list" | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# PTX for every CUDA kernel (needs nvcc; scripts/install-cuda.sh installs
# CUDA 11.8): kernels/X.cu -> kernels/X_compute80.ptx and X_compute90.ptx,
# which are committed and embedded in cuda builds, so build-cuda needs no
# nvcc. Each PTX is also assembled with ptxas for sm_80 / sm_90, with spills
# as errors, to catch register and shared-memory overflows. CI checks that
# the committed PTX is current: make kernels && git diff --exit-code kernels.
PTXAS      ?= ptxas
NVCCFLAGS  ?= -O3 -std=c++14
PTXASFLAGS ?= --warn-on-spills --warning-as-error
kernels:
	@for f in kernels/*.cu; do [ -e "$$f" ] || continue; \
	  for arch in 80 90; do out=$${f%.cu}_compute$$arch.ptx; \
	    $(NVCC) $(NVCCFLAGS) -ptx -arch=compute_$$arch -o $$out $$f || exit 1; \
	    $(PTXAS) $(PTXASFLAGS) -arch=sm_$$arch -o /dev/null $$out || { echo "ptxas sm_$$arch: $$out"; exit 1; }; \
	  done; echo "kernels: $$f -> compute_80, compute_90 PTX (ptxas sm_80, sm_90 ok)"; done

# Regenerate the built-in corpus.
data:
	$(GO) generate ./data

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin build
