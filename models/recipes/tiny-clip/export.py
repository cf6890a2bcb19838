"""Export a trained checkpoint to the Hugging Face / Optimum ONNX layout and evaluate it.

Writes into --model-dir (default models/tiny-clip):
  onnx/vision_model.onnx  pixel_values [N,3,224,224] f32 -> image_embeds [N,D]
  onnx/text_model.onnx    input_ids [N,77] i64, attention_mask [N,77] i64 -> text_embeds [N,D]
  config.json preprocessor_config.json tokenizer.json tokenizer_config.json special_tokens_map.json
  manifest.json (dims, preprocessing, files with bytes + sha256, measured accuracy)
and into the eval set folder: torch-reference.json (PyTorch outputs for the ONNX parity test,
PyTorch top-1 per eval image with PIL preprocessing).
Usage: /usr/bin/python3 export.py [--checkpoint work/checkpoint.pt] [--model-dir ../../tiny-clip]
       /usr/bin/python3 export.py --random vit-b-32 --model-dir ../../vit-b-32-random
         (the same architecture at CLIP ViT-B/32's real dimensions, random weights: a stand-in for
          performance and memory work with the graph inputs/outputs and sizes of the Optimum export)
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import data  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from model import CLIP  # noqa: E402
from train import BPE_GZ, MEAN, STD  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../../.."))
OPSET = 17
# openai/CLIP ViT-B/32 (clip-vit-base-patch32) dimensions.
VIT_B_32 = dict(image_size=224, patch_size=32, vision_width=768, vision_layers=12, vision_heads=12,
                vocab_size=49408, context_length=77, text_width=512, text_layers=12, text_heads=8, embed_dim=512)


class VisionExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.visual = m.visual

    def forward(self, pixel_values):
        return self.visual(pixel_values)


class TextExport(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.text = m.text

    def forward(self, input_ids, attention_mask):
        return self.text(input_ids, attention_mask)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def synthetic_pixels(n, size=224):
    """Deterministic inputs that the TypeScript parity test regenerates: sin(0.37 * (k + 1) * (i % 977) + k)."""
    flat = np.arange(3 * size * size, dtype=np.float64)
    return np.stack([np.sin(0.37 * (k + 1) * (flat % 977) + k) for k in range(n)]).reshape(n, 3, size, size).astype(np.float32)


def export(model, model_dir, cfg):
    onnx_dir = os.path.join(model_dir, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    vision_path, text_path = os.path.join(onnx_dir, "vision_model.onnx"), os.path.join(onnx_dir, "text_model.onnx")
    torch.onnx.export(VisionExport(model), (torch.zeros(1, 3, 224, 224),), vision_path, opset_version=OPSET,
                      input_names=["pixel_values"], output_names=["image_embeds"],
                      dynamic_axes={"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}},
                      do_constant_folding=True)
    ids = torch.full((2, cfg["context_length"]), 49407, dtype=torch.long)
    ids[:, 0] = 49406
    torch.onnx.export(TextExport(model), (ids, torch.ones_like(ids)), text_path, opset_version=OPSET,
                      input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                      dynamic_axes={"input_ids": {0: "batch_size"}, "attention_mask": {0: "batch_size"},
                                    "text_embeds": {0: "batch_size"}},
                      do_constant_folding=True)
    import onnx
    for p in (vision_path, text_path):
        onnx.checker.check_model(onnx.load(p))
    return vision_path, text_path


def hf_configs(cfg, logit_scale):
    config = {
        "_name_or_path": "clip-edge/tiny-clip",
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": cfg["embed_dim"],
        "logit_scale_init_value": logit_scale,
        "initializer_factor": 1.0,
        "text_config": {"model_type": "clip_text_model", "vocab_size": cfg["vocab_size"], "hidden_size": cfg["text_width"],
                        "intermediate_size": cfg["text_width"] * 4, "num_hidden_layers": cfg["text_layers"],
                        "num_attention_heads": cfg["text_heads"], "max_position_embeddings": cfg["context_length"],
                        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": 49406, "eos_token_id": 49407,
                        "pad_token_id": 49407, "projection_dim": cfg["embed_dim"]},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": cfg["vision_width"],
                          "intermediate_size": cfg["vision_width"] * 4, "num_hidden_layers": cfg["vision_layers"],
                          "num_attention_heads": cfg["vision_heads"], "image_size": cfg["image_size"],
                          "patch_size": cfg["patch_size"], "num_channels": 3, "hidden_act": "quick_gelu",
                          "layer_norm_eps": 1e-5, "projection_dim": cfg["embed_dim"]},
        "torch_dtype": "float32",
    }
    preprocessor = {
        "crop_size": {"height": cfg["image_size"], "width": cfg["image_size"]},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_processor_type": "CLIPImageProcessor",
        "image_mean": MEAN.flatten().tolist(), "image_std": STD.flatten().tolist(),
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": cfg["image_size"]},
    }
    tok_cfg = json.load(open(os.path.join(HERE, "tokenizer_config.json")))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    return config, preprocessor, tok_cfg, special


def load_eval(eval_dir):
    meta = json.load(open(os.path.join(eval_dir, "labels.json")))
    xs = []
    for it in meta["images"]:
        img = Image.open(os.path.join(eval_dir, it["file"])).convert("RGB")
        xs.append(np.asarray(data.clip_resize_crop(img)))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div_(255.0)
    return meta, (x - MEAN) / STD


def evaluate(model, bpe, meta, pixels, templates):
    with torch.no_grad():
        ids = torch.tensor([bpe.tokenize(t.format(l)) for l in meta["labels"] for t in templates])
        te = F.normalize(model.text(ids, torch.ones_like(ids)), dim=-1).view(len(meta["labels"]), len(templates), -1)
        cls = F.normalize(te.mean(1), dim=-1)
        ie = F.normalize(torch.cat([model.visual(pixels[i:i + 128]) for i in range(0, len(pixels), 128)]), dim=-1)
        pred = (ie @ cls.t()).argmax(1).tolist()
    acc = {}
    for split in ("seen", "held_out"):
        sel = [i for i, it in enumerate(meta["images"]) if it["split"] == split]
        acc[split] = sum(meta["labels"][pred[i]] == meta["images"][i]["label"] for i in sel) / len(sel)
    return acc, [meta["labels"][p] for p in pred]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=os.path.join(HERE, "work/checkpoint.pt"))
    ap.add_argument("--model-dir", default=os.path.join(REPO, "models/tiny-clip"))
    ap.add_argument("--eval-dir", default=os.path.join(REPO, "test/fixtures/tiny-clip-eval"))
    ap.add_argument("--random", choices=["vit-b-32"], help="export randomly initialised weights at these dimensions")
    ap.add_argument("--train-log", help="train_log.json of the run (default: beside the checkpoint)")
    args = ap.parse_args()
    if args.random:
        return export_random(args)
    ck = torch.load(args.checkpoint, map_location="cpu")
    cfg = ck["config"]
    model = CLIP(cfg)
    model.load_state_dict(ck["state_dict"])
    model.eval()
    bpe = ClipBPE(BPE_GZ)
    logit_scale = float(model.logit_scale.clamp(max=math.log(100)).exp())

    vision_path, text_path = export(model, args.model_dir, cfg)
    config, preprocessor, tok_cfg, special = hf_configs(cfg, float(model.logit_scale.clamp(max=math.log(100))))
    hf_tok = bpe.hf_tokenizer_json()
    shared_hf = "/work/shared/data/clip-tokenizer/hf-openai-clip-vit-base-patch32/tokenizer.json"
    if os.path.exists(shared_hf):
        assert json.load(open(shared_hf)) == hf_tok, "generated tokenizer.json differs from HF's openai/clip-vit-base-patch32"
        print("tokenizer.json: identical to HF openai/clip-vit-base-patch32 (vocab, merges and pipeline)")
    for name, obj in [("config.json", config), ("preprocessor_config.json", preprocessor), ("tokenizer.json", hf_tok),
                      ("tokenizer_config.json", tok_cfg), ("special_tokens_map.json", special)]:
        with open(os.path.join(args.model_dir, name), "w") as f:
            json.dump(obj, f, indent=None if name == "tokenizer.json" else 2, ensure_ascii=False)

    # PyTorch reference outputs for the ONNX parity test (TypeScript, onnxruntime-web).
    meta, pixels = load_eval(args.eval_dir)
    with torch.no_grad():
        syn = torch.from_numpy(synthetic_pixels(2))
        prompts = ["a photo of a red circle.", "a big blue star on the left.", "a diagram",
                   "a photo of a cat sitting on a red sofa in the sun."]
        ids = torch.tensor([bpe.tokenize(p) for p in prompts])
        reference = {
            "description": "PyTorch outputs of the tiny-clip checkpoint, for the ONNX parity test (tolerance 1e-4).",
            "synthetic_pixels": "sin(0.37 * (k + 1) * (i % 977) + k), i = flat index into [3,224,224], k = batch index",
            "synthetic_image_embeds": model.visual(syn).tolist(),
            "eval_image_files": [it["file"] for it in meta["images"][:4]],
            "eval_image_embeds": model.visual(pixels[:4]).tolist(),
            "prompts": prompts,
            "input_ids": ids.tolist(),
            "text_embeds": model.text(ids, torch.ones_like(ids)).tolist(),
        }
    accs = {}
    for name, templates in [("ensemble", meta["templates"]), ("single", meta["templates"][:1])]:
        acc, preds = evaluate(model, bpe, meta, pixels, templates)
        accs[name] = acc
        if name == "ensemble":
            reference["torch_top1"] = {it["file"]: p for it, p in zip(meta["images"], preds)}
    reference["torch_accuracy"] = accs
    with open(os.path.join(args.eval_dir, "torch-reference.json"), "w") as f:
        json.dump(reference, f)

    files = {}
    for p in (vision_path, text_path):
        rel = os.path.relpath(p, args.model_dir)
        files[rel] = {"bytes": os.path.getsize(p), "sha256": sha256(p)}
    log_path = args.train_log or os.path.join(os.path.dirname(args.checkpoint), "train_log.json")
    train_log = json.load(open(log_path)) if os.path.exists(log_path) else {}
    manifest = {
        "id": "tiny-clip",
        "name": "clip-edge tiny CLIP (demonstration model)",
        "description": "A small CLIP-architecture model (ViT image tower, causal text transformer, real CLIP BPE vocabulary) "
                       "trained by clip-edge on procedurally rendered coloured shapes. A demonstration and test model: it "
                       f"knows {len(data.COLOURS)} colours x {len(data.SHAPES)} shapes and nothing about real photos.",
        "source": "models/recipes/tiny-clip (trained from scratch, seed 0)",
        "license": "MIT",
        "architecture": {k: cfg[k] for k in cfg},
        "embedDim": cfg["embed_dim"],
        "imageSize": cfg["image_size"],
        "contextLength": cfg["context_length"],
        "preprocess": {"shortestEdge": cfg["image_size"], "cropHeight": cfg["image_size"], "cropWidth": cfg["image_size"],
                       "mean": MEAN.flatten().tolist(), "std": STD.flatten().tolist()},
        "logitScale": logit_scale,
        "defaultTemplates": meta["templates"],
        "variants": {"fp32": {"vision": {"file": "onnx/vision_model.onnx", **files["onnx/vision_model.onnx"]},
                              "text": {"file": "onnx/text_model.onnx", **files["onnx/text_model.onnx"]}}},
        "accuracy": {
            "evalSet": "test/fixtures/tiny-clip-eval",
            "measuredWith": "PyTorch, PIL preprocessing (export.py)",
            "labels": len(meta["labels"]), "chanceTop1": 1 / len(meta["labels"]),
            "templates": meta["templates"],
            "top1": {"ensemble": accs["ensemble"], "singleTemplate": accs["single"]},
        },
        "training": {"steps": ck.get("step"),
                     "seconds": train_log.get("seconds"), "args": train_log.get("args")},
    }
    with open(os.path.join(args.model_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    # The model's own label set (served as labelSet=tiny-clip-shapes), in openai/CLIP's prompt form.
    os.makedirs(os.path.join(args.model_dir, "label-sets"), exist_ok=True)
    with open(os.path.join(args.model_dir, "label-sets", "tiny-clip-shapes.json"), "w") as f:
        json.dump({"dataset": f"tiny-clip shapes ({len(data.COLOURS)} colours x {len(data.SHAPES)} shapes)", "source": "models/recipes/tiny-clip/data.py",
                   "classes": meta["labels"], "templates": meta["templates"]}, f, indent=1)
    print(json.dumps({"accuracy": accs, "files": files}, indent=1))


def export_random(args):
    torch.manual_seed(0)
    cfg = VIT_B_32
    model = CLIP(cfg).eval()
    # CLIP-like init scale for a random stand-in (weights are random; only shapes and sizes matter).
    print(f"exporting random {args.random} to {args.model_dir} (a few minutes)", flush=True)
    vision_path, text_path = export(model, args.model_dir, cfg)
    config, preprocessor, tok_cfg, special = hf_configs(cfg, float(model.logit_scale))
    config["_name_or_path"] = f"clip-edge/{args.random}-random"
    bpe = ClipBPE(BPE_GZ)
    for name, obj in [("config.json", config), ("preprocessor_config.json", preprocessor), ("tokenizer.json", bpe.hf_tokenizer_json()),
                      ("tokenizer_config.json", tok_cfg), ("special_tokens_map.json", special)]:
        with open(os.path.join(args.model_dir, name), "w") as f:
            json.dump(obj, f, indent=None if name == "tokenizer.json" else 2, ensure_ascii=False)
    files = {os.path.relpath(p, args.model_dir): {"bytes": os.path.getsize(p), "sha256": sha256(p)} for p in (vision_path, text_path)}
    manifest = {
        "id": f"{args.random}-random",
        "name": "ViT-B/32-shape stand-in (random weights)",
        "description": "CLIP ViT-B/32's dimensions with random weights: for performance and memory work only; its answers are meaningless.",
        "source": "models/recipes/tiny-clip/export.py --random vit-b-32",
        "license": "MIT",
        "architecture": cfg, "embedDim": cfg["embed_dim"], "imageSize": cfg["image_size"], "contextLength": cfg["context_length"],
        "preprocess": {"shortestEdge": 224, "cropHeight": 224, "cropWidth": 224, "mean": MEAN.flatten().tolist(), "std": STD.flatten().tolist()},
        "logitScale": 100.0,
        "variants": {"fp32": {"vision": {"file": "onnx/vision_model.onnx", **files["onnx/vision_model.onnx"]},
                              "text": {"file": "onnx/text_model.onnx", **files["onnx/text_model.onnx"]}}},
    }
    with open(os.path.join(args.model_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(files, indent=1))


if __name__ == "__main__":
    main()
