#!/usr/bin/env python3
"""CPU training speed, gptctl bench against PyTorch on the benchmark shapes.

For each configs/bench-*.yaml named, runs the PyTorch command its header
gives (../shared/bench/torch_ref.py, the same shape) and `gptctl bench` on the
config, alternated: torch 1 thread, gptctl 1 thread, torch 2 threads, gptctl
2 threads, repeated --reps times; then prints the medians of tokens/s and of
the peak RSS, one JSON line per shape.

Both sides get the same OpenBLAS kernels, and PyTorch glibc's malloc on
transparent huge pages: see benchenv.py. Run from the repository root after `make build`:

  /usr/bin/python3 scripts/cpu-torch-bench.py configs/bench-small.yaml configs/bench-medium.yaml
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

from benchenv import TORCH_MALLOC, blas_env


def torch_command(config):
    """The torch_ref.py command in config's header comment, as a list."""
    with open(config, encoding="utf-8") as f:
        for line in f:
            if "torch_ref.py" in line:
                return shlex.split(line.lstrip("# \t"))
    sys.exit(f"{config}: no torch_ref.py command in its header")


def flag(cmd, name):
    """The value of flag name in cmd, or None."""
    return cmd[cmd.index(name) + 1] if name in cmd else None


def with_threads(cmd, threads):
    cmd = list(cmd)
    cmd[cmd.index("--threads") + 1] = str(threads)
    return cmd


def measure(cmd, env):
    """tokens/s and peak RSS (MB) of one run of cmd."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)  # the child's own rusage: its peak RSS
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if status != 0:
        sys.exit(f"{shlex.join(cmd)} failed (wait status {status}):\n{stderr}")
    rss = usage.ru_maxrss / 1024
    if stdout.lstrip().startswith("{"):
        return json.loads(stdout)["tokens_per_s"], rss
    fields = dict(kv.split("=", 1) for kv in stdout.split() if "=" in kv)
    return float(fields["tokens_per_s"]), rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--gptctl", default="bin/gptctl")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--coretype", default="auto", help="OPENBLAS_CORETYPE for both sides; auto: see benchenv.py")
    a = ap.parse_args()
    env = blas_env(a.coretype)
    tenv = dict(env, GLIBC_TUNABLES=TORCH_MALLOC)
    threads = [int(t) for t in a.threads.split(",")]
    for config in a.configs:
        tcmd = torch_command(config)
        if tcmd[0].endswith("python3"):
            tcmd[0] = sys.executable
        gcmd = [a.gptctl, "bench", "-c", config]
        for name in ("--steps", "--warmup"):  # as many steps as PyTorch times
            if flag(tcmd, name) is not None:
                gcmd += [name, flag(tcmd, name)]
        res = {(side, t): [] for side in ("torch", "gptctl") for t in threads}
        for rep in range(a.reps):
            for t in threads:
                for side, cmd, e in (("torch", with_threads(tcmd, t), tenv),
                                     ("gptctl", gcmd + ["--threads", str(t)], env)):
                    tps, rss = measure(cmd, e)
                    res[(side, t)].append((tps, rss))
                    print(f"{config} {side} {t} thread(s), rep {rep + 1}: {tps:.0f} tokens/s, peak RSS {rss:.0f} MB",
                          flush=True)
        out = {"config": config, "reps": a.reps, "openblas_coretype": env.get("OPENBLAS_CORETYPE", "")}
        for (side, t), v in res.items():
            out[f"{side}_t{t}_tokens_per_s"] = round(statistics.median(x for x, _ in v))
            out[f"{side}_t{t}_rss_mb"] = round(statistics.median(r for _, r in v))
        best = max(out[f"torch_t{t}_tokens_per_s"] for t in threads)
        out["ratio"] = round(max(out[f"gptctl_t{t}_tokens_per_s"] for t in threads) / best, 2)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
