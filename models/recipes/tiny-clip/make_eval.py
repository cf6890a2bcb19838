"""Write the committed evaluation set: test/fixtures/tiny-clip-eval/ (images + labels.json).

6 images per seen colour x shape pair and 16 per held-out pair, mixed sizes, aspect ratios and
formats (JPEG q85 / small PNGs), rendered with a seed disjoint from training.
Usage: /usr/bin/python3 make_eval.py [--out ../../../test/fixtures/tiny-clip-eval]
"""
import argparse
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "../../../test/fixtures/tiny-clip-eval"))
    ap.add_argument("--seed", type=int, default=20261127)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    rng = random.Random(args.seed)
    items = []
    for colour, shape in data.all_pairs():
        held = (colour, shape) in data.HELD_OUT
        for k in range(16 if held else 6):
            ext = "png" if rng.random() < 0.12 else "jpg"
            # PNGs of noisy renders compress badly: keep them small (they also exercise upscaling).
            wh = (rng.randint(64, 150), rng.randint(64, 150)) if ext == "png" else None
            img, a = data.render(colour, shape, rng, wh=wh)
            name = f"{colour}_{shape}_{k:02d}.{ext}"
            path = os.path.join(args.out, "images", name)
            if ext == "jpg":
                img.save(path, quality=85)
            else:
                img.save(path, optimize=True)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            items.append({"file": f"images/{name}", "label": f"{colour} {shape}", "split": "held_out" if held else "seen",
                          "colour": colour, "shape": shape, "size": a["size"], "position": a["position"],
                          "width": a["width"], "height": a["height"], "sha256": digest})
    labels = [f"{c} {s}" for c, s in data.all_pairs()]
    out = {
        "description": "Evaluation set of the tiny-clip default model: procedurally rendered shapes (make_eval.py). "
                       "'held_out' pairs never appear in training.",
        "generator": {"script": "models/recipes/tiny-clip/make_eval.py", "seed": args.seed},
        "labels": labels,
        "templates": data.EVAL_TEMPLATES,
        "held_out_pairs": [f"{c} {s}" for c, s in data.held_out_pairs()],
        "chance_top1": 1 / len(labels),
        "images": items,
    }
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {len(items)} images to {args.out}")


if __name__ == "__main__":
    main()
