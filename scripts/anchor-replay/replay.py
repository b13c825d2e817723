#!/usr/bin/python3
"""Replay gptctl's initial weights and batches (written by main.go in this
folder) through a PyTorch model equal to ../shared/bench/shakespeare_anchor.py
(post-LN), with the anchor's AdamW, schedule and clipping, and compare the two
runs step by step (DIR/cmp.tsv), the final weights and the validation estimate.
usage: python3 replay.py DIR CORPUS [STEPS]"""
import json, math, sys, numpy as np, torch, torch.nn.functional as F
torch.set_num_threads(1)
d, corpus = sys.argv[1], sys.argv[2]; steps = int(sys.argv[3]) if len(sys.argv) > 3 else None
man = json.load(open(f"{d}/manifest.json")); B, T = man["B"], man["T"]; S = steps or man["steps"]
V, L, H, D = man["vocab"], 4, 4, 128; post = True
def load(path):
    a = np.fromfile(path, dtype=np.float32); out = {}; o = 0
    for p in man["params"]:
        n = int(np.prod(p["shape"])); out[p["name"]] = torch.tensor(a[o:o+n].reshape(p["shape"])); o += n
    assert o == a.size; return out
class Block(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.ln1 = torch.nn.LayerNorm(D); s.ln2 = torch.nn.LayerNorm(D)
        s.qkv = torch.nn.Linear(D, 3*D); s.proj = torch.nn.Linear(D, D); s.fc = torch.nn.Linear(D, 4*D); s.out = torch.nn.Linear(4*D, D)
    def attn(s, x):
        b, t, _ = x.shape; q, k, v = s.qkv(x).split(D, 2)
        q, k, v = [z.view(b, t, H, D//H).transpose(1, 2) for z in (q, k, v)]
        a = (q @ k.transpose(-2, -1)) / math.sqrt(D//H); a = a.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1); y = a @ v
        return s.proj(y.transpose(1, 2).reshape(b, t, D))
    def mlp(s, x): return s.out(F.gelu(s.fc(x), approximate="tanh"))
    def forward(s, x):
        x = s.ln1(x + s.attn(x)); return s.ln2(x + s.mlp(x))
class GPT(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.wte = torch.nn.Embedding(V, D); s.wpe = torch.nn.Embedding(T, D)
        s.blocks = torch.nn.ModuleList([Block() for _ in range(L)])
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for b in s.blocks: x = b(x)
        return x @ s.wte.weight.t()
def mapping(m):
    r = {"tokens_embed.weight": (m.wte.weight, False), "positions_embed.weight": (m.wpe.weight, False)}
    for i, b in enumerate(m.blocks):
        h = f"h.{i}."
        r.update({h+"ln_1.weight": (b.ln1.weight, False), h+"ln_1.bias": (b.ln1.bias, False), h+"ln_2.weight": (b.ln2.weight, False), h+"ln_2.bias": (b.ln2.bias, False),
                  h+"attn.c_attn.weight": (b.qkv.weight, True), h+"attn.c_attn.bias": (b.qkv.bias, False),
                  h+"attn.c_proj.weight": (b.proj.weight, True), h+"attn.c_proj.bias": (b.proj.bias, False),
                  h+"mlp.c_fc.weight": (b.fc.weight, True), h+"mlp.c_fc.bias": (b.fc.bias, False),
                  h+"mlp.c_proj.weight": (b.out.weight, True), h+"mlp.c_proj.bias": (b.out.bias, False)})
    return r
def set_weights(m, w):
    with torch.no_grad():
        for n, (p, tr) in mapping(m).items(): p.copy_(w[n].t() if tr else w[n])
def get_weights(m): return {n: (p.detach().t() if tr else p.detach()) for n, (p, tr) in mapping(m).items()}
m = GPT(); set_weights(m, load(f"{d}/init.bin"))
dec = [p for p in m.parameters() if p.dim() == 2]; nod = [p for p in m.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": dec, "weight_decay": 0.1}, {"params": nod, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))
MS = man["max_steps"]
def lr_at(i):
    if i < 100: return 1e-3 * (i + 1) / 100
    r = (i - 100) / (MS - 100); return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * (1e-3 - 1e-4)
bat = np.fromfile(f"{d}/batches.bin", dtype=np.int32).reshape(-1, 2, B, T)
golog = [json.loads(l) for l in open(f"{d}/go_log.jsonl")]
g1 = load(f"{d}/grads1.bin")
out = open(f"{d}/cmp.tsv", "w"); print("step\tgo_loss\tpt_loss\tdiff\tgo_gn\tpt_gn\tgo_lr\tpt_lr", file=out)
for i in range(S):
    for g in opt.param_groups: g["lr"] = lr_at(i)
    x = torch.tensor(bat[i, 0]).long(); y = torch.tensor(bat[i, 1]).long()
    loss = F.cross_entropy(m(x).view(-1, V), y.view(-1))
    opt.zero_grad(set_to_none=True); loss.backward()
    if i == 0:
        grads = {n: (p.grad.t() if tr else p.grad) for n, (p, tr) in mapping(m).items()}
        worst = max(((grads[n] - g1[n]).abs().max().item() / (g1[n].abs().max().item() + 1e-12), n) for n in g1)
        print("step1 grad max rel diff (per tensor max-normalised):", worst)
    gn = torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0).item(); opt.step()
    gl = golog[i]
    print(f"{i+1}\t{gl['loss']:.6f}\t{loss.item():.6f}\t{gl['loss']-loss.item():+.6f}\t{gl['gn']:.5f}\t{gn:.5f}\t{gl['lr']:.8g}\t{lr_at(i):.8g}", file=out, flush=True)
    if (i+1) in (1, 2, 5, 10, 50, 100, 101, 150, 200, 300, 500, 1000, 1500, 2000) or (i+1) % 250 == 0:
        print(f"step {i+1} go {gl['loss']:.5f} pt {loss.item():.5f} diff {gl['loss']-loss.item():+.6f} gn {gl['gn']:.4f}/{gn:.4f} lr {gl['lr']:.6g}/{lr_at(i):.6g}", flush=True)
# final weights diff
fin = load(f"{d}/final.bin"); w = get_weights(m)
np.concatenate([w[p["name"]].contiguous().numpy().ravel() for p in man["params"]]).astype(np.float32).tofile(f"{d}/pt_final.bin")
print("final weight max abs diff:", max((w[n]-fin[n]).abs().max().item() for n in fin))
# val: gptctl batches with torch model, and with go final weights in torch
vb = np.fromfile(f"{d}/valbatches.bin", dtype=np.int32).reshape(-1, 2, B, T)
@torch.no_grad()
def val_on(model, batches): return sum(F.cross_entropy(model(torch.tensor(b[0]).long()).view(-1, V), torch.tensor(b[1]).long().view(-1)).item() for b in batches) / len(batches)
mg = GPT(); set_weights(mg, fin); mg.eval()
print("go val (gptctl estimator):", open(f"{d}/go_val.txt").read().strip())
print("torch(go-final weights) on gptctl val batches:", f"{val_on(mg, vb):.5f}")
print("torch(torch-final weights) on gptctl val batches:", f"{val_on(m.eval(), vb):.5f}")
# torch-style estimator: 200 random val batches from torch's own split, several seeds
text = open(corpus).read(); chars = sorted(set(text)); stoi = {c: i for i, c in enumerate(chars)}
vocab_go = open(f"{d}/vocab.txt").read(); print("vocab identical:", vocab_go == "".join(chars))
data = torch.tensor([stoi[c] for c in text]); n = int(0.9 * len(data)); va = data[n:]
print("split n torch", n, "go", man["ntrain"])
for s in range(3):
    torch.manual_seed(100 + s); bs = []
    for _ in range(200):
        ix = torch.randint(len(va) - T - 1, (B,)); bs.append((torch.stack([va[i:i+T] for i in ix]).numpy(), torch.stack([va[i+1:i+T+1] for i in ix]).numpy()))
    print(f"torch-style val (seed {100+s}): go-final {val_on(mg, bs):.5f}  torch-final {val_on(m, bs):.5f}")
