"""CLIP's architecture (openai/CLIP model.py), scaled down. Names follow openai/CLIP."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)

    def attention(self, x, mask):
        # Same math and parameters as nn.MultiheadAttention, written out so that the ONNX export keeps
        # every shape dynamic (the module's fused path bakes the traced batch size into the mask).
        n, length, width = x.shape
        heads = self.attn.num_heads
        q, k, v = F.linear(x, self.attn.in_proj_weight, self.attn.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(n, length, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        att = (q * (width // heads) ** -0.5) @ k.transpose(-2, -1)
        if mask is not None:
            att = att + mask
        out = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, length, width)
        return self.attn.out_proj(out)

    def forward(self, x, mask=None):
        x = x + self.attention(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch, width, layers, heads, out_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((image_size // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, out_dim))

    def forward(self, x):
        x = self.conv1(x)  # [N, width, g, g]
        x = x.flatten(2).transpose(1, 2)  # [N, g*g, width]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_post(x[:, 0, :]) @ self.proj


class TextTransformer(nn.Module):
    def __init__(self, vocab, context, width, layers, heads, out_dim):
        super().__init__()
        self.context_length = context
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.empty(context, width))
        self.blocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, out_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    def forward(self, input_ids, attention_mask=None):
        n = input_ids.shape[1]  # training may use a shorter context: EOT pooling + causal mask make it exact
        x = self.token_embedding(input_ids) + self.positional_embedding[:n]
        # Finite large negative (exports cleanly): causal mask, plus padding as Hugging Face applies it.
        mask = torch.full((n, n), -1e4, dtype=x.dtype, device=x.device).triu(1)[None, None]  # [1, 1, n, n]
        if attention_mask is not None:
            mask = mask + (1.0 - attention_mask.to(x.dtype))[:, None, None, :] * -1e4  # [N, 1, n, n]
        for blk in self.blocks:
            x = blk(x, mask)
        x = self.ln_final(x)
        eot = input_ids.argmax(dim=-1)  # <|endoftext|> has the highest id
        return x[torch.arange(x.shape[0]), eot] @ self.text_projection


class CLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.visual = VisionTransformer(cfg["image_size"], cfg["patch_size"], cfg["vision_width"], cfg["vision_layers"],
                                        cfg["vision_heads"], cfg["embed_dim"])
        self.text = TextTransformer(cfg["vocab_size"], cfg["context_length"], cfg["text_width"], cfg["text_layers"],
                                    cfg["text_heads"], cfg["embed_dim"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, images, input_ids):
        img = F.normalize(self.visual(images), dim=-1)
        txt = F.normalize(self.text(input_ids), dim=-1)
        scale = self.logit_scale.clamp(max=math.log(100)).exp()
        return scale * img @ txt.t()
