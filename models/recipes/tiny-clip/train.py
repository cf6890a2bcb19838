"""Train the tiny CLIP contrastively (symmetric InfoNCE) on procedural images. CPU, seeded.

Usage: /usr/bin/python3 train.py --out work/ [--minutes 52 | --schedule-steps N] [--stop-at S] [--seed 0]
       The bundled model: train.py --out work --schedule-steps 1894 --stop-at 1000
Writes work/checkpoint.pt and work/train_log.json.
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from model import CLIP  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BPE_GZ = os.environ.get("CLIP_BPE_GZ", os.path.join(HERE, "../../../third_party/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz"))
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)

CONFIG = dict(image_size=224, patch_size=32, vision_width=192, vision_layers=3, vision_heads=6,
              vocab_size=49408, context_length=77, text_width=64, text_layers=3, text_heads=4, embed_dim=128)
TRAIN_CONTEXT = 24  # exact for captions shorter than this: causal mask + EOT pooling ignore later positions


def _render_chunk(args):
    seed, pairs, n, unnamed, greyscale = args
    rng = random.Random(seed)
    imgs = np.empty((n, 224, 224, 3), dtype=np.uint8)
    attrs = []
    for i in range(n):
        c, s = rng.choice(pairs)
        if unnamed and rng.random() < unnamed:  # any shape in a colour no caption names
            s = rng.choice(data.SHAPES)
            img, a = data.render(c, s, rng, rgb=rng.choice(data.UNNAMED_COLOURS))
            a["unnamed_colour"] = True
        else:
            img, a = data.render(c, s, rng)
        img = data.clip_resize_crop(img)
        if greyscale and rng.random() < greyscale:
            img = img.convert("L").convert("RGB")
            a["greyscale"] = True
        imgs[i] = np.asarray(img)
        attrs.append(a)
    return imgs, attrs


def render_pool(seed, pairs, n, procs=2, chunk=500, unnamed=0.0, greyscale=0.0):
    jobs = [(seed * 100003 + k, pairs, min(chunk, n - k * chunk), unnamed, greyscale) for k in range(math.ceil(n / chunk))]
    with mp.Pool(procs) as pool:
        parts = pool.map(_render_chunk, jobs)
    return np.concatenate([p[0] for p in parts]), [a for p in parts for a in p[1]]


def to_tensor(u8):
    x = torch.from_numpy(u8).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - MEAN) / STD


def zero_shot_eval(model, bpe, imgs, attrs):
    pairs = data.all_pairs()
    labels = [f"{c} {s}" for c, s in pairs]
    with torch.no_grad():
        ids = torch.tensor([bpe.tokenize(t.format(l), TRAIN_CONTEXT) for l in labels for t in data.EVAL_TEMPLATES])
        te = F.normalize(model.text(ids), dim=-1).view(len(labels), len(data.EVAL_TEMPLATES), -1)
        cls = F.normalize(te.mean(1), dim=-1)
        ie = torch.cat([F.normalize(model.visual(to_tensor(imgs[i:i + 256])), dim=-1) for i in range(0, len(imgs), 256)])
        pred = (ie @ cls.t()).argmax(1).tolist()
    res = {"seen": [0, 0], "held_out": [0, 0], "colour": 0, "shape": 0}
    for p, a in zip(pred, attrs):
        key = "held_out" if (a["colour"], a["shape"]) in data.HELD_OUT else "seen"
        res[key][1] += 1
        res[key][0] += int(pairs[p] == (a["colour"], a["shape"]))
        res["colour"] += int(pairs[p][0] == a["colour"])
        res["shape"] += int(pairs[p][1] == a["shape"])
    n = len(attrs)
    return {"seen": res["seen"][0] / max(1, res["seen"][1]), "held_out": res["held_out"][0] / max(1, res["held_out"][1]),
            "colour": res["colour"] / n, "shape": res["shape"] / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "work"))
    ap.add_argument("--minutes", type=float, default=52)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", type=int, default=30000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-steps", type=int, default=6000)
    ap.add_argument("--partial", type=float, default=0.12, help="share of colour-or-shape-only captions")
    ap.add_argument("--shape-only", type=float, default=0.0, help="extra share of shape-only captions (experiment, see README)")
    ap.add_argument("--unnamed-colour", type=float, default=0.0, help="share of images with an unnamed-colour object, shape-only caption (experiment)")
    ap.add_argument("--greyscale", type=float, default=0.0, help="share of greyscale images, shape-only caption (experiment)")
    ap.add_argument("--schedule-steps", type=int, default=0, help="fixed cosine schedule length (0: fit it to --minutes)")
    ap.add_argument("--stop-at", type=int, default=0, help="stop after this many steps (0: at the end of the schedule)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(2)
    bpe = ClipBPE(BPE_GZ)
    t0 = time.time()
    imgs, attrs = render_pool(args.seed + 1, data.seen_pairs(), args.pool, unnamed=args.unnamed_colour, greyscale=args.greyscale)
    val_imgs, val_attrs = render_pool(args.seed + 7777, data.all_pairs(), 720)
    print(f"rendered {len(imgs)} train + {len(val_imgs)} val images in {time.time() - t0:.0f}s", flush=True)

    model = CLIP(CONFIG)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    rng = random.Random(args.seed + 3)
    budget = args.minutes * 60
    start = time.time()
    total_steps, warmup, step, log = args.max_steps, 150, 0, []
    while step < total_steps:
        if args.schedule_steps:
            total_steps = args.schedule_steps
        elif step == 30 or (step > 30 and step % 100 == 0):
            # Fit the cosine schedule to the time budget, measured on this machine (and re-fitted as the
            # machine's load changes, so the run ends on time with the schedule completed).
            per_step = (time.time() - start) / step
            total_steps = max(step + 1, min(args.max_steps, int(step + (budget - (time.time() - start)) / per_step)))
            if step == 30:
                print(f"{per_step:.2f}s/step -> {total_steps} steps", flush=True)
        lr = args.lr * (step + 1) / warmup if step < warmup else \
            args.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = [rng.randrange(len(imgs)) for _ in range(args.batch)]
        batch = imgs[idx]
        caps = []
        for k, i in enumerate(idx):
            a = dict(attrs[i])
            if rng.random() < 0.5:  # horizontal flip; shapes are mirror-symmetric, positions swap
                batch[k] = batch[k][:, ::-1]
                a["position"] = {"left": "right", "right": "left"}.get(a["position"], a["position"])
            caps.append(data.caption(a, rng, args.partial, args.shape_only))
        ids = torch.tensor([bpe.tokenize(c, TRAIN_CONTEXT) for c in caps])
        assert (ids[:, -1] == bpe.eot).all()
        logits = model(to_tensor(np.ascontiguousarray(batch)), ids)
        labels = torch.arange(len(idx))
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if args.stop_at and step >= args.stop_at:
            total_steps = step  # end here: the log entry, validation and checkpoint below still run
        if step % 50 == 0 or step == total_steps:
            entry = {"step": step, "loss": round(loss.item(), 4), "lr": lr, "scale": round(model.logit_scale.exp().item(), 2),
                     "elapsed_s": round(time.time() - start)}
            if step % 250 == 0 or step == total_steps:
                model.eval()
                entry["val"] = zero_shot_eval(model, bpe, val_imgs, val_attrs)
                model.train()
                ckpt = {"config": CONFIG, "state_dict": model.state_dict(), "step": step}
                torch.save(ckpt, os.path.join(args.out, "checkpoint.pt"))
                torch.save(ckpt, os.path.join(args.out, f"checkpoint-{step:05d}.pt"))  # to pick a step by validation
            log.append(entry)
            print(json.dumps(entry), flush=True)
    torch.save({"config": CONFIG, "state_dict": model.state_dict(), "step": step}, os.path.join(args.out, "checkpoint.pt"))
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump({"args": vars(args), "config": CONFIG, "log": log, "seconds": round(time.time() - start)}, f, indent=1)


if __name__ == "__main__":
    main()
