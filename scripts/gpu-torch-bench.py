#!/usr/bin/env python3
"""PyTorch on the GPU, beside `gptctl bench --device cuda`: the same model
(../shared/bench/torch_ref.py's GPT, eager mode, float32 weights, TF32
matmuls like gptctl's `tf32: true`), the same shapes, AdamW, random tokens.
Prints one line per shape: tokens_per_s, step_ms (median), mfu against the
float32 GEMM rate measured here with TF32 (best 4096^3 product), the same
yardstick gptctl bench uses.

  gpu-torch-bench.py --ref DIR/torch_ref.py [--steps 20]

Exits 0 with a notice when torch or a CUDA device is missing.
"""
import argparse
import importlib.util
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="path to torch_ref.py (its GPT class is used)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch-gpu: no torch in this python; skipped")
        return 0
    if not torch.cuda.is_available():
        print(f"torch-gpu: torch {torch.__version__} sees no CUDA device; skipped")
        return 0
    spec = importlib.util.spec_from_file_location("torch_ref", args.ref)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = torch.device("cuda")
    print(f"torch-gpu: torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    n = 4096
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    peak = 0.0
    for i in range(6):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        torch.cuda.synchronize()
        if i > 0:
            peak = max(peak, 2 * n**3 / (time.perf_counter() - t0))
    del a, b
    print(f"torch-gpu: TF32 matmul peak {peak / 1e12:.1f} TFLOP/s (4096^3)")
    shapes = [  # name, arch post-LN?, layers, d, heads, ctx, batch, vocab
        ("gpt2-124m", False, 12, 768, 12, 1024, 16, 50257),
        ("gpt1", True, 12, 768, 12, 512, 16, 40478),
    ]
    for name, post_ln, layers, d, heads, ctx, batch, vocab in shapes:
        torch.manual_seed(1337)
        model = ref.GPT(vocab, ctx, layers, d, heads, 0.0, post_ln).to(dev)
        model.train()
        n_params = ref.count_params(model)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
        times = []
        loss_v = float("nan")
        for step in range(args.warmup + args.steps):
            xy = torch.randint(0, vocab, (batch, ctx + 1), device=dev)
            x, y = xy[:, :-1].contiguous(), xy[:, 1:].contiguous()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            loss_v = loss.item()
            if step >= args.warmup:
                times.append(dt)
        med = statistics.median(times)
        toks = batch * ctx
        fpt = ref.flops_per_token(n_params, layers, ctx, d)
        mfu = fpt * toks / med / peak
        print(
            f'{{"shape": "{name}", "tool": "pytorch", "tokens_per_s": {toks / med:.0f}, "step_ms": {med * 1000:.2f}, '
            f'"mfu": {mfu:.4f}, "params": {n_params}, "peak_mem_gb": {torch.cuda.max_memory_allocated() / 2**30:.1f}, '
            f'"loss": {loss_v:.4f}}}'
        )
        del model, opt
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
