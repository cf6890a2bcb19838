"""Why does dynamic int8 lose so much on a random-weight ResNet stand-in? Measured in PyTorch on
the very model `export.py <name>` builds (same seed, same BatchNorm calibration), with the kit's
int8 recipe emulated exactly where it matters:

  weights      symmetric int8, one scale per output channel (Conv: per output channel after
               BatchNorm folding, which per-channel scales make the same thing; Linear: per
               output feature), as quantize/passes/int8-{conv,matmul}.ts write them;
  activations  DynamicQuantizeLinear: uint8, one scale and zero point per tensor, range
               including 0, computed per image at run time.

Prints, on the committed photos plus the shared-data photos (as the gate's verification set):
  1. the emulated int8 recipe's cosine to fp32 (it should reproduce `clip-edge quantize --verify`),
  2. the same with one part at a time left in float32 (stem, each stage, attention pool),
  3. the model's own sensitivity, no quantization at all: the cosine to fp32 after adding
     uniform noise of +-half an 8-bit step to the *pixels* (what a JPEG re-encode or any 8-bit
     image pipeline does anyway), and after a single activation quantization at one place.
A stand-in that moves that far under pixel noise a trained CLIP ignores is chaotic: its int8 gap
is then a property of its random weights, not of the recipe.

    /work/cache/venv-openclip/bin/python int8_sensitivity.py rn50 [--images 16] [--json out.json]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import PHOTOS, REPO, build_model, cos, log, openai_clip_preprocess  # noqa: E402


def fq_weight(w):
    """Symmetric int8 per output channel (dim 0)."""
    amax = w.abs().flatten(1).amax(1).clamp_min(1e-30)
    s = (amax / 127).view(-1, *([1] * (w.dim() - 1)))
    return torch.round(w / s).clamp(-127, 127) * s


def fq_act(x):
    """ONNX DynamicQuantizeLinear, then dequantized: uint8, per tensor, range including 0."""
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    s = (hi - lo) / 255 if hi > lo else 1.0
    zp = float(np.clip(round(-lo / s), 0, 255))
    return (torch.clamp(torch.round(x / s) + zp, 0, 255) - zp) * s


class Emulation:
    """Forward pre-hooks quantizing each Conv/Linear input and weight; `only` limits it by module name prefix."""

    def __init__(self, model):
        self.model = model
        self.quant = set()
        self.saved = {}
        for name, m in model.visual.named_modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                self.saved[name] = m.weight.detach().clone()
                m.register_forward_pre_hook(self._hook(name))

    def _hook(self, name):
        def pre(_m, inputs):
            if name in self.quant:
                return (fq_act(inputs[0]),) + tuple(inputs[1:])
        return pre

    def set(self, pred):
        """Quantize the weights (and, through the hook, the inputs) of modules whose name passes `pred`."""
        self.quant = {n for n in self.saved if pred(n)}
        mods = dict(self.model.visual.named_modules())
        with torch.no_grad():
            for n, w in self.saved.items():
                # The kit leaves weights under 1,024 elements in float32 (quant/select.ts).
                mods[n].weight.copy_(fq_weight(w) if n in self.quant and w.numel() >= 1024 else w)


def attnpool_forward(self, x):
    """open_clip's AttentionPool2d.forward, with the projections called as modules (so the hooks see them)."""
    x = x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]).permute(2, 0, 1)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + self.positional_embedding[:, None, :].to(x.dtype)
    L, N, C = x.shape
    h = self.num_heads
    q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
    split = lambda t: t.reshape(L, N * h, C // h).transpose(0, 1)  # noqa: E731
    q, k, v = split(q) / (C // h) ** 0.5, split(k), split(v)
    a = torch.softmax(q @ k.transpose(1, 2), dim=-1)
    o = (a @ v).transpose(0, 1).reshape(L, N, C)
    return self.c_proj(o)[0]


def photos_list(n):
    files = [os.path.join(REPO, p) for p in PHOTOS]
    shared = sorted(glob.glob(os.path.join(REPO, "../shared/data/images/*/*.*")))
    shared = [f for f in shared if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))]
    step = max(1, len(shared) // max(1, n - len(files)))
    return (files + shared[::step])[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model, _, pre = build_model(args.name, None, args.seed)
    model.eval()
    vis = model.visual
    is_rn = hasattr(vis, "attnpool")
    if is_rn:
        vis.attnpool.forward = attnpool_forward.__get__(vis.attnpool)
    files = photos_list(args.images)
    x = torch.cat([openai_clip_preprocess(f, pre["size"], pre["mean"], pre["std"]) for f in files])
    emu = Emulation(model)

    def embed(inp):
        with torch.no_grad():
            return torch.cat([model.encode_image(inp[i:i + 1]) for i in range(inp.shape[0])])  # batch 1: per-image scales

    def stats(a, b):
        c = [cos(a[i], b[i]) for i in range(a.shape[0])]
        return {"mean": float(np.mean(c)), "min": float(np.min(c))}

    emu.set(lambda n: False)
    ref = embed(x)
    pair = max(cos(ref[i], ref[j]) for i in range(len(files)) for j in range(i + 1, len(files)))
    out = {"model": args.name, "images": len(files), "maxPairwiseCosineFp32": pair, "cases": {}}
    log(f"{args.name}: {len(files)} photos, fp32 max pairwise cosine {pair:.4f}")

    def case(label, pred=None, inp=None):
        emu.set(pred or (lambda n: False))
        r = stats(embed(x if inp is None else inp), ref)
        out["cases"][label] = r
        log(f"  {label:<58} cosine to fp32 mean {r['mean']:.5f} min {r['min']:.5f}")

    case("int8 recipe (every Conv and Linear)", lambda n: True)
    if is_rn:
        parts = ["conv1", "conv2", "conv3"], ["layer1"], ["layer2"], ["layer3"], ["layer4"], ["attnpool"]
        for p in parts:
            case(f"int8 recipe, {'+'.join(p)} left fp32", lambda n, p=p: not any(n.startswith(q) for q in p))
        for p in parts:
            case(f"only {'+'.join(p)} int8", lambda n, p=p: any(n.startswith(q) for q in p))
    g = torch.Generator().manual_seed(1)
    std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
    for lsb in (0.5, 0.1):
        noise = (torch.rand(x.shape, generator=g) - 0.5) * 2 * lsb / 255 / std
        case(f"fp32, pixels + uniform noise of +-{lsb} of an 8-bit step", None, x + noise)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
