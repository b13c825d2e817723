#!/usr/bin/python3
"""configs/shakespeare-gpt2.yaml in PyTorch, with PyTorch's own random numbers: how
far apart seeds land on this short recipe outside gptctl (see the README's notes
on it). The model and recipe are the config's: GPT-2 pre-LN with a final
LayerNorm, the GPT-2 vocabulary, 4 layers, 4 heads, C=128, ctx 64, batch 12, 600
steps, AdamW lr 2e-3 (betas 0.9/0.99, weight decay 0.1 on 2-D weights), warmup 50
then cosine to 2e-4, clip 1.0, no dropout, tied head; the last 10% of the tokens
validate, 100 random batches at steps 200, 400, 600 and once more at the end.

usage: bin/gptctl tokenizer encode --tokenizer ../shared/data/tokenizer/gpt2 --binary \
           < ../shared/data/pretrain/tinyshakespeare.txt > /tmp/shk.ids
       OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/shakespeare-gpt2-torch.py /tmp/shk.ids SEED [INIT]

INIT, a model.safetensors of the config's shape (gptctl's initial weights for a
seed: a run of the config with --set max_steps=1 --set warmup_steps=0 --set
lr=1e-30 --set min_lr=0, whose one step moves no weight measurably), replaces
PyTorch's initialisation; the batches stay PyTorch's for SEED. INIT may also
be a directory of scripts/anchor-replay (-config configs/shakespeare-gpt2.yaml
-ids IDS -vocab 50257 -seed N -steps 600): then its initial weights and its
600 training batches, gptctl's for seed N, are used."""
import math, sys, time, numpy as np, torch, torch.nn.functional as F
torch.set_num_threads(1)
ids, seed = sys.argv[1], int(sys.argv[2]); torch.manual_seed(seed)
data = torch.tensor(np.fromfile(ids, dtype=np.uint32).astype(np.int64)); n = int(0.9 * len(data)); tr, va = data[:n], data[n:]
V, L, H, D, T, B, S, W, LR, MIN = 50257, 4, 4, 128, 64, 12, 600, 50, 2e-3, 2e-4
def batch(src):
    ix = torch.randint(len(src) - T, (B,))
    return torch.stack([src[i:i+T] for i in ix]), torch.stack([src[i+1:i+T+1] for i in ix])
class Block(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.ln1 = torch.nn.LayerNorm(D); s.ln2 = torch.nn.LayerNorm(D)
        s.qkv = torch.nn.Linear(D, 3*D); s.proj = torch.nn.Linear(D, D); s.fc = torch.nn.Linear(D, 4*D); s.out = torch.nn.Linear(4*D, D)
        for m in (s.proj, s.out): torch.nn.init.normal_(m.weight, std=0.02/math.sqrt(2*L))
        for m in (s.qkv, s.fc): torch.nn.init.normal_(m.weight, std=0.02)
        for m in (s.qkv, s.proj, s.fc, s.out): torch.nn.init.zeros_(m.bias)
    def forward(s, x):
        h = s.ln1(x); b, t, _ = h.shape; q, k, v = s.qkv(h).split(D, 2)
        q, k, v = [z.view(b, t, H, D//H).transpose(1, 2) for z in (q, k, v)]
        a = (q @ k.transpose(-2, -1)) / math.sqrt(D//H); a = a.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        x = x + s.proj((a @ v).transpose(1, 2).reshape(b, t, D))
        return x + s.out(F.gelu(s.fc(s.ln2(x)), approximate="tanh"))
class GPT(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.wte = torch.nn.Embedding(V, D); s.wpe = torch.nn.Embedding(T, D)
        torch.nn.init.normal_(s.wte.weight, std=0.02); torch.nn.init.normal_(s.wpe.weight, std=0.02)
        s.blocks = torch.nn.ModuleList([Block() for _ in range(L)]); s.lnf = torch.nn.LayerNorm(D)
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for b in s.blocks: x = b(x)
        return s.lnf(x) @ s.wte.weight.t()
m = GPT()
replay = None
if len(sys.argv) > 3:  # gptctl's initial weights (Hugging Face names, Conv1D layout: (in, out))
    import json, os, struct
    if os.path.isdir(sys.argv[3]):  # an anchor-replay directory: weights and batches
        d = sys.argv[3]; man = json.load(open(f"{d}/manifest.json")); a = np.fromfile(f"{d}/init.bin", dtype=np.float32); ws, o = {}, 0
        for p in man["params"]:
            k = int(np.prod(p["shape"])); ws[p["name"]] = torch.from_numpy(a[o:o+k].reshape(p["shape"]).copy()); o += k
        replay = iter(np.fromfile(f"{d}/batches.bin", dtype=np.int32).reshape(-1, 2, B, T))
        def w(name): return ws[name]
    else:
        with open(sys.argv[3], "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]; hdr = json.loads(f.read(n)); raw = f.read()
        def w(name):
            e = hdr[name]; a, b = e["data_offsets"]
            return torch.from_numpy(np.frombuffer(raw[a:b], dtype=np.float32).reshape(e["shape"]).copy())
    with torch.no_grad():
        m.wte.weight.copy_(w("wte.weight")); m.wpe.weight.copy_(w("wpe.weight"))
        m.lnf.weight.copy_(w("ln_f.weight")); m.lnf.bias.copy_(w("ln_f.bias"))
        for i, b in enumerate(m.blocks):
            h = f"h.{i}."
            for mod, name in ((b.ln1, "ln_1"), (b.ln2, "ln_2")):
                mod.weight.copy_(w(h + name + ".weight")); mod.bias.copy_(w(h + name + ".bias"))
            for mod, name in ((b.qkv, "attn.c_attn"), (b.proj, "attn.c_proj"), (b.fc, "mlp.c_fc"), (b.out, "mlp.c_proj")):
                mod.weight.copy_(w(h + name + ".weight").t()); mod.bias.copy_(w(h + name + ".bias"))
dec = [p for p in m.parameters() if p.dim() == 2]; nod = [p for p in m.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": dec, "weight_decay": 0.1}, {"params": nod, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.99))
def lr_at(i):
    if i < W: return LR * (i + 1) / W
    r = (i - W) / (S - W); return MIN + 0.5 * (1 + math.cos(math.pi * r)) * (LR - MIN)
@torch.no_grad()
def val():
    m.eval(); ls = [F.cross_entropy(m(x).view(-1, V), y.view(-1)).item() for x, y in (batch(va) for _ in range(100))]; m.train(); return sum(ls) / len(ls)
t0 = time.time(); hist = []
for i in range(S):
    for g in opt.param_groups: g["lr"] = lr_at(i)
    if replay is not None:
        x, y = (torch.from_numpy(z).long() for z in next(replay))
    else:
        x, y = batch(tr)
    loss = F.cross_entropy(m(x).view(-1, V), y.view(-1))
    opt.zero_grad(set_to_none=True); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    hist.append(loss.item())
    if (i + 1) % 100 == 0: print(f"seed {seed} step {i+1} train(mean of 20) {sum(hist[-20:])/20:.3f}" + (f" val {val():.4f}" if (i + 1) % 200 == 0 else "") + f" t={time.time()-t0:.0f}s", flush=True)
print(f"final seed {seed}{' init ' + sys.argv[3] if len(sys.argv) > 3 else ''}: val_loss={val():.4f} wall={time.time()-t0:.0f}s")
