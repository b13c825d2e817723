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

.PHONY: build build-cuda test test-short test-cuda bench fuzz kernels vet fmt data clean

build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gptctl

build-cuda:
	$(GO) build -tags '$(TAGS) cuda' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gptctl

# The full suite, as CI runs it.
test: vet
	$(GO) test -tags '$(TAGS)' -count=1 ./...

test-short:
	$(GO) test -tags '$(TAGS)' -short -count=1 ./...

test-cuda:
	$(GO) test -tags '$(TAGS) cuda' -count=1 ./kernels ./graph ./train

vet:
	$(GO) vet -tags '$(TAGS)' ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: the files above need formatting'; exit 1; }

bench:
	$(GO) test -tags '$(TAGS)' -run='^$$' -bench=. -benchmem -benchtime=1x ./kernels ./graph

# Short fuzzing runs of every fuzz target (CI runs this).
FUZZTIME ?= 10s
fuzz:
	@for pkg in ./data ./train; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# PTX for every CUDA kernel (needs nvcc).
kernels:
	@for f in kernels/*.cu; do [ -e "$$f" ] || continue; \
	  for arch in 80 90; do $(NVCC) -ptx -arch=compute_$$arch -o $${f%.cu}_sm$$arch.ptx $$f || exit 1; done; done

# Regenerate the built-in corpus.
data:
	$(GO) generate ./data

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
