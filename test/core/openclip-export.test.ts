// The ResNet (attention-pool head) and ViT families of OpenAI's model card, as open_clip's own model
// code builds them, exported to ONNX and run through clip-edge, against what open_clip computes in
// PyTorch for the same photos and prompts. Fixtures: small widths of each family with random
// weights (test/fixtures/openclip/{rn,vit}); references and ONNX files by
// models/recipes/openclip/export.py (`npm run models:build -- openclip-fixtures`: open_clip_torch
// 3.3.0 on Debian's torch 1.13; CI only reads the output). The full-shape stand-ins are checked the
// same way by models/recipes/openclip/check.ts when `npm run models:build -- <name>-random` builds them.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quantizeModelFolder } from '../../quantize/folder.ts';
import { numel } from '../../quantize/onnx/model.ts';
import { readOnnx } from '../../quantize/onnx/io.ts';
import { parseGates } from '../../quantize/verify/gates.ts';
import { openTower } from '../../quantize/verify/runner.ts';
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { clipPreprocess } from '../../src/core/image/preprocess.ts';
import type { PreprocessConfig } from '../../src/core/model/info.ts';
import { createClipTokenizer } from '../../src/core/tokenizer.ts';
import { cosine } from '../../src/core/zeroshot.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { REPO_ROOT } from '../helpers/clip.ts';

const DIR = path.join(REPO_ROOT, 'test/fixtures/openclip');
const MIN_COSINE = 0.99999;

interface Reference {
  model: string;
  image_size: number;
  max_pairwise_image_cosine: number;
  max_pairwise_text_cosine?: number;
  images: Record<string, { image_embeds: number[] }>;
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
const BACKENDS = hasNative ? ['wasm', 'node'] : ['wasm'];

const readRef = (name: string) => JSON.parse(readFileSync(path.join(DIR, name, 'reference.json'), 'utf8')) as Reference;
const photo = (rel: string) => new Uint8Array(readFileSync(path.join(REPO_ROOT, rel)));
/** Index of the largest value. */
const argmax = (xs: readonly number[]) => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);

describe.each([
  ['rn', 'ModifiedResNet + AttentionPool2d, 96 px'],
  ['vit', 'VisionTransformer, patch 14, 56 px'],
])('open_clip small %s (%s)', (name) => {
  const folder = path.join(DIR, name);
  const ref = readRef(name);
  const photos = Object.keys(ref.images);

  it('the references discriminate: different photos give clearly different embeddings', () => {
    expect(photos.length).toBeGreaterThanOrEqual(4);
    expect(ref.max_pairwise_image_cosine).toBeLessThan(0.98);
  });

  it.each(BACKENDS)('image embeddings equal open_clip’s PyTorch forward (cosine ≥ 0.99999) on %s', async (backend) => {
    const clip = await createNodeClipEdge({ model: folder, backend, visionVariant: 'fp32', text: false });
    // open_clip's preprocessing config: the model's input size, shortest side then centre crop.
    expect(clip.info.preprocess).toMatchObject({ shortestEdge: ref.image_size, cropHeight: ref.image_size, cropWidth: ref.image_size });
    for (const p of photos) {
      const { embedding } = await clip.embedImage(photo(p));
      const c = cosine(embedding, Float32Array.from(ref.images[p]!.image_embeds));
      expect(c, `${p}: cosine ${c}`).toBeGreaterThanOrEqual(MIN_COSINE);
    }
  });
});

describe('open_clip small rn: text tower and classification through the kit', () => {
  const folder = path.join(DIR, 'rn');
  const ref = readRef('rn');
  const texts = Object.keys(ref.texts!);

  it('token ids equal open_clip’s tokenizer; text embeddings equal its encode_text (cosine ≥ 0.99999)', async () => {
    // A text tower 4 wide: prompts sit closer together than photos, but still far from 1 − 1e-5.
    expect(ref.max_pairwise_text_cosine).toBeLessThan(0.995);
    const json = (f: string) => JSON.parse(readFileSync(path.join(folder, f), 'utf8')) as Record<string, unknown>;
    const tokenizer = createClipTokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    for (const t of texts) expect(tokenizer.encode(t), `"${t}"`).toEqual(ref.texts![t]!.input_ids);
    for (const backend of BACKENDS) {
      const clip = await createNodeClipEdge({ model: folder, backend, textVariant: 'fp32' });
      const { embeddings } = await clip.embedText(texts);
      texts.forEach((t, i) => {
        const c = cosine(embeddings[i]!, Float32Array.from(ref.texts![t]!.text_embeds));
        expect(c, `${backend} "${t}": cosine ${c}`).toBeGreaterThanOrEqual(MIN_COSINE);
      });
    }
  });

  it.each(BACKENDS)('classify ranks the prompts as open_clip’s embeddings do (%s, fp32)', async (backend) => {
    const clip = await createNodeClipEdge({ model: folder, backend, visionVariant: 'fp32', textVariant: 'fp32' });
    for (const p of Object.keys(ref.images)) {
      const img = Float32Array.from(ref.images[p]!.image_embeds);
      const expected = texts[argmax(texts.map((t) => cosine(img, Float32Array.from(ref.texts![t]!.text_embeds))))];
      const r = await clip.classify(photo(p), { labels: texts, templates: ['{}'], topK: texts.length });
      expect(r.results[0]!.label, p).toBe(expected);
      expect(r.results.reduce((s, x) => s + x.score, 0)).toBeCloseTo(1, 5);
    }
  });
});

describe('int8 ResNet through the quantizer: Conv → ConvInteger, gated against fp32, served on WASM and onnxruntime-node', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'clip-edge-openclip-'));
  const folder = path.join(work, 'rn');
  cpSync(path.join(DIR, 'rn'), folder, { recursive: true });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const ref = readRef('rn');

  it('every Conv and MatMul the selection admits is quantized, the variant passes the int8 cosine gates, and its .ort is written', async () => {
    const r = await quantizeModelFolder(folder, {
      io: { source: fsModelSource(folder), imageCodecs: nodeImageCodecs() },
      variants: ['int8'],
      towers: ['vision'],
      ort: ['int8'],
      // Random weights with a 4-wide text tower: near-tied classes make top-1 agreement meaningless (cosine gates stay).
      gates: parseGates('int8.top1Agreement=0'),
      budget: { maxImages: 16, maxTemplates: 1, latencyRuns: 2 },
      sharedDataDir: null,
    });
    const report = r.reports[0]!;
    expect(r.failures, JSON.stringify(report.cosine)).toEqual([]);
    expect(report.written).toBe(true);
    // 3 stem convs + 3 per Bottleneck × 4 + a 1×1 downsample conv × 4 (ModifiedResNet [1,1,1,1]), BatchNorm
    // folded in by the export; the default selection leaves weights under 1,024 elements float32 (at
    // this width the stem and the first blocks; at RN50's width none), and takes every other one.
    const fp32 = (await readOnnx(path.join(folder, 'onnx/vision_model.onnx'))).decode();
    const inits = new Map(fp32.graph!.initializer.map((t) => [t.name, t]));
    const convs = fp32.graph!.node.filter((n) => n.op_type === 'Conv');
    expect(convs).toHaveLength(3 + 3 * 4 + 4);
    const large = convs.filter((n) => numel(inits.get(n.input[1]!)!.dims) >= 1024);
    expect(large.length).toBeGreaterThanOrEqual(6);
    // A CNN tower: the leading Convs whose weights are ≤ 1.5 % of all stay float32 (CNN_LEADING_FLOAT);
    // every other Conv reads a ReLU output and is quantized with one activation scale per image.
    const conv = report.passes.find((x) => x.pass === 'int8-conv')!.report;
    expect(conv.leadingFloatConvs).toBeGreaterThanOrEqual(1);
    expect(conv.quantizedNodes).toBe(large.filter((n) => convs.indexOf(n) >= Number(conv.leadingFloatConvs)).length);
    expect(conv.perImageActivations).toBe(conv.quantizedNodes);
    expect(conv.perBatchActivations).toBe(0);
    // The leading float32 block's residual join, Relu(Conv + downsample), is one FusedConv (summed in place).
    const fuse = report.passes.find((x) => x.pass === 'fuse-residual')!.report;
    expect(fuse.fusedNodes).toBeGreaterThanOrEqual(1);
    // The attention pool's q/k/v/c projections, their activations quantized per token (no DynamicQuantizeLinear).
    const matmul = report.passes.find((x) => x.pass === 'int8-matmul')!.report;
    expect(matmul.quantizedNodes).toBeGreaterThanOrEqual(4);
    const int8 = (await readOnnx(path.join(folder, 'onnx/vision_model_int8.onnx'))).decode();
    expect(int8.graph!.node.filter((n) => n.op_type === 'DynamicQuantizeLinear')).toEqual([]);
    expect(report.cosine.mean).toBeGreaterThanOrEqual(0.99);
    expect(r.ortReports.map((x) => `${x.variant} ${x.tower} ${x.written}`)).toEqual(['int8 vision true']);
  });

  it.each(BACKENDS)('the int8 ResNet embeds and classifies on %s, within the gate of open_clip’s fp32 embeddings', async (backend) => {
    const clip = await createNodeClipEdge({ model: folder, backend, visionVariant: 'int8', textVariant: 'fp32' });
    for (const p of Object.keys(ref.images)) {
      const { embedding, variant } = await clip.embedImage(photo(p));
      expect(variant).toBe('int8');
      const c = cosine(embedding, Float32Array.from(ref.images[p]!.image_embeds));
      expect(c, `${p}: int8 vs PyTorch fp32 cosine ${c}`).toBeGreaterThanOrEqual(0.99);
      const r = await clip.classify(photo(p), { labels: Object.keys(ref.texts!), templates: ['{}'], topK: 2 });
      expect(r.results).toHaveLength(2);
    }
  });

  it('an image’s int8 embedding does not depend on the other images in its batch (activations quantized per image)', async () => {
    const info = JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as { preprocess: PreprocessConfig; imageSize: number };
    const decoder = createImageDecoder({ wasm: nodeImageCodecs() });
    const pixels = await Promise.all(Object.keys(ref.images).map(async (p) => clipPreprocess(await decoder.decode(photo(p)), info.preprocess)));
    const S = info.imageSize;
    const bytes = new Uint8Array(readFileSync(path.join(folder, 'onnx/vision_model_int8.onnx')));
    const embed = async (batch: number) => {
      const s = await openTower({ bytes }, { tower: 'vision', pixels, height: S, width: S }, 'int8', batch);
      const e = await s.embed();
      await s.release();
      return e;
    };
    // The photos' activation ranges differ, so one scale per batch would give different answers.
    expect(Array.from(await embed(pixels.length))).toEqual(Array.from(await embed(1)));
  });
});
