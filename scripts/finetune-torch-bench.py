#!/usr/bin/env python3
"""Finetuning speed, gptctl against PyTorch, side by side on the CPU.

Both sides finetune the same model (GPT-1 post-LN blocks, a GPT-2 vocabulary
with the three task tokens added, dropout 0.1, head dropout 0.1) on the same
SST-2 rows, <s> text <e> -> a 2-way head on the <e> state, with
L3 = L2 + lambda * L1, AdamW and gradient clipping at 1.0, one thread each
(taskset to one core), alternated: gptctl, PyTorch, gptctl, PyTorch, ...
The same OpenBLAS kernels on both sides, glibc's malloc on huge pages for
PyTorch: see benchenv.py (BENCH_CORETYPE=NAME chooses other kernels).

gptctl: `gptctl finetune` from a one-step pretrained model of that shape; its
summary's tokens_per_s (real tokens over the time spent in training steps).
PyTorch (eager float32, this file): the rows encoded by `gptctl tokenizer
encode`, shuffled, each batch padded as gptctl pads it (to the first of 8, 16,
24, 32, 48, 64, ... that holds its longest row), the LM loss computed on the
positions that have a next token only, as gptctl does (the hidden states of
those positions gathered before the tied head), torch.optim.AdamW with
foreach=True; real tokens over the time of its steps, first step included.
Run it from the repository root, with the Debian python3-torch:

  make build
  /usr/bin/python3 scripts/finetune-torch-bench.py --batch 32 --lam 0.5 --reps 3

It prints one line per run and a JSON line of medians at the end.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchenv import TORCH_MALLOC, blas_env

# The same OpenBLAS kernels for both sides, one OpenBLAS thread, and glibc's
# malloc on huge pages for PyTorch (benchenv.py). The tunable is read when a
# process starts: the script starts itself again with it (blas_env gives the
# same kernels in both processes).
GPTCTL_ENV = blas_env(os.environ.get("BENCH_CORETYPE", "auto"))
if os.environ.get("GLIBC_TUNABLES") != TORCH_MALLOC:
    os.execve(sys.executable, [sys.executable] + sys.argv, dict(GPTCTL_ENV, GLIBC_TUNABLES=TORCH_MALLOC))
GPTCTL_ENV.pop("GLIBC_TUNABLES", None)
for _k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = "1"

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SHARED = os.environ.get("GPTCTL_SHARED", "../shared")
sys.path.insert(0, os.path.join(SHARED, "bench"))
from torch_ref import GPT  # noqa: E402  the shared PyTorch GPT-1/GPT-2 model


def padded_len(width, max_len):
    """gptctl's padded length for a batch whose longest row has width tokens."""
    p = 8
    while True:
        if width <= p:
            return min(p, max_len)
        if p >= 16 and width <= p * 3 // 2:
            return min(p * 3 // 2, max_len)
        p *= 2


def read_rows(path, n):
    """The first n (sentence, label) rows of an SST-2 style TSV with a header."""
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            text, label = line.rstrip("\n").split("\t")
            rows.append((text, label))
            if len(rows) == n:
                break
    return rows


def encode(gptctl, tokenizer, texts):
    """Token ids of each text, by gptctl's own GPT-2 BPE (one call, split at the newline token)."""
    out = subprocess.run([gptctl, "tokenizer", "encode", "--tokenizer", tokenizer],
                         input="\n".join(texts) + "\n", capture_output=True, text=True, check=True).stdout
    ids = [int(t) for t in out.split()]
    nl = int(subprocess.run([gptctl, "tokenizer", "encode", "--tokenizer", tokenizer],
                            input="\n", capture_output=True, text=True, check=True).stdout.split()[0])
    seqs, cur = [], []
    for t in ids:
        if t == nl:
            seqs.append(cur)
            cur = []
        else:
            cur.append(t)
    if len(seqs) != len(texts):
        sys.exit(f"encode: {len(seqs)} sequences for {len(texts)} texts")
    return seqs


class Finetune(nn.Module):
    """The shared GPT with three task tokens and a linear head on the <e> state."""

    def __init__(self, a, vocab):
        super().__init__()
        self.gpt = GPT(vocab + 3, a.ctx, a.layers, a.d, a.heads, a.dropout, post_ln=True)
        self.head_drop = nn.Dropout(a.dropout)
        self.head = nn.Linear(a.d, 2)

    def forward(self, idx, ext, has_next, targets, labels, lam):
        g = self.gpt
        B, T = idx.shape
        x = g.drop(g.wte(idx) + g.wpe(torch.arange(T)))
        for blk in g.blocks:
            x = blk(x)
        h = g.ln_f(x)  # B,T,C (identity for post-LN)
        states = h[torch.arange(B), ext]
        l2 = F.cross_entropy(self.head(self.head_drop(states)), labels)
        if lam == 0:
            return l2
        lm = h[:, :-1][has_next]  # the positions with a next token, M,C
        l1 = F.cross_entropy(lm @ g.wte.weight.t(), targets)
        return l2 + lam * l1


def torch_run(a, seqs, labels, vocab):
    torch.manual_seed(a.seed)
    model = Finetune(a, vocab)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, foreach=True)
    s, e = vocab, vocab + 2  # <s> and <e> (vocab + 1 is $)
    rows = [[s] + q[: a.max_len - 2] + [e] for q in seqs]
    g = torch.Generator().manual_seed(a.seed)
    order = torch.randperm(len(rows), generator=g).tolist()
    tokens, spent, step = 0, 0.0, 0
    while step < a.steps:
        for i in range(0, len(order) - a.batch + 1, a.batch):
            if step == a.steps:
                break
            batch = [rows[j] for j in order[i:i + a.batch]]
            T = padded_len(max(len(r) for r in batch), a.max_len)
            t0 = time.perf_counter()
            idx = torch.zeros(a.batch, T, dtype=torch.long)
            has_next = torch.zeros(a.batch, T - 1, dtype=torch.bool)
            for b, r in enumerate(batch):
                idx[b, :len(r)] = torch.tensor(r)
                has_next[b, :len(r) - 1] = True
            ext = torch.tensor([len(r) - 1 for r in batch])
            targets = idx[:, 1:][has_next]
            y = torch.tensor([labels[j] for j in order[i:i + a.batch]])
            lr = a.lr * (1 - step / a.steps)
            for grp in opt.param_groups:
                grp["lr"] = lr
            loss = model(idx, ext, has_next, targets, y, a.lam)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            spent += time.perf_counter() - t0
            tokens += sum(len(r) for r in batch)
            step += 1
        order = torch.randperm(len(rows), generator=g).tolist()
    return tokens / spent


def gptctl_config(a, train, val):
    return f"""init_from: {a.work}/init
task:
  type: classification
  train: {train}
  val: {val}
  header: true
  columns: {{text: sentence, label: label}}
  labels: ["0", "1"]
  max_len: {a.max_len}
lambda: {a.lam}
batch_size: {a.batch}
max_steps: {a.steps}
lr: {a.lr}
eval_interval: 1000000
checkpoint_interval: 0
threads: 1
seed: {a.seed}
"""


def gptctl_run(a, cfg, n):
    out = os.path.join(a.work, f"ft-{n}")
    res = subprocess.run(["taskset", "-c", a.core, a.gptctl, "finetune", "-c", cfg, "--out", out],
                         capture_output=True, text=True, env=GPTCTL_ENV)
    if res.returncode != 0:
        sys.exit(f"gptctl finetune failed ({res.returncode}):\n{res.stderr}")
    return json.loads(res.stdout)["tokens_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gptctl", default="bin/gptctl")
    ap.add_argument("--data", default=os.path.join(SHARED, "data/tasks/sst2/train.tsv"))
    ap.add_argument("--tokenizer", default=os.path.join(SHARED, "data/tokenizer/gpt2"))
    ap.add_argument("--corpus", default=os.path.join(SHARED, "data/pretrain/tinyshakespeare.txt"),
                    help="text for the one-step pretraining that makes gptctl's initial model")
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lam", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=6.25e-5)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=0, help="steps of each run (default: one epoch over the rows)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--core", default="0", help="the CPU both sides are pinned to")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", default=None, help="directory for gptctl's runs (default: a temporary one)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.sched_setaffinity(0, {int(a.core)})

    tmp = None
    if a.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="ftbench-")
        a.work = tmp.name
    os.makedirs(a.work, exist_ok=True)
    for old in ["init"] + [f"ft-{n}" for n in range(a.reps)]:  # an earlier run's, in a --work given again
        shutil.rmtree(os.path.join(a.work, old), ignore_errors=True)
    rows = read_rows(a.data, a.rows)
    a.steps = a.steps or len(rows) // a.batch
    train = os.path.join(a.work, "train.tsv")
    with open(train, "w", encoding="utf-8") as f:
        f.write("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    val = os.path.join(a.work, "val.tsv")
    with open(val, "w", encoding="utf-8") as f:
        f.write("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows[:64]))
    pre = [a.gptctl, "pretrain", "--data", a.corpus, "--out", os.path.join(a.work, "init")]
    for kv in (f"tokenizer={a.tokenizer}", "arch=gpt1", f"n_layer={a.layers}", f"n_head={a.heads}",
               f"n_embd={a.d}", f"n_ctx={a.ctx}", "max_steps=1", "batch_size=2", "eval_batches=1"):
        pre += ["--set", kv]
    subprocess.run(pre, capture_output=True, check=True)
    cfg = os.path.join(a.work, "finetune.yaml")
    with open(cfg, "w") as f:
        f.write(gptctl_config(a, train, val))

    seqs = encode(a.gptctl, a.tokenizer, [t for t, _ in rows])
    labels = [int(y) for _, y in rows]
    with open(os.path.join(a.tokenizer, "encoder.json"), encoding="utf-8") as f:
        vocab = len(json.load(f))
    ours, theirs = [], []
    for n in range(a.reps):
        ours.append(gptctl_run(a, cfg, n))
        print(f"gptctl  batch {a.batch} lambda {a.lam}: {ours[-1]:.0f} tokens/s", flush=True)
        theirs.append(torch_run(a, seqs, labels, vocab))
        print(f"pytorch batch {a.batch} lambda {a.lam}: {theirs[-1]:.0f} tokens/s", flush=True)
    g, t = statistics.median(ours), statistics.median(theirs)
    print(json.dumps({"batch": a.batch, "lambda": a.lam, "steps": a.steps, "reps": a.reps,
                      "gptctl_tokens_per_s": round(g), "pytorch_tokens_per_s": round(t), "ratio": round(g / t, 2)}))


if __name__ == "__main__":
    main()
