"""PyTorch reference answers of the shipped tiny-clip: softmax probabilities for eval images x label sets.

The committed test data this writes (test/fixtures/tiny-clip-eval/torch-probs.json) is what
`classify()` must reproduce on Node, in workerd and in Chromium (tests: within 1e-3): an answer
computed outside the kit — PIL preprocessing, PyTorch's forward pass of model.py, the recipe's
tokenizer, CLIP's prompt ensemble, logit scale and softmax written here in PyTorch.

The training checkpoint is not kept, so the weights are read back from the shipped fp32 ONNX files
into model.py's CLIP (parameter names as exported; Linear weights were folded into transposed
MatMul initializers, which are mapped back in graph order). Before writing anything, the script
checks that this PyTorch model reproduces the embeddings export.py recorded from the checkpoint
itself (torch-reference.json) within 1e-5 — so the mapping cannot be silently wrong.

Usage (needs torch, onnx, numpy, Pillow; CI never runs it, its output is committed):
    python models/recipes/tiny-clip/reference.py
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from export import synthetic_pixels  # noqa: E402
from model import CLIP  # noqa: E402
from train import BPE_GZ, MEAN, STD  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../../.."))

# A few eval images (seen and held-out pairs, JPEG and PNG) and the label sets they are asked about.
IMAGES = ["images/red_circle_00.png", "images/green_square_01.jpg", "images/blue_diamond_00.png",
          "images/teal_ring_02.jpg", "images/purple_star_02.png", "images/yellow_heart_01.png"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "heart", "diamond", "ring"]


def label_sets(model_dir, meta):
    shapes = json.load(open(os.path.join(model_dir, "label-sets", "tiny-clip-shapes.json")))
    return [
        # The model's own label set, asked by name (labelSet=tiny-clip-shapes: the shipped prompt cache).
        {"name": "tiny-clip-shapes", "labelSet": "tiny-clip-shapes", "labels": shapes["classes"], "templates": shapes["templates"]},
        # Inline labels with the model's default templates (embedded by the text tower at request time).
        {"name": "inline-colours", "labels": ["red circle", "green square", "blue diamond", "teal ring", "purple star",
                                              "yellow heart", "orange cross", "pink triangle"], "templates": meta["templates"]},
        # Inline shape names with one template of the request's own.
        {"name": "inline-shapes", "labels": SHAPES, "templates": ["a photo of a {}."]},
    ]


def load_onnx_weights(model, model_dir):
    """Copies the fp32 ONNX initializers into model.py's CLIP; returns the names not found."""
    state = model.state_dict()
    loaded = set()
    for tower, prefix, blocks in (("vision_model.onnx", "visual", model.visual.blocks), ("text_model.onnx", "text", model.text.blocks)):
        g = onnx.load(os.path.join(model_dir, "onnx", tower)).graph
        inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
        for name, value in inits.items():
            if name in state:
                state[name].copy_(value)
                loaded.add(name)
        # Constant folding turned each Linear weight into a transposed MatMul initializer ("onnx::MatMul_N");
        # per block, in graph order: attn in_proj, attn out_proj, mlp.0, mlp.2.
        matmuls = sorted((n for n in inits if n.startswith("onnx::MatMul_")), key=lambda n: int(n.rsplit("_", 1)[1]))
        assert len(matmuls) == 4 * len(blocks), (tower, matmuls)
        for i in range(len(blocks)):
            for j, param in enumerate(["attn.in_proj_weight", "attn.out_proj.weight", "mlp.0.weight", "mlp.2.weight"]):
                key = f"{prefix}.blocks.{i}.{param}"
                w = inits[matmuls[4 * i + j]].t()
                assert w.shape == state[key].shape, (key, w.shape, state[key].shape)
                state[key].copy_(w)
                loaded.add(key)
        if prefix == "visual":  # the class token, folded into the Expand that broadcasts it over the batch
            (cls,) = [n for n in inits if n.startswith("onnx::Expand_")]
            state["visual.class_embedding"].copy_(inits[cls])
            loaded.add("visual.class_embedding")
    model.load_state_dict(state)
    return sorted(set(state) - loaded)


def check_against_checkpoint(model, bpe, ref, eval_dir):
    """The reloaded model must give the checkpoint's own recorded outputs (export.py)."""
    with torch.no_grad():
        syn = model.visual(torch.from_numpy(synthetic_pixels(2)))
        ids = torch.tensor([bpe.tokenize(p) for p in ref["prompts"]])
        txt = model.text(ids, torch.ones_like(ids))
        ev = model.visual(preprocess([os.path.join(eval_dir, f) for f in ref["eval_image_files"]]))
    diffs = {
        "synthetic_image_embeds": (syn - torch.tensor(ref["synthetic_image_embeds"])).abs().max().item(),
        "text_embeds": (txt - torch.tensor(ref["text_embeds"])).abs().max().item(),
        "eval_image_embeds": (ev - torch.tensor(ref["eval_image_embeds"])).abs().max().item(),
    }
    assert all(d < 1e-5 for d in diffs.values()), diffs
    return diffs


def preprocess(paths):
    """openai/CLIP's preprocessing with PIL: RGB, bicubic resize of the shortest side, center crop, mean/std."""
    xs = [np.asarray(data.clip_resize_crop(Image.open(p).convert("RGB"))) for p in paths]
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - MEAN) / STD


def class_matrix(model, bpe, labels, templates):
    """CLIP's prompt ensemble: normalize(mean over templates of normalize(text_embed(template(label))))."""
    ids = torch.tensor([bpe.tokenize(t.replace("{}", label)) for label in labels for t in templates])
    e = F.normalize(model.text(ids, torch.ones_like(ids)), dim=-1).view(len(labels), len(templates), -1)
    return F.normalize(e.mean(1), dim=-1)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=os.path.join(REPO, "models/tiny-clip"))
    ap.add_argument("--eval-dir", default=os.path.join(REPO, "test/fixtures/tiny-clip-eval"))
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.model_dir, "manifest.json")))
    meta = json.load(open(os.path.join(args.eval_dir, "labels.json")))
    ref = json.load(open(os.path.join(args.eval_dir, "torch-reference.json")))
    torch.manual_seed(0)
    model = CLIP(manifest["architecture"]).eval()
    missing = load_onnx_weights(model, args.model_dir)
    assert missing == ["logit_scale"], missing  # not in the towers' graphs: manifest.json has it
    bpe = ClipBPE(BPE_GZ)
    diffs = check_against_checkpoint(model, bpe, ref, args.eval_dir)
    print("reloaded weights reproduce the checkpoint's outputs:", json.dumps(diffs))

    scale = manifest["logitScale"]
    assert 0 < scale <= 100 and abs(math.log(scale) - json.load(open(os.path.join(args.model_dir, "config.json")))["logit_scale_init_value"]) < 1e-5
    cases = []
    with torch.no_grad():
        img = F.normalize(model.visual(preprocess([os.path.join(args.eval_dir, f) for f in IMAGES])), dim=-1)
        for ls in label_sets(args.model_dir, meta):
            probs = (scale * img @ class_matrix(model, bpe, ls["labels"], ls["templates"]).t()).softmax(dim=-1)
            for f, p in zip(IMAGES, probs):
                top = int(p.argmax())
                cases.append({"image": f, "set": ls["name"], **({"labelSet": ls["labelSet"]} if "labelSet" in ls else {}),
                              "labels": ls["labels"], "templates": ls["templates"], "top1": ls["labels"][top],
                              "probs": [round(float(v), 7) for v in p]})
    out = {
        "description": "PyTorch softmax probabilities of the shipped fp32 tiny-clip (PIL preprocessing, the recipe's tokenizer, "
                       "CLIP's prompt ensemble, manifest logitScale): classify() must match them within 1e-3.",
        "generator": "models/recipes/tiny-clip/reference.py",
        "torch": torch.__version__,
        "model": {"vision_sha256": sha256(os.path.join(args.model_dir, "onnx/vision_model.onnx")),
                  "text_sha256": sha256(os.path.join(args.model_dir, "onnx/text_model.onnx")), "logitScale": scale},
        "checkpoint_check_max_abs_diff": diffs,
        "cases": cases,
    }
    path = os.path.join(args.eval_dir, "torch-probs.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(path, REPO)}")


if __name__ == "__main__":
    main()
