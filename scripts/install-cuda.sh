#!/usr/bin/env bash
# Install the CUDA 11.8 toolkit (nvcc, ptxas, cuda.h, cuBLAS) from Debian
# bookworm's contrib and non-free components, as CI does before `make kernels` and
# `make build-cuda`. Idempotent and quiet: it does nothing when nvcc is there,
# and adds non-free to the apt sources only once. Run as root (or with sudo).
#
#   scripts/install-cuda.sh            install if missing
#   NVCC=/path/to/nvcc scripts/...     treat that nvcc as already installed
set -euo pipefail

if command -v "${NVCC:-nvcc}" >/dev/null 2>&1; then
	release=$("${NVCC:-nvcc}" --version | sed -n 's/^Cuda compilation tools, release \([0-9.]*\),.*/\1/p')
	echo "install-cuda: CUDA ${release:-of unknown release} already installed (${NVCC:-nvcc})"
	case "$release" in
	11.8) ;;
	"" | [0-9].* | 10.* | 11.[0-7]) echo "install-cuda: gptctl's kernels need CUDA 11.8 or later (sm_90 PTX); this nvcc is ${release:-of unknown release}" >&2; exit 1 ;;
	*) echo "install-cuda: the committed PTX is of CUDA 11.8; make kernels with this nvcc writes other PTX text" ;;
	esac
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

# nvidia-cuda-toolkit and nvidia-cuda-dev are in non-free; nvidia-cuda-dev
# depends on the driver's libcuda1, which needs nvidia-support from contrib.
# Debian 12 keeps its sources in deb822 form; older images in sources.list.
add_components() { # file, pattern of the lines to extend
	for comp in contrib non-free; do
		$sudo sed -i -E "/$2/{/[[:space:]]$comp([[:space:]]|\$)/!s/\$/ $comp/}" "$1"
	done
}
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	add_components /etc/apt/sources.list.d/debian.sources '^Components:'
elif [ -f /etc/apt/sources.list ]; then
	add_components /etc/apt/sources.list '^deb '
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# About 1.6 GB of downloads: nvcc, ptxas, the CUDA headers and libcublas.so.11.
$sudo apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit nvidia-cuda-dev >/dev/null
echo "install-cuda: $(nvcc --version | tail -n 2 | head -n 1)"
