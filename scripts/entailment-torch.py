#!/usr/bin/python3
"""A PyTorch twin of `gptctl finetune` for an entailment TSV trained from random
init, to tell a limit of the model and recipe from a fault in gptctl (see
scripts/rte-diagnostics.py and the README's RTE notes).

usage: /usr/bin/python3 scripts/entailment-torch.py TRAIN.tsv VAL.tsv [--lr 1e-3] [--epochs 4]
       [--lambda 0] [--seed 0]

TSV files with a header and the columns sentence1, sentence2, label (0 or 1).
Word-level tokens (whitespace), <s> premise $ hypothesis <e>, the shape of
configs/pretrain-tasks.yaml (GPT-1 post-LN, 4 layers, 4 heads, C=128) and the
finetune defaults of gptctl: batch 32, AdamW betas (0.9, 0.999), weight decay
0.01 on 2-D weights, warmup over 0.2% of the steps then linear decay to 0,
clip 1.0, dropout 0.1 in the model and on the head, lambda * LM loss.
Prints the validation accuracy after every epoch."""
import math
import random
import sys

import torch
import torch.nn.functional as F


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


lr, epochs, lam, seed = arg("--lr", 1e-3), arg("--epochs", 4), arg("--lambda", 0.0), arg("--seed", 0)
torch.manual_seed(seed)
random.seed(seed)
torch.set_num_threads(2)


def load(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        cols = [head.index(c) for c in ("sentence1", "sentence2", "label")]
        return [[line.rstrip("\n").split("\t")[c] for c in cols] for line in f]


train, val = load(sys.argv[1]), load(sys.argv[2])
words = sorted({w for p, h, _ in train + val for w in (p + " " + h).split()})
stoi = {w: i for i, w in enumerate(words)}
START, DELIM, EXTRACT = len(words), len(words) + 1, len(words) + 2
V, C, L, H, T = len(words) + 3, 128, 4, 4, 128


def encode(rows):
    return [([START] + [stoi[w] for w in p.split()] + [DELIM] + [stoi[w] for w in h.split()] + [EXTRACT])[:T]
            for p, h, _ in rows], [int(y) for *_, y in rows]


class Block(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.qkv, s.proj = torch.nn.Linear(C, 3 * C), torch.nn.Linear(C, C)
        s.fc, s.out = torch.nn.Linear(C, 4 * C), torch.nn.Linear(4 * C, C)
        s.ln1, s.ln2 = torch.nn.LayerNorm(C), torch.nn.LayerNorm(C)
        s.drop, s.attn_drop = torch.nn.Dropout(0.1), torch.nn.Dropout(0.1)
        for m in (s.qkv, s.fc):
            torch.nn.init.normal_(m.weight, std=0.02)
        for m in (s.proj, s.out):
            torch.nn.init.normal_(m.weight, std=0.02 / math.sqrt(2 * L))
        for m in (s.qkv, s.proj, s.fc, s.out):
            torch.nn.init.zeros_(m.bias)

    def attn(s, x):
        b, t, _ = x.shape
        q, k, v = [z.view(b, t, H, C // H).transpose(1, 2) for z in s.qkv(x).split(C, 2)]
        a = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        a = a.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        return s.drop(s.proj((s.attn_drop(a) @ v).transpose(1, 2).reshape(b, t, C)))

    def forward(s, x):
        x = s.ln1(x + s.attn(x))
        return s.ln2(x + s.drop(s.out(F.gelu(s.fc(x)))))


class Model(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.wte, s.wpe = torch.nn.Embedding(V, C), torch.nn.Embedding(T, C)
        torch.nn.init.normal_(s.wte.weight, std=0.02)
        torch.nn.init.normal_(s.wpe.weight, std=0.02)
        s.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        s.head = torch.nn.Linear(C, 2)
        torch.nn.init.normal_(s.head.weight, std=0.02)
        torch.nn.init.zeros_(s.head.bias)
        s.drop, s.head_drop = torch.nn.Dropout(0.1), torch.nn.Dropout(0.1)

    def forward(s, idx, ext):
        b, t = idx.shape
        x = s.drop(s.wte(idx) + s.wpe(torch.arange(t)))
        for blk in s.blocks:
            x = blk(x)
        return s.head(s.head_drop(x[torch.arange(b), ext])), x @ s.wte.weight.T


def batch(seqs, labels):
    t = max(len(q) for q in seqs)
    idx = torch.zeros(len(seqs), t, dtype=torch.long)
    tgt = torch.full((len(seqs), t), -1, dtype=torch.long)
    for i, q in enumerate(seqs):
        idx[i, :len(q)] = torch.tensor(q)
        tgt[i, :len(q) - 1] = torch.tensor(q[1:])
    return idx, torch.tensor([len(q) - 1 for q in seqs]), torch.tensor(labels), tgt


xtr, ytr = encode(train)
xva, yva = encode(val)
model, B = Model(), 32
steps = epochs * math.ceil(len(xtr) / B)
warmup = max(1, int(0.002 * steps))
decay = [p for p in model.parameters() if p.dim() == 2]
rest = [p for p in model.parameters() if p.dim() != 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                        lr=lr, betas=(0.9, 0.999), eps=1e-8)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min((i + 1) / warmup, 1) * max(0.0, 1 - i / steps))


def accuracy():
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(xva), 256):
            idx, ext, y, _ = batch(xva[i:i + 256], yva[i:i + 256])
            right += (model(idx, ext)[0].argmax(1) == y).sum().item()
    model.train()
    return right / len(xva)


order = list(range(len(xtr)))
for epoch in range(epochs):
    random.shuffle(order)
    for i in range(0, len(order), B):
        pick = order[i:i + B]
        idx, ext, y, tgt = batch([xtr[j] for j in pick], [ytr[j] for j in pick])
        logits, lm = model(idx, ext)
        loss = F.cross_entropy(logits, y)
        if lam:
            loss = loss + lam * F.cross_entropy(lm.reshape(-1, V), tgt.reshape(-1), ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    print(f"epoch {epoch + 1}: validation accuracy {accuracy():.4f}", flush=True)
