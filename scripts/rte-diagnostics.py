#!/usr/bin/env python3
"""The RTE diagnostics of the README (Results, finetuning): why RTE stays at
chance with the small pretrained model. Standard library only.

usage: python3 scripts/rte-diagnostics.py [TASKS_DIR] [OUT_DIR]
       (defaults runs/tasks, from configs/prepare-tasks.sh, and runs/rte-diag)

It prints the word-overlap baseline on the held-out RTE rows, writes the
probe files to OUT_DIR and prints the gptctl commands that use them:
  rep.txt / rnd.txt       lines of 25 random words said twice / 50 random words
                          (gptctl eval: equal losses mean no copy heads)
  copy-{train,val}.tsv    synthetic entailment: is the hypothesis a 3-6 word
                          span of the premise (label 0) or of another sentence
  member-{train,val}.tsv  is the hypothesis, one word, among the premise's 12
  copychar.txt            lines of 15 random letters written twice
  copywords.txt           lines of 12 random words written twice (a copy
                          curriculum: pre-LN forms copy heads on it, post-LN not)
  text-exact.txt, text-mix.txt
                          the pretraining corpus with half its lines followed
                          by a copy: exact / exact, 70% of its words, or those
                          shuffled
"""
import math
import os
import random
import re
import sys

tasks = sys.argv[1] if len(sys.argv) > 1 else "runs/tasks"
out = sys.argv[2] if len(sys.argv) > 2 else "runs/rte-diag"
os.makedirs(out, exist_ok=True)


def load(path):
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [(r[0], r[1], int(r[2])) for r in rows]


def words(s):
    return re.findall(r"[a-z0-9]+", s.lower())


# 1. A logistic regression on word overlap (and lengths, negations).
NEG = {"not", "no", "never", "nobody", "none"}


def features(p, h):
    P, H = set(words(p)), words(h)
    ov = sum(w in P for w in H) / max(1, len(H))
    return [1.0, ov, ov * ov, len(H) / 20, len(P) / 50, float(any(w in NEG for w in H)),
            float(any(w in NEG for w in words(p))), float(all(w in P for w in H))]


train, val = load(f"{tasks}/rte-train.tsv"), load(f"{tasks}/rte-val.tsv")
X, Y = [features(p, h) for p, h, _ in train], [y for *_, y in train]
w = [0.0] * len(X[0])
for _ in range(300):  # full-batch gradient descent
    g = [0.0] * len(w)
    for x, y in zip(X, Y):
        pr = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x))))
        for j in range(len(w)):
            g[j] += (pr - y) * x[j]
    w = [a - 0.5 * b / len(X) for a, b in zip(w, g)]


def accuracy(rows):
    return sum((sum(a * b for a, b in zip(w, features(p, h))) > 0) == (y == 1) for p, h, y in rows) / len(rows)


print(f"word-overlap logistic regression: train {accuracy(train):.3f}, held-out {accuracy(val):.3f}")

# 2. Copy probes for the pretrained language model.
rng = random.Random(3)
with open(f"{tasks}/text.txt") as f:
    vocab = sorted(set(re.findall(r"[a-z]+", f.read().lower())))
with open(f"{out}/rep.txt", "w") as rep, open(f"{out}/rnd.txt", "w") as rnd:
    for _ in range(300):
        a = [rng.choice(vocab) for _ in range(25)]
        b = [rng.choice(vocab) for _ in range(25)]
        rep.write(" ".join(a + a) + "\n")
        rnd.write(" ".join(a + b) + "\n")

# 3. Synthetic entailment from SST-2 sentences of 8 words or more.
rng = random.Random(1)
sst2 = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/tasks/sst2/train.tsv"
with open(sst2) as f:
    sents = [line.split("\t")[0] for line in list(f)[1:]]
sents = [s for s in sents if len(s.split()) >= 8]
rng.shuffle(sents)
for name, n, pool in (("copy-train", 20000, sents[:20000]), ("copy-val", 500, sents[20000:])):
    with open(f"{out}/{name}.tsv", "w") as f:
        f.write("sentence1\tsentence2\tlabel\tidx\n")
        for i in range(n):
            a = pool[rng.randrange(len(pool))]
            src = a if rng.random() < 0.5 else pool[rng.randrange(len(pool))]
            ws = src.split()
            k = rng.randint(3, min(6, len(ws)))
            j = rng.randint(0, len(ws) - k)
            f.write(f"{a}\t{' '.join(ws[j:j + k])}\t{0 if src is a else 1}\t{i}\n")

# 4. Membership: is the hypothesis, one word, among the 12 random words of the
# premise? The smallest comparison of two segments (the overlap signal in
# one word), for a model trained from random init, and for the PyTorch twin
# scripts/entailment-torch.py.
rng = random.Random(0)
with open(f"{tasks}/text.txt") as f:
    counts = {}
    for w in re.findall(r"[a-z]+", f.read().lower()):
        counts[w] = counts.get(w, 0) + 1
common = sorted(counts, key=lambda w: (-counts[w], w))[100:600]
for name, n in (("member-train", 20000), ("member-val", 2000)):
    with open(f"{out}/{name}.tsv", "w") as f:
        f.write("sentence1\tsentence2\tlabel\n")
        for _ in range(n):
            p = rng.sample(common, 12)
            if rng.random() < 0.5:
                h, y = rng.choice(p), 0
            else:
                h, y = rng.choice([w for w in common if w not in p]), 1
            f.write(f"{' '.join(p)}\t{h}\t{y}\n")

# 5. Letters written twice, for the plateau before copy heads form.
rng = random.Random(5)
with open(f"{out}/copychar.txt", "w") as f:
    for _ in range(40000):
        s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(15))
        f.write(s + "|" + s + "\n")

# 6. Copies to learn from in pretraining: words said twice, and the task
# corpus with copies of its lines.
rng = random.Random(11)
with open(f"{out}/copywords.txt", "w") as f:
    for _ in range(100000):
        a = [rng.choice(vocab) for _ in range(12)]
        f.write(" ".join(a + a) + "\n")
for mode in ("exact", "mix"):
    rng = random.Random(7)
    with open(f"{tasks}/text.txt") as f, open(f"{out}/text-{mode}.txt", "w") as o:
        for line in f:
            line = line.rstrip("\n")
            o.write(line + "\n")
            w = line.split()
            if len(w) < 4 or rng.random() >= 0.5:
                continue
            m = mode if mode != "mix" else rng.choice(["exact", "drop", "shuf"])
            c = w if m == "exact" else [x for x in w if rng.random() < 0.7] or w[:1]
            if m == "shuf":
                rng.shuffle(c)
            o.write(" ".join(c) + "\n")

print(f"""wrote {out}/rep.txt, rnd.txt, copy-*.tsv, member-*.tsv, copychar.txt, copywords.txt, text-*.txt; then:
  bin/gptctl eval --model runs/pre-tasks/best --data {out}/rep.txt
  bin/gptctl eval --model runs/pre-tasks/best --data {out}/rnd.txt
  bin/gptctl finetune -c configs/finetune-rte.yaml --set task.train={out}/copy-train.tsv --set task.val={out}/copy-val.tsv --set epochs=1 --out runs/ft-copy
  bin/gptctl finetune -c configs/finetune-rte.yaml --set task.train={out}/copy-train.tsv --set task.val={out}/copy-val.tsv --set epochs=4 --set lr=5e-4 --init runs/pre-tasks/best --out runs/ft-copy4
  bin/gptctl finetune -c configs/finetune-rte.yaml --init runs/ft-copy4/best --out runs/ft-rte-copy4
  bin/gptctl finetune -c configs/finetune-rte.yaml --init runs/ft-copy4/best --set lr=6.25e-5 --out runs/ft-rte-copy4-lr
  bin/gptctl eval --model runs/ft-copy4/best --data {tasks}/rte-val.tsv
  bin/gptctl finetune -c configs/finetune-rte.yaml --set task.train={out}/member-train.tsv --set task.val={out}/member-val.tsv --set task.max_len=64 --set random_init=true --set lambda=0 --set lr=1e-3 --set epochs=4 --out runs/ft-member
  bin/gptctl finetune -c configs/finetune-rte.yaml --set task.train={out}/member-train.tsv --set task.val={out}/member-val.tsv --set task.max_len=64 --init runs/pre-tasks/best --set lambda=0 --set lr=1e-3 --set max_steps=10000 --set eval_interval=1000 --out runs/ft-member-pre
  /usr/bin/python3 scripts/entailment-torch.py {out}/member-train.tsv {out}/member-val.tsv --lr 1e-3 --epochs 4
  bin/gptctl pretrain -c configs/shakespeare-char.yaml --data {out}/copychar.txt --out runs/copychar
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 ../shared/bench/shakespeare_anchor.py {out}/copychar.txt --post-ln
  bin/gptctl pretrain -c configs/shakespeare-char.yaml --data {out}/copychar.txt --set arch=gpt2 --out runs/copychar-gpt2
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 ../shared/bench/shakespeare_anchor.py {out}/copychar.txt
  bin/gptctl pretrain -c configs/pretrain-tasks.yaml --set data={out}/text-mix.txt --out runs/pre-mix   (and text-exact)
  bin/gptctl finetune -c configs/finetune-rte.yaml --init runs/pre-mix/best --out runs/ft-rte-mix
  bin/gptctl pretrain -c configs/pretrain-tasks.yaml --set arch=gpt2 --out runs/pre-tasks-gpt2
  C="--set data={out}/copywords.txt --set dropout=0 --set lr_decay=constant --set max_steps=8000 --set eval_interval=500"
  bin/gptctl pretrain -c configs/pretrain-tasks.yaml $C --set arch=gpt1 --out runs/copy-gpt1   (stopped at 2,500)
  bin/gptctl pretrain -c configs/pretrain-tasks.yaml --set data={out}/copywords.txt --set dropout=0 --set max_steps=4000 --set eval_interval=500 --out runs/pre-copy   (post-LN, cosine)
  bin/gptctl pretrain -c configs/pretrain-tasks.yaml $C --set arch=gpt2 --out runs/copy-gpt2   (stopped at 5,044)
  bin/gptctl pretrain -c configs/pretrain-tasks.yaml --init runs/copy-gpt2 --out runs/pre-tasks-cur
  bin/gptctl eval --model runs/pre-tasks-cur/best --data {out}/rep.txt   (and rnd.txt)
  bin/gptctl finetune -c configs/finetune-rte.yaml --init runs/pre-tasks-cur/best --out runs/ft-rte-cur
  bin/gptctl finetune -c configs/finetune-rte.yaml --init runs/pre-tasks-cur/best --set lr=1e-4 --set epochs=10 --out runs/ft-rte-cur-b
  bin/gptctl finetune -c configs/finetune-stsb.yaml --init runs/pre-tasks-cur/best --out runs/ft-stsb-cur
  bin/gptctl finetune -c configs/finetune-rte.yaml --set task.train={out}/member-train.tsv --set task.val={out}/member-val.tsv --set task.max_len=64 --init runs/pre-tasks-cur/best --set lambda=0 --set lr=1e-3 --set epochs=4 --out runs/ft-member-cur""")
