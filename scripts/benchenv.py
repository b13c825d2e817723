"""The environment the two sides of a CPU speed comparison run in, shared by
cpu-torch-bench.py and finetune-torch-bench.py.

OpenBLAS's kernels: both sides get the same OPENBLAS_CORETYPE, by default
SkylakeX on a CPU with AVX-512, as gptctl picks by itself, else the
libraries' own choice. One in the environment is replaced: this project's
machines set Haswell, which halves the speed of both.

PyTorch's memory: glibc's malloc on transparent huge pages
(GLIBC_TUNABLES=glibc.malloc.hugetlb=1). PyTorch's steps allocate and free
their activations, gradients and optimizer temporaries, and where page faults
are dear (this project's virtual machines) that alone made it 1.1-4.5x
slower. gptctl keeps its buffers from step to step and is not affected.
"""
import os

TORCH_MALLOC = "glibc.malloc.hugetlb=1"


def avx512():
    """Whether the CPU has the AVX-512 subsets OpenBLAS's SkylakeX kernels use."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return all(x in flags for x in ("avx512f", "avx512vl", "avx512bw", "avx512dq"))


def blas_env(coretype="auto"):
    """A copy of the environment with OPENBLAS_CORETYPE set by coretype:
    a core name, or auto (SkylakeX with AVX-512, else unset), and without
    the caller's BLAS and OpenMP thread counts: each side sets its own from
    --threads (torch_ref.py only where none is set, so an exported
    OPENBLAS_NUM_THREADS=1 would run PyTorch's products on one thread)."""
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(k, None)
    if coretype == "auto" and avx512():
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif coretype != "auto":
        env["OPENBLAS_CORETYPE"] = coretype
    return env
