#!/usr/bin/env bash
# Build a CPU emulator of the CUDA driver that runs kernels/*.cu, for the
# GPU twin tests on a machine without a GPU:
#
#   scripts/cuda-emu/build.sh [OUTDIR]        (default bin/cuda-emu)
#   make cuda-deps
#   LD_LIBRARY_PATH=bin/cuda-emu GPTCTL_CUBLAS=off \
#     go test -modfile=build/cuda/go.mod -tags cuda -run CUDATwins/odd -v ./kernels
#
# OUTDIR/libcuda.so.1 stands in for the driver library. With ASAN=1 it is
# built with AddressSanitizer (run the test binary with
# LD_PRELOAD=$(gcc -print-file-name=libasan.so)) to catch out-of-bounds
# accesses in the kernels.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/bin/cuda-emu}
mkdir -p "$out/src"
cxx=${CXX:-g++}
flags=(-std=c++20 -O1 -g -fPIC -pthread -Wno-unknown-pragmas -I "$root/scripts/cuda-emu" -I "$root/kernels")
if [ "${ASAN:-}" = 1 ]; then
	flags+=(-fsanitize=address -fno-omit-frame-pointer)
fi
objs=()
for cu in "$root"/kernels/*.cu; do
	name=$(basename "$cu" .cu)
	src="$out/src/$name.cpp"
	{
		echo '#include "emu.h"'
		# dynamic shared memory: extern __shared__ T name[]; -> a pointer into the block's buffer
		sed -E 's/extern __shared__ ([A-Za-z_0-9]+) ([A-Za-z_0-9]+)\[\];/\1 *\2 = emu_dynamic_shared<\1>();/' "$cu"
		grep -oE '^(GEMM_KERNEL\(|extern "C" __global__ void (__launch_bounds__\([0-9]+\) )?)[A-Za-z_0-9]+' "$cu" |
			sed -E 's/.*[ (]([A-Za-z_0-9]+)$/EMU_KERNEL(\1)/'
	} >"$src"
	"$cxx" "${flags[@]}" -c "$src" -o "$out/src/$name.o"
	objs+=("$out/src/$name.o")
done
"$cxx" "${flags[@]}" -c "$root/scripts/cuda-emu/driver.cpp" -o "$out/src/driver.o"
"$cxx" "${flags[@]}" -shared -o "$out/libcuda.so.1" "$out/src/driver.o" "${objs[@]}"
echo "cuda-emu: $out/libcuda.so.1 ($(grep -h -c EMU_KERNEL "$out"/src/*.cpp | paste -sd+ | bc) kernels)"
