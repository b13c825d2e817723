#!/usr/bin/env python3
"""Check that Hugging Face transformers reads gptctl's run directories as its
own models: the same token ids from AutoTokenizer, the same loss from
AutoModelForCausalLM as `gptctl eval`.

  python3 scripts/hf-transformers-check.py prepare DIR [--gptctl bin/gptctl]
      trains small models of both archs with the char, byte, GPT-2, GPT-1 and
      a trained byte-level BPE tokenizer (seconds each, on the CPU), copies
      each run's best/ into DIR with test texts, and writes DIR/expected.json:
      gptctl's ids and eval loss for each model and text. Needs the GPT-2 and
      GPT-1 vocabularies ($GPTCTL_GPT2_VOCAB, $GPTCTL_GPT1_VOCAB, default
      ../shared/data/tokenizer/gpt2 and gpt1 beside the repository) and the
      built-in corpus only.
  python3 scripts/hf-transformers-check.py check DIR
      where transformers and torch are installed (DIR may be copied to another
      machine): loads every model and tokenizer of DIR with transformers and
      prints one line per model and text; exits 1 on a loss more than 1e-4
      from gptctl's or a model or tokenizer that does not load. Differing ids
      are reported, not failed: transformers' OpenAIGPTTokenizer without ftfy
      and spaCy falls back to BERT's basic tokenizer (it strips accents, splits
      at every punctuation mark, drops newlines), where gptctl follows GPT-1's
      own ftfy, text_standardize and spaCy steps.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

TEXTS = {
    "prose.txt": "The movie was a gentle, funny story about two friends who travel to the sea and find "
                 "that home is where they are.",
    "odd.txt": "Caf\u00e9 na\u00efve \u2014 \u201ccurly\u201d and \"straight\" quotes, 2024; it's 100% fine!\n"
               "  Two  spaces.",
    "short.txt": "Caf\u00e9 na\u00efve, \"quoted\" 100% fine!",
    "plain.txt": "the gentle story of two friends who travel to the sea",
}

# name: (pretrain flags, texts). Every model has n_ctx 64; each text is
# shorter than that in its tokens, so eval reads it in one window.
MODELS = {
    "gpt1-gpt1bpe": (["--set", "tokenizer=gpt1"], ["prose.txt", "odd.txt"]),
    "gpt2-gpt2bpe": (["--set", "arch=gpt2", "--set", "tokenizer=gpt2"], ["prose.txt", "odd.txt"]),
    "gpt2-byte": (["--set", "arch=gpt2", "--set", "tokenizer=byte"], ["short.txt"]),
    "gpt1-char": (["--set", "tokenizer=char"], ["plain.txt"]),
    "gpt2-trainedbpe": (["--set", "arch=gpt2", "--set", "tokenizer=TRAINED"], ["prose.txt", "odd.txt"]),
}
SMALL = ["--set", "n_layer=2", "--set", "n_embd=64", "--set", "n_head=4", "--set", "n_ctx=64",
         "--set", "max_steps=30", "--set", "eval_interval=30"]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return r.stdout


def prepare(out, gptctl):
    gptctl = os.path.abspath(gptctl)
    env = dict(os.environ)
    shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "tokenizer")
    env.setdefault("GPTCTL_GPT2_VOCAB", os.path.normpath(os.path.join(shared, "gpt2")))
    env.setdefault("GPTCTL_GPT1_VOCAB", os.path.normpath(os.path.join(shared, "gpt1")))
    for key in ("GPTCTL_GPT2_VOCAB", "GPTCTL_GPT1_VOCAB"):
        if not os.path.isdir(env[key]):
            sys.exit(f"{key}={env[key]}: not a directory (the GPT-2 / GPT-1 vocabulary)")
    os.makedirs(out, exist_ok=True)
    for name, text in TEXTS.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    work = tempfile.mkdtemp(prefix="hfcheck-")
    try:
        # A byte-level BPE trained on the built-in corpus and the test texts
        # (the texts' characters then have tokens of their own).
        corpus = os.path.join(work, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(TEXTS.values()) * 20)
        trained = os.path.join(work, "tok")
        run([gptctl, "tokenizer", "train", "--data", corpus, "--vocab-size", "300", "--out", trained], env=env)
        expected = []
        for name, (flags, texts) in MODELS.items():
            flags = [f.replace("TRAINED", trained) for f in flags]
            runs = os.path.join(work, name)
            run([gptctl, "pretrain", *SMALL, *flags, "--out", runs], env=env)
            dst = os.path.join(out, name)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(os.path.join(runs, "best"), dst)
            for t in texts:
                path = os.path.join(out, t)
                ev = json.loads(run([gptctl, "eval", "--model", dst, "--data", path, "--device", "cpu"], env=env))
                with open(path, encoding="utf-8") as f:
                    ids = [int(x) for x in run([gptctl, "tokenizer", "encode", "--tokenizer", dst], stdin=f, env=env).split()]
                expected.append({"model": name, "text": t, "loss": ev["loss"], "ids": ids})
                print(f"{name:16s} {t:10s} {len(ids):3d} ids, gptctl loss {ev['loss']:.6f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {out}/expected.json; run `check {out}` where transformers is installed")


def check(d):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    print("transformers", transformers.__version__, "torch", torch.__version__, flush=True)
    bad = 0
    with open(os.path.join(d, "expected.json")) as f:
        expected = json.load(f)
    for rec in expected:
        m = os.path.join(d, rec["model"])
        with open(os.path.join(d, rec["text"]), encoding="utf-8") as f:
            text = f.read()
        line = f"{rec['model']:16s} {rec['text']:10s}"
        try:
            model = AutoModelForCausalLM.from_pretrained(m).float().eval()
            tok = AutoTokenizer.from_pretrained(m)
        except Exception as e:  # noqa: BLE001 -- reported, and counted
            print(line, "did not load:", repr(e)[:400], flush=True)
            bad += 1
            continue
        ids = rec["ids"]
        hf = tok(text, add_special_tokens=False)["input_ids"]
        if hf == ids:
            line += f" {type(model).__name__} {type(tok).__name__}: ids same ({len(ids)})"
        else:
            k = next((i for i, (a, b) in enumerate(zip(hf, ids)) if a != b), min(len(hf), len(ids)))
            line += (f" {type(model).__name__} {type(tok).__name__}: ids differ at {k}:"
                     f" transformers {tok.convert_ids_to_tokens(hf[k:k + 4])}, gptctl {tok.convert_ids_to_tokens(ids[k:k + 4])}")
        with torch.no_grad():
            x = torch.tensor([ids])
            loss = model(x, labels=x).loss.item()
        diff = abs(loss - rec["loss"])
        ok = diff <= 1e-4
        bad += not ok
        line += f"; loss {loss:.6f}, gptctl {rec['loss']:.6f}, diff {diff:.1e} {'ok' if ok else 'MISMATCH'}"
        print(line, flush=True)
    print("hf-transformers-check:", "ok" if bad == 0 else f"{bad} failed")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dir")
    p.add_argument("--gptctl", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bin", "gptctl"))
    c = sub.add_parser("check")
    c.add_argument("dir")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a.dir, a.gptctl)
        return 0
    return check(a.dir)


if __name__ == "__main__":
    sys.exit(main())
