"""Export open_clip's own CLIP model code (ResNets with the attention-pool head, ViTs) to the
Hugging Face / Optimum ONNX layout clip-edge reads, with PyTorch reference outputs.

The models of OpenAI's model card, at their full shapes, with random weights (stand-ins for
performance and memory work: their answers are meaningless), built by open_clip_torch 3.3.0's
own classes with QuickGELU (as open_clip builds OpenAI's checkpoints) and its preprocessing
config (input size per model, OpenAI's mean/std, bicubic, shortest-side resize):

    /work/cache/venv-openclip/bin/python export.py rn50 --model-dir ../../rn50-random
    (names: rn50 rn101 rn50x4 rn50x16 rn50x64 vit-b-32 vit-b-16 vit-l-14 vit-l-14-336)

Writes into --model-dir:
  onnx/vision_model.onnx  pixel_values [N,3,S,S] f32 -> image_embeds [N,D]   (open_clip's encode_image)
  onnx/text_model.onnx    input_ids [N,77] i64 -> text_embeds [N,D]           (open_clip's encode_text)
  config.json preprocessor_config.json open_clip_config.json tokenizer*.json special_tokens_map.json
  manifest.json (dims, preprocessing, parameters, files with bytes + sha256)
  reference.json: what open_clip computes in PyTorch (float32) for committed photos preprocessed
    openai/CLIP's way and for a few prompts (open_clip's tokenizer): models/recipes/openclip/check.ts
    compares the exported graphs against it through clip-edge (cosine >= 0.99999).

`--small rn|vit` writes the small-width test fixtures instead (test/fixtures/openclip/).

Prerequisites (Debian 12): python3-torch (1.13) python3-torchvision (0.14) python3-onnx python3-pil
python3-numpy, and a venv over them with open_clip_torch 3.3.0 + ftfy, regex, huggingface_hub
(docs/models.md). CI never runs this.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../../.."))
TOKENIZER_DIR = os.path.join(REPO, "models", "tiny-clip")  # CLIP's real BPE vocabulary (HF openai/clip-vit-base-patch32's)
OPSET = 17

# clip-edge name -> open_clip model name (OpenAI's model card).
CARD = {
    "rn50": "RN50", "rn101": "RN101", "rn50x4": "RN50x4", "rn50x16": "RN50x16", "rn50x64": "RN50x64",
    "vit-b-32": "ViT-B-32", "vit-b-16": "ViT-B-16", "vit-l-14": "ViT-L-14", "vit-l-14-336": "ViT-L-14-336",
}
TITLES = {
    "rn50": "RN50", "rn101": "RN101", "rn50x4": "RN50x4", "rn50x16": "RN50x16", "rn50x64": "RN50x64",
    "vit-b-32": "ViT-B/32", "vit-b-16": "ViT-B/16", "vit-l-14": "ViT-L/14", "vit-l-14-336": "ViT-L/14@336px",
}

# Small widths of each family for the CI fixtures (open_clip's classes, the same code paths).
SMALL = {
    # ModifiedResNet: 3-conv stem, avg-pool downsampling, Bottlenecks, AttentionPool2d head; 96 px
    # (a 3x3 grid into the attention pool, as RN50x4's 288 px gives 9x9).
    "rn": dict(embed_dim=32, vision_cfg=dict(image_size=96, layers=[1, 1, 1, 1], width=4, head_width=32, patch_size=None),
               text_cfg=dict(context_length=77, vocab_size=49408, width=4, heads=2, layers=3)),
    # VisionTransformer at patch 14 (ViT-L/14's), 56 px.
    "vit": dict(embed_dim=32, vision_cfg=dict(image_size=56, layers=2, width=32, head_width=16, patch_size=14),
                text_cfg=dict(context_length=77, vocab_size=49408, width=4, heads=2, layers=3)),
}

# Committed photos, preprocessed openai/CLIP's way on the reference side (what clip-edge implements).
PHOTOS = [
    "test/fixtures/images/CLIP.png",
    "test/fixtures/pil/inputs/odd-223x300.jpg",
    "test/fixtures/pil/inputs/baseline-420.jpg",
    "test/fixtures/pil/inputs/lossy.webp",
]
TEXTS = ["a photo of a tench.", "a diagram of CLIP", "a bullfrog sitting on a rock", "Hello World!"]


def log(msg):
    print(f"[openclip-export {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def openai_clip_preprocess(path, n_px, mean, std):
    """openai/CLIP's clip.load transform (PIL bicubic resize of the shorter side, CenterCrop with
    round(), RGB, ToTensor, Normalize), with the RGB conversion first as clip-edge does (it differs
    only for images with transparency; test/fixtures/hf-export documents that)."""
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    nw, nh = (n_px, int(n_px * h / w)) if w <= h else (int(n_px * w / h), n_px)
    img = img.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - n_px) / 2.0)), int(round((nw - n_px) / 2.0))
    img = img.crop((left, top, left + n_px, top + n_px))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy()).unsqueeze(0)


def reinit(model, seed):
    """Random weights whose embeddings depend on the input (so a match means something) and whose
    activations stay in range at full depth: unit-variance convs/linears, BatchNorm with non-trivial
    running statistics (exercises folding), and each ResNet Bottleneck's last BN scaled down to 0.25
    (open_clip zeroes it: the residual branches would then carry nothing)."""
    g = torch.Generator().manual_seed(seed)
    randn = lambda shape: torch.randn(shape, generator=g)  # noqa: E731
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale" or name.endswith("logit_bias"):
                continue
            is_norm = any(k in name for k in ("bn", "ln_", "norm"))
            if is_norm and name.endswith("weight"):
                p.copy_((0.25 if "bn3" in name else 1.0) * (1.0 + 0.1 * randn(p.shape)))
            elif is_norm:
                p.copy_(0.1 * randn(p.shape))
            elif p.dim() >= 2:
                fan_in = math.prod(p.shape[1:])
                gain = 2.0 if ("token_embedding" in name or "conv1" in name) else 1.0
                p.copy_(gain * randn(p.shape) / math.sqrt(fan_in))
            elif "class_embedding" in name:
                p.copy_(randn(p.shape) / math.sqrt(p.shape[0]))
            else:
                p.copy_(0.02 * randn(p.shape))


def calibrate_batchnorm(model, pixels):
    """BatchNorm running statistics measured on real pixels (a cumulative average over one pass),
    as training would leave them: with made-up statistics the signal fades or explodes with depth
    and every photo ends at the same embedding."""
    bns = [m for m in model.visual.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    with torch.no_grad():
        model.visual(pixels)
    for bn in bns:
        bn.eval()


class VisionExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return self.m.encode_image(pixel_values)


class TextExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m.encode_text(input_ids)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def build_model(name, small, seed):
    import open_clip
    if small:
        cfg = SMALL[small]
        model = open_clip.model.CLIP(**cfg, quick_gelu=True)
        pre = {"size": cfg["vision_cfg"]["image_size"], "mean": list(open_clip.OPENAI_DATASET_MEAN),
               "std": list(open_clip.OPENAI_DATASET_STD), "interpolation": "bicubic", "resize_mode": "shortest"}
        model_cfg = {**cfg, "quick_gelu": True}
    else:
        oc_name = CARD[name]
        # force_quick_gelu: as open_clip builds OpenAI's own checkpoints (pretrained='openai').
        model = open_clip.create_model(oc_name, pretrained=None, force_quick_gelu=True)
        pre = dict(open_clip.get_model_preprocess_cfg(model))
        model_cfg = {**open_clip.get_model_config(oc_name), "quick_gelu": True}
    model.eval()
    reinit(model, seed)
    size = pre["size"] if isinstance(pre["size"], int) else pre["size"][0]
    assert pre.get("interpolation", "bicubic") == "bicubic" and pre.get("resize_mode", "shortest") == "shortest", pre
    # The committed photos and their mirror images.
    photos = torch.cat([openai_clip_preprocess(os.path.join(REPO, p), size, pre["mean"], pre["std"]) for p in PHOTOS])
    calibrate_batchnorm(model, torch.cat([photos, photos.flip(-1)]))
    return model, model_cfg, {"size": size, "mean": [float(v) for v in pre["mean"]], "std": [float(v) for v in pre["std"]]}


def export_onnx(module, args, path, input_names, output_name):
    dyn = {n: {0: "batch_size"} for n in input_names}
    dyn[output_name] = {0: "batch_size"}
    # Not under no_grad: there nn.MultiheadAttention takes its fused fast path, which torch 1.13 cannot export.
    torch.onnx.export(module, args, path, opset_version=OPSET, input_names=input_names, output_names=[output_name],
                      dynamic_axes=dyn, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(path)


def hf_files(out, id_, model_cfg, pre, embed_dim, with_text):
    """config.json + preprocessor_config.json as the loader reads them (it takes projection_dim,
    vision_config.image_size, text_config.max_position_embeddings); the open_clip config beside them
    as open_clip's hub repos carry it."""
    size = pre["size"]
    vis = model_cfg["vision_cfg"]
    config = {
        "_name_or_path": id_, "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": embed_dim,
        "logit_scale_init_value": math.log(100.0),
        "vision_config": {"model_type": "clip_vision_model", "image_size": size, "num_channels": 3,
                          "hidden_act": "quick_gelu", "projection_dim": embed_dim,
                          **({"patch_size": vis["patch_size"]} if vis.get("patch_size") else {"open_clip_resnet_layers": vis["layers"]})},
        "torch_dtype": "float32",
    }
    if with_text:
        t = model_cfg["text_cfg"]
        config["text_config"] = {"model_type": "clip_text_model", "vocab_size": t["vocab_size"], "hidden_size": t["width"],
                                 "num_hidden_layers": t["layers"], "num_attention_heads": t["heads"],
                                 "max_position_embeddings": t["context_length"], "hidden_act": "quick_gelu",
                                 "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407, "projection_dim": embed_dim}
    preprocessor = {
        "crop_size": {"height": size, "width": size}, "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True,
        "do_rescale": True, "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor",
        "image_processor_type": "CLIPImageProcessor", "image_mean": pre["mean"], "image_std": pre["std"],
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": size},
    }
    open_clip_config = {"model_cfg": model_cfg, "preprocess_cfg": {**pre, "interpolation": "bicubic", "resize_mode": "shortest"}}
    for fname, obj in [("config.json", config), ("preprocessor_config.json", preprocessor), ("open_clip_config.json", open_clip_config)]:
        with open(os.path.join(out, fname), "w") as f:
            json.dump(obj, f, indent=2)
    if with_text:
        for fname in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(TOKENIZER_DIR, fname), os.path.join(out, fname))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?", choices=sorted(CARD), help="the model of the card (random weights)")
    ap.add_argument("--small", choices=sorted(SMALL), help="a small-width test fixture of this family instead")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-text", action="store_true", help="vision tower only")
    args = ap.parse_args()
    if bool(args.name) == bool(args.small):
        ap.error("give a model name or --small")
    import open_clip
    torch.manual_seed(args.seed)
    t0 = time.time()
    label = f"small {args.small}" if args.small else CARD[args.name]
    log(f"building open_clip {label} (open_clip_torch {open_clip.__version__}, torch {torch.__version__}), random weights, seed {args.seed}")
    model, model_cfg, pre = build_model(args.name, args.small, args.seed)
    with_text = not args.no_text
    out = os.path.abspath(args.model_dir)
    shutil.rmtree(os.path.join(out, "onnx"), ignore_errors=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    size = pre["size"]
    n_vision = sum(p.numel() for p in model.visual.parameters())
    n_text = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("visual.") and n != "logit_scale")
    embed_dim = model_cfg["embed_dim"]
    log(f"{label}: {n_vision / 1e6:.1f} M image parameters, {n_text / 1e6:.1f} M text parameters, {size} px, embeddings {embed_dim}")

    # PyTorch references first: open_clip's own forward, float32.
    images = {}
    with torch.no_grad():
        for rel in PHOTOS:
            x = openai_clip_preprocess(os.path.join(REPO, rel), size, pre["mean"], pre["std"])
            images[rel] = {"sha256": sha256(os.path.join(REPO, rel)), "image_embeds": [float(v) for v in model.encode_image(x)[0]]}
    embs = [v["image_embeds"] for v in images.values()]
    worst = max(cos(a, b) for i, a in enumerate(embs) for b in embs[i + 1:])
    log(f"reference image embeddings: max pairwise cosine between photos {worst:.4f}")
    # The fixtures must discriminate (a match then means something); a deep random stand-in drifts
    # towards one direction, which is worth knowing but not a reason to refuse it.
    if worst >= 0.98:
        if args.small:
            sys.exit(f"photos give near-identical embeddings (max pairwise cosine {worst}): a match would prove little")
        log(f"note: photos are {worst:.4f} apart at most: the reference check is less discriminating on this stand-in")
    ref = {"generator": "models/recipes/openclip/export.py", "open_clip": open_clip.__version__, "torch": torch.__version__,
           "model": label, "seed": args.seed, "image_size": size,
           "preprocessing": "openai/CLIP (RGB, PIL bicubic resize of the shortest side, CenterCrop with round(), ToTensor, Normalize)",
           "max_pairwise_image_cosine": worst, "images": images}
    if with_text:
        tok = open_clip.get_tokenizer("ViT-B-32")  # open_clip's SimpleTokenizer (CLIP's BPE), 77 tokens
        ids = tok(TEXTS)
        with torch.no_grad():
            t = model.encode_text(ids)
        ref["texts"] = {s: {"input_ids": [int(i) for i in ids[k] if i != 0], "text_embeds": [float(v) for v in t[k]]}
                        for k, s in enumerate(TEXTS)}
        ref["max_pairwise_text_cosine"] = max(cos(t[i], t[j]) for i in range(len(TEXTS)) for j in range(i + 1, len(TEXTS)))

    vision_path = os.path.join(out, "onnx", "vision_model.onnx")
    log(f"exporting the vision tower to {os.path.relpath(vision_path)} (torch.onnx.export, opset {OPSET})")
    export_onnx(VisionExport(model), (torch.zeros(1, 3, size, size),), vision_path, ["pixel_values"], "image_embeds")
    log(f"vision tower: {os.path.getsize(vision_path) / 2**20:.1f} MiB")
    paths = [vision_path]
    if with_text:
        text_path = os.path.join(out, "onnx", "text_model.onnx")
        log(f"exporting the text tower to {os.path.relpath(text_path)}")
        ids = torch.full((2, 77), 49407, dtype=torch.long)
        ids[:, 0] = 49406
        export_onnx(TextExport(model), (ids,), text_path, ["input_ids"], "text_embeds")
        log(f"text tower: {os.path.getsize(text_path) / 2**20:.1f} MiB")
        paths.append(text_path)

    id_ = f"{args.name}-random" if args.name else f"openclip-small-{args.small}"
    hf_files(out, f"clip-edge/{id_}", model_cfg, pre, embed_dim, with_text)
    files = {os.path.relpath(p, out): {"bytes": os.path.getsize(p), "sha256": sha256(p)} for p in paths}
    variants = {"vision": {"file": "onnx/vision_model.onnx", **files["onnx/vision_model.onnx"]}}
    if with_text:
        variants["text"] = {"file": "onnx/text_model.onnx", **files["onnx/text_model.onnx"]}
    title = TITLES.get(args.name, f"small {args.small}")
    manifest = {
        "id": id_,
        "name": f"{title}-shape stand-in (random weights)" if args.name else f"open_clip small-width {args.small} (test fixture)",
        "description": (f"OpenAI CLIP {title}'s architecture and dimensions built by open_clip {open_clip.__version__} with random "
                        "weights: for performance and memory work only; its answers are meaningless."),
        "source": f"models/recipes/openclip/export.py {'--small ' + args.small if args.small else args.name} (seed {args.seed})",
        "license": "MIT",
        "architecture": {"open_clip": CARD.get(args.name, "custom"), **model_cfg},
        "parameters": {"vision": n_vision, "text": n_text},
        "embedDim": embed_dim, "imageSize": size, "contextLength": 77,
        "preprocess": {"shortestEdge": size, "cropHeight": size, "cropWidth": size, "mean": pre["mean"], "std": pre["std"]},
        "logitScale": 100.0,
        "variants": {"fp32": variants},
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f)
    log(f"done in {time.time() - t0:.0f} s: {out}")
    print(json.dumps({"parameters": manifest["parameters"], "files": files}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
