#!/usr/bin/python3
"""Write one reference case folder (the format of ../shared/reference/README.md)
for any shape, so the reference test runs on models beyond the shipped two.

usage: /usr/bin/python3 scripts/reference-case.py OUT_DIR [--arch gpt1|gpt2]
           [--vocab V] [--ctx N] [--d C] [--heads H] [--layers L] [--batch B]
           [--seq T] [--eps E] [--seed S] [--gelu tanh|erf] [--hf-names]

--gelu erf (gpt2 only) uses the exact GELU, x*Phi(x), and writes
activation_function "gelu", as some GPT-2 checkpoints do.

--hf-names writes model.safetensors as save_pretrained does: a "transformer."
prefix on every name, the causal-mask buffers h.{i}.attn.bias (and
masked_bias), and an lm_head.weight copy of the tied embedding.
Then: GPTCTL_REFERENCE_DIR=DIR_ABOVE_OUT go test ./train -run Reference

The model is written here from the README's semantics alone (PyTorch,
float32), independent of gptctl's code.
"""
import argparse, json, math, os, struct
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--arch", choices=["gpt1", "gpt2"], default="gpt1")
for k, v in (("vocab", 50), ("ctx", 20), ("d", 24), ("heads", 2), ("layers", 3), ("batch", 2), ("seq", 13), ("seed", 7)):
    ap.add_argument("--" + k, type=int, default=v)
ap.add_argument("--eps", type=float, default=1e-5)
ap.add_argument("--gelu", choices=["tanh", "erf"], default="tanh")
ap.add_argument("--hf-names", action="store_true")
a = ap.parse_args()
assert a.d % a.heads == 0 and a.seq <= a.ctx, "d must divide by heads, seq must fit ctx"
assert a.gelu == "tanh" or a.arch == "gpt2", "openai-gpt has only the tanh GELU"
torch.manual_seed(a.seed)
D, L, H = a.d, a.layers, a.heads
post = a.arch == "gpt1"
tok, pos = ("tokens_embed", "positions_embed") if post else ("wte", "wpe")

# Weights, drawn larger than a fresh model's so every path carries signal.
W = {tok + ".weight": torch.randn(a.vocab, D) * 0.1, pos + ".weight": torch.randn(a.ctx, D) * 0.1}
for i in range(L):
    h = f"h.{i}."
    for ln in ("ln_1", "ln_2"):
        W[h + ln + ".weight"] = 1 + 0.1 * torch.randn(D)
        W[h + ln + ".bias"] = 0.1 * torch.randn(D)
    for name, n_in, n_out in (("attn.c_attn", D, 3 * D), ("attn.c_proj", D, D), ("mlp.c_fc", D, 4 * D), ("mlp.c_proj", 4 * D, D)):
        W[h + name + ".weight"] = torch.randn(n_in, n_out) / math.sqrt(n_in)
        W[h + name + ".bias"] = 0.1 * torch.randn(n_out)
if not post:
    W["ln_f.weight"] = 1 + 0.1 * torch.randn(D)
    W["ln_f.bias"] = 0.1 * torch.randn(D)
params = {k: torch.nn.Parameter(v.clone()) for k, v in W.items()}

inputs = torch.randint(a.vocab, (a.batch, a.seq + 1))
targets = inputs[:, 1:].contiguous()
inputs = inputs[:, :-1].contiguous()


def gelu(x):
    if a.gelu == "erf":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def ln(x, name):
    return F.layer_norm(x, (D,), params[name + ".weight"], params[name + ".bias"], a.eps)


def attn(x, h):
    b, t, _ = x.shape
    qkv = x @ params[h + "attn.c_attn.weight"] + params[h + "attn.c_attn.bias"]
    q, k, v = [z.view(b, t, H, D // H).transpose(1, 2) for z in qkv.split(D, 2)]
    s = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
    s = s.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
    y = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)
    return y @ params[h + "attn.c_proj.weight"] + params[h + "attn.c_proj.bias"]


def mlp(x, h):
    y = gelu(x @ params[h + "mlp.c_fc.weight"] + params[h + "mlp.c_fc.bias"])
    return y @ params[h + "mlp.c_proj.weight"] + params[h + "mlp.c_proj.bias"]


x = params[tok + ".weight"][inputs] + params[pos + ".weight"][: a.seq]
for i in range(L):
    h = f"h.{i}."
    if post:
        x = ln(x + attn(x, h), h + "ln_1")
        x = ln(x + mlp(x, h), h + "ln_2")
    else:
        x = x + attn(ln(x, h + "ln_1"), h)
        x = x + mlp(ln(x, h + "ln_2"), h)
if not post:
    x = ln(x, "ln_f")
logits = x @ params[tok + ".weight"].t()
loss = F.cross_entropy(logits.view(-1, a.vocab), targets.view(-1))
loss.backward()
grads = {k: p.grad.detach().clone() for k, p in params.items()}
norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())).float()

decay = [p for p in params.values() if p.dim() == 2]
rest = [p for p in params.values() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
opt.step()


def save(path, tensors):
    """safetensors: u64 header length, JSON header, little-endian data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}[t.dtype]
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


os.makedirs(a.out, exist_ok=True)
model = dict(W)
if a.hf_names:
    model = {"transformer." + k: v for k, v in W.items()}
    for i in range(L):
        model[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(a.ctx, a.ctx)).view(1, 1, a.ctx, a.ctx)
        model[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    model["lm_head.weight"] = W[tok + ".weight"]
save(os.path.join(a.out, "model.safetensors"), model)
save(os.path.join(a.out, "batch.safetensors"), {"inputs": inputs, "targets": targets})
exp = {"logits": logits, "loss": loss.reshape(()), "grad_norm": norm.reshape(())}
exp.update({"grad." + k: g for k, g in grads.items()})
exp.update({"step1." + k: p for k, p in params.items()})
save(os.path.join(a.out, "expected.safetensors"), exp)
cfg = {"model_type": "openai-gpt" if post else "gpt2", "vocab_size": a.vocab, "n_positions": a.ctx, "n_embd": D,
       "n_layer": L, "n_head": H, "layer_norm_epsilon": a.eps, "tie_word_embeddings": True,
       "batch": a.batch, "seq_len": a.seq, "seed": a.seed}
cfg["afn" if post else "activation_function"] = "gelu" if post else ("gelu" if a.gelu == "erf" else "gelu_new")
with open(os.path.join(a.out, "config.json"), "w") as f:
    json.dump(cfg, f, indent=1)
print(f"{a.out}: {a.arch} V={a.vocab} ctx={a.ctx} d={D} heads={H} layers={L} batch={a.batch} seq={a.seq} loss={loss.item():.6f}")
