"""Procedural images with captions: coloured shapes with size, position, background, clutter and noise.

Every image has one main object (colour x shape). Images have varied sizes and aspect ratios so
CLIP's resize-shortest-side + center-crop is exercised; the main object always lies inside the
central square that the crop keeps. Some colour x shape combinations are held out of training.
"""
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

COLOURS = {
    "red": (220, 30, 35),
    "orange": (245, 130, 20),
    "yellow": (245, 215, 30),
    "green": (40, 170, 60),
    "blue": (35, 80, 215),
    "purple": (140, 50, 180),
    "pink": (240, 110, 180),
    "teal": (20, 150, 150),
}
SHAPES = ["circle", "square", "triangle", "star", "cross", "heart", "diamond", "ring"]
# Colours that are never named in a caption. Objects drawn in them (and greyscale images) are
# captioned by shape alone, so the image tower must recognise shapes whatever their colour instead
# of learning "a blue object is never a cross" from the held-out design.
UNNAMED_COLOURS = [(245, 245, 245), (18, 18, 18), (125, 80, 45)]
# One held-out shape per colour and one held-out colour per shape (a Latin-square diagonal): 8 of 64
# pairs. Eight colours x eight shapes rather than six x six: with 56 seen pairs, memorising each pair
# is harder than learning colour and shape separately, which is what held-out pairs need (six x six
# learned colour-conditional shapes, see README).
HELD_OUT = {(c, SHAPES[(i * 3 + 2) % len(SHAPES)]) for i, c in enumerate(COLOURS)}
SIZES = ["small", "big"]
POSITIONS = ["left", "right", "top", "bottom", "center"]
BACKGROUNDS = ["plain", "gradient", "noisy", "striped"]


def all_pairs():
    return [(c, s) for c in COLOURS for s in SHAPES]


def held_out_pairs():
    return sorted(HELD_OUT)


def seen_pairs():
    return [p for p in all_pairs() if p not in HELD_OUT]


def _shape_points(shape, cx, cy, r, rot):
    def rotp(pts):
        cr, sr = math.cos(rot), math.sin(rot)
        return [(cx + x * cr - y * sr, cy + x * sr + y * cr) for x, y in pts]

    if shape == "square":
        a = r * 0.82
        return rotp([(-a, -a), (a, -a), (a, a), (-a, a)])
    if shape == "triangle":
        return rotp([(r * math.cos(t), r * math.sin(t)) for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)])
    if shape == "star":
        pts = []
        for k in range(10):
            rr = r if k % 2 == 0 else r * 0.42
            t = -math.pi / 2 + k * math.pi / 5
            pts.append((rr * math.cos(t), rr * math.sin(t)))
        return rotp(pts)
    if shape == "cross":
        a, b = r, r * 0.33
        return rotp([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)])
    if shape == "diamond":
        return rotp([(0, -r), (r * 0.62, 0), (0, r), (-r * 0.62, 0)])
    if shape == "heart":
        pts = []
        for k in range(48):
            t = 2 * math.pi * k / 48
            x = 16 * math.sin(t) ** 3
            y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
            pts.append((x * r / 17, (y + 2) * r / 17))
        return rotp(pts)
    raise ValueError(shape)


def _draw_shape(draw, shape, cx, cy, r, rot, fill):
    if shape == "circle":
        draw.ellipse([cx - r * 0.9, cy - r * 0.9, cx + r * 0.9, cy + r * 0.9], fill=fill)
    elif shape == "ring":
        draw.ellipse([cx - r * 0.9, cy - r * 0.9, cx + r * 0.9, cy + r * 0.9], outline=fill, width=max(2, int(r * 0.3)))
    else:
        draw.polygon(_shape_points(shape, cx, cy, r, rot), fill=fill)


def _jitter(rgb, rng, amount):
    return tuple(int(np.clip(v + rng.randint(-amount, amount), 0, 255)) for v in rgb)


def _background(w, h, rng):
    kind = rng.choice(BACKGROUNDS)
    # Low-saturation backgrounds (greys with a slight tint) so object colour stays the salient cue.
    base = rng.randint(30, 225)
    tint = [rng.randint(-18, 18) for _ in range(3)]
    c1 = np.array([np.clip(base + t, 0, 255) for t in tint], dtype=np.float32)
    if kind == "plain":
        arr = np.broadcast_to(c1, (h, w, 3)).copy()
    elif kind == "gradient":
        base2 = np.clip(base + rng.randint(-90, 90), 0, 255)
        c2 = np.array([np.clip(base2 + t, 0, 255) for t in tint], dtype=np.float32)
        horizontal = rng.random() < 0.5
        t = np.linspace(0, 1, w if horizontal else h, dtype=np.float32)
        ramp = t[None, :, None] if horizontal else t[:, None, None]
        arr = c1 * (1 - ramp) + c2 * ramp
        arr = np.broadcast_to(arr, (h, w, 3)).copy()
    elif kind == "noisy":
        nrs = np.random.RandomState(rng.randint(0, 2**31 - 1))
        arr = c1 + nrs.normal(0, 25, (h, w, 1)).astype(np.float32)
    else:  # striped
        period = rng.randint(8, 40)
        delta = rng.randint(15, 45)
        horizontal = rng.random() < 0.5
        idx = np.arange(w if horizontal else h)
        stripe = ((idx // period) % 2).astype(np.float32) * delta
        arr = c1 + (stripe[None, :, None] if horizontal else stripe[:, None, None])
        arr = np.broadcast_to(arr, (h, w, 3)).copy()
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def render(colour, shape, rng, size=None, position=None, wh=None, rgb=None):
    """Render one image (in `rgb` instead of the named colour's when given). Returns (PIL.Image RGB, attributes)."""
    if wh is None:
        side = rng.randint(96, 360)
        aspect = rng.choice([1.0, 1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16, 1.5, 2 / 3, rng.uniform(0.6, 1.7)])
        w = max(64, int(side * math.sqrt(aspect)))
        h = max(64, int(side / math.sqrt(aspect)))
    else:
        w, h = wh
    size = size or rng.choice(SIZES)
    position = position or rng.choice(POSITIONS)
    img = _background(w, h, rng)
    draw = ImageDraw.Draw(img)
    s = min(w, h)  # the central square kept by the center crop
    ox, oy = (w - s) / 2, (h - s) / 2
    # Clutter: small low-saturation shapes and lines.
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        g = rng.randint(20, 235)
        cr = s * rng.uniform(0.04, 0.08)
        _draw_shape(draw, rng.choice(SHAPES), ox + rng.uniform(0, s), oy + rng.uniform(0, s), cr, rng.uniform(0, 6.28), (g, g, g))
    if rng.random() < 0.3:
        g = rng.randint(20, 235)
        draw.line([(rng.uniform(0, w), rng.uniform(0, h)), (rng.uniform(0, w), rng.uniform(0, h))], fill=(g, g, g), width=max(1, s // 80))
    r = s * (rng.uniform(0.13, 0.19) if size == "small" else rng.uniform(0.26, 0.36))
    margin = r + s * 0.04
    span = s / 2 - margin
    dx, dy = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1), "center": (0, 0)}[position]
    jit = 0.25 if position == "center" else 0.35
    cx = ox + s / 2 + (dx * rng.uniform(0.6, 1.0) + rng.uniform(-jit, jit) * (dy != 0 or position == "center")) * span
    cy = oy + s / 2 + (dy * rng.uniform(0.6, 1.0) + rng.uniform(-jit, jit) * (dx != 0 or position == "center")) * span
    rot = rng.uniform(-0.3, 0.3)
    _draw_shape(draw, shape, cx, cy, r, rot, _jitter(rgb or COLOURS[colour], rng, 22))
    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
    if rng.random() < 0.6:
        arr = np.asarray(img).astype(np.float32)
        nrs = np.random.RandomState(rng.randint(0, 2**31 - 1))
        arr += nrs.normal(0, rng.uniform(2, 14), arr.shape)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img, {"colour": colour, "shape": shape, "size": size, "position": position, "width": w, "height": h}


CAPTION_TEMPLATES = [
    "a photo of a {colour} {shape}.",
    "a {colour} {shape}.",
    "a {size} {colour} {shape}.",
    "a {colour} {shape} on the {position}.",
    "a picture of a {size} {colour} {shape} on the {position}.",
    "a {shape} that is {colour}.",
    "a {colour} {shape} on a {background} background.",
    "there is a {colour} {shape} in the image.",
    "{colour} {shape}",
    "a drawing of a {colour} {shape}.",
]
PARTIAL_TEMPLATES = ["a photo of a {colour} object.", "a {shape}.", "something {colour}.", "a photo of a {shape}."]
# Captions that name only the shape: they push shape features that do not depend on colour, which is
# what lets held-out colour x shape pairs be recognised.
SHAPE_ONLY_TEMPLATES = ["a {shape}.", "a photo of a {shape}.", "a {size} {shape}.", "a {shape} on the {position}.",
                        "the shape is a {shape}."]

# Prompts used for zero-shot evaluation (and shipped as the model's label set).
EVAL_TEMPLATES = ["a photo of a {}.", "a {}.", "a drawing of a {}.", "there is a {} in the image."]


GREYSCALE_TEMPLATES = ["a black and white photo of a {shape}.", "a black and white {shape}.", "a grey {shape}."]


def caption(attrs, rng, partial=0.12, shape_only=0.0):
    """A caption for an image: full (colour + shape + extras) or, with the given odds, partial."""
    bg = rng.choice(["grey", "plain", "dark", "light", "noisy", "striped"])
    u = rng.random()
    if attrs.get("greyscale"):
        t = rng.choice(GREYSCALE_TEMPLATES + SHAPE_ONLY_TEMPLATES)
    elif attrs.get("unnamed_colour") or u < shape_only:
        t = rng.choice(SHAPE_ONLY_TEMPLATES)
    elif u < shape_only + partial:
        t = rng.choice(PARTIAL_TEMPLATES)
    else:
        t = rng.choice(CAPTION_TEMPLATES)
    return t.format(background=bg, **attrs)


def clip_resize_crop(img, size=224):
    """CLIP preprocessing up to the crop: bicubic resize of the shortest side, center crop (PIL)."""
    w, h = img.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    img = img.resize((nw, nh), Image.BICUBIC)
    top = int(round((nh - size) / 2.0))
    left = int(round((nw - size) / 2.0))
    return img.crop((left, top, left + size, top + size))
