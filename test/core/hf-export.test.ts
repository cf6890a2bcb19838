// clip-edge on CLIPs exported by Hugging Face transformers' own classes (CLIPVisionModelWithProjection,
// CLIPTextModelWithProjection; random weights, reduced widths; 224 px/patch 32 and 336 px/patch 14),
// against the embeddings transformers computes in PyTorch for the same photos and texts.
// Fixtures and references: test/fixtures/hf-export/make_fixtures.py (run once with torch +
// transformers; CI only reads its output). Photos are preprocessed openai/CLIP's way on the
// reference side, which is what clip-edge implements (see docs/models.md for where that differs
// from transformers' CLIPImageProcessor).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClipTokenizer } from '../../src/core/tokenizer.ts';
import { cosine } from '../../src/core/zeroshot.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { REPO_ROOT } from '../helpers/clip.ts';
import { prerequisite } from '../helpers/prerequisite.ts';

const DIR = path.join(REPO_ROOT, 'test/fixtures/hf-export');
const MIN_COSINE = 0.99999;

interface Reference {
  image_size: number;
  patch_size: number;
  max_pairwise_image_cosine: number;
  max_pairwise_text_cosine?: number;
  images: Record<string, { mode: string; image_embeds: number[]; clip_image_processor_embeds: number[]; clip_image_processor_cosine: number; rgb_first_embeds: number[] }>;
  texts?: Record<string, { input_ids: number[]; text_embeds: number[] }>;
}

const hasNative = (() => {
  try {
    import.meta.resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
})();

describe.each(['clip-224-32', 'clip-336-14'])('%s exported by transformers', (name) => {
  const folder = path.join(DIR, name);
  const ref = JSON.parse(readFileSync(path.join(folder, 'reference.json'), 'utf8')) as Reference;
  const photos = Object.keys(ref.images);
  const here = photos.filter((p) => existsSync(path.resolve(REPO_ROOT, p)));
  const shared = photos.filter((p) => p.startsWith('../shared/'));

  it('the references discriminate: different photos (and texts) give clearly different embeddings', () => {
    expect(ref.max_pairwise_image_cosine).toBeLessThan(0.98);
    if (ref.texts) expect(ref.max_pairwise_text_cosine).toBeLessThan(0.98);
  });

  it.each(hasNative ? ['wasm', 'node'] : ['wasm'])('image embeddings match transformers (cosine ≥ 0.99999) on %s', async (backend) => {
    prerequisite(here.length === photos.length, `../shared/data beside the repository for ${shared.join(', ')}`);
    const clip = await createNodeClipEdge({ model: folder, backend, visionVariant: 'fp32' });
    expect(clip.info.preprocess).toMatchObject({ shortestEdge: ref.image_size, cropHeight: ref.image_size, cropWidth: ref.image_size });
    for (const photo of here) {
      const r = ref.images[photo]!;
      const { embedding } = await clip.embedImage(new Uint8Array(readFileSync(path.resolve(REPO_ROOT, photo))));
      // openai/CLIP converts to RGB after resizing (Pillow resamples RGBA premultiplied); clip-edge,
      // like CLIPImageProcessor, drops alpha when decoding: images with transparency are checked
      // against openai/CLIP's geometry with that one step moved first.
      const hasAlpha = /A/.test(r.mode);
      const c = cosine(embedding, Float32Array.from(hasAlpha ? r.rgb_first_embeds : r.image_embeds));
      expect(c, `${photo} (${r.mode}) vs openai/CLIP preprocessing${hasAlpha ? ', RGB first' : ''}: cosine ${c}`).toBeGreaterThanOrEqual(MIN_COSINE);
      // Where the two preprocessings disagree on an RGB photo (centre-crop rounding), clip-edge is on openai/CLIP's side.
      if (!hasAlpha && r.clip_image_processor_cosine < 0.999) {
        expect(cosine(embedding, Float32Array.from(r.clip_image_processor_embeds))).toBeLessThan(0.999);
      }
    }
    expect(here.length).toBeGreaterThanOrEqual(4);
  });

  it.runIf(name === 'clip-224-32')('text embeddings and token ids match transformers (cosine ≥ 0.99999)', async () => {
    const clip = await createNodeClipEdge({ model: folder, backend: 'wasm' });
    const texts = Object.keys(ref.texts!);
    const json = (f: string) => JSON.parse(readFileSync(path.join(folder, f), 'utf8')) as Record<string, unknown>;
    const tokenizer = createClipTokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    for (const t of texts) expect(tokenizer.encode(t), `"${t}"`).toEqual(ref.texts![t]!.input_ids);
    const { embeddings } = await clip.embedText(texts);
    texts.forEach((t, i) => {
      const c = cosine(embeddings[i]!, Float32Array.from(ref.texts![t]!.text_embeds));
      expect(c, `"${t}": cosine ${c}`).toBeGreaterThanOrEqual(MIN_COSINE);
    });
  });
});
