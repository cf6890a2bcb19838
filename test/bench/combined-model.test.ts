import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { PEER_METADATA_FILES, peerModelFolder } from '../../bench/lib/combined-model.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { memoryPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { cosine } from '../../src/core/zeroshot.ts';
import { EVAL_DIR, MODEL_DIR } from '../helpers/clip.ts';

// The merged graph transformers.js loads must compute what clip-edge computes from the two towers.
describe('bench: combined CLIP graph for transformers.js', () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-combined-'));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('has CLIPModel inputs and outputs, pads short prompts to 77, and matches clip-edge embeddings and logits', async () => {
    const folder = await peerModelFolder(MODEL_DIR, cache, ['fp32']);
    for (const f of PEER_METADATA_FILES) expect(readFileSync(path.join(folder, f), 'utf8')).toBe(readFileSync(path.join(MODEL_DIR, f), 'utf8'));
    const session = await ortNode.InferenceSession.create(path.join(folder, 'onnx/model.onnx'));
    expect([...session.inputNames].sort()).toEqual(['attention_mask', 'input_ids', 'pixel_values']);
    expect([...session.outputNames].sort()).toEqual(['image_embeds', 'logits_per_image', 'logits_per_text', 'text_embeds']);

    const clip = await createNodeClipEdge({ backend: 'node', visionVariant: 'fp32', textVariant: 'fp32', promptCache: memoryPromptCacheStore() });
    const texts = ['a photo of a red circle.', 'a photo of a blue star.'];
    const ours = await clip.embedText(texts);
    // Right-padded to the longest prompt, as transformers.js' tokenizer does (not to 77).
    const tok = JSON.parse(readFileSync(path.join(MODEL_DIR, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
    const ids = texts.map((t) => [49406, ...t.slice(0, -1).split(' ').map((w) => tok.model.vocab[`${w}</w>`]!), tok.model.vocab['.</w>']!, 49407]);
    const len = Math.max(...ids.map((x) => x.length));
    expect(len).toBeLessThan(77);
    const flat = ids.flatMap((x) => [...x, ...Array(len - x.length).fill(49407)]);
    const mask = ids.flatMap((x) => [...x.map(() => 1), ...Array(len - x.length).fill(0)]);
    const image = new Uint8Array(readFileSync(path.join(EVAL_DIR, 'images/red_circle_01.jpg')));
    const { embedding } = await clip.embedImage(image);
    const { clipPreprocess } = await import('../../src/core/image/preprocess.ts');
    const { createImageDecoder } = await import('../../src/core/image/decoder.ts');
    const { nodeImageCodecs } = await import('../../src/runtime/fs/codecs.ts');
    const px = clipPreprocess(await createImageDecoder({ wasm: nodeImageCodecs() }).decode(image), clip.info.preprocess);
    const out = await session.run({
      input_ids: new ortNode.Tensor('int64', BigInt64Array.from(flat, BigInt), [2, len]),
      attention_mask: new ortNode.Tensor('int64', BigInt64Array.from(mask, BigInt), [2, len]),
      pixel_values: new ortNode.Tensor('float32', px, [1, 3, 224, 224]),
    });
    const d = clip.info.embedDim;
    const te = out.text_embeds!.data as Float32Array;
    expect(out.text_embeds!.dims).toEqual([2, d]);
    for (let i = 0; i < 2; i++) expect(cosine(te.subarray(i * d, (i + 1) * d), ours.embeddings[i]!)).toBeGreaterThan(0.99999);
    expect(cosine(out.image_embeds!.data as Float32Array, embedding)).toBeGreaterThan(0.99999);
    expect(out.logits_per_image!.dims).toEqual([1, 2]);
    expect(out.logits_per_text!.dims).toEqual([2, 1]);
    const logits = out.logits_per_image!.data as Float32Array;
    for (let i = 0; i < 2; i++) expect(logits[i]).toBeCloseTo(clip.info.logitScale * cosine(embedding, ours.embeddings[i]!), 3);
  });

  it('is rebuilt only when a source tower changes', async () => {
    const folder = await peerModelFolder(MODEL_DIR, cache, ['int8']);
    const file = path.join(folder, 'onnx/model_int8.onnx');
    const before = statSync(file).mtimeMs;
    await peerModelFolder(MODEL_DIR, cache, ['int8']);
    expect(statSync(file).mtimeMs).toBe(before);
  });

  it('names the missing pair', async () => {
    await expect(peerModelFolder(MODEL_DIR, cache, ['uint8'])).rejects.toThrow(/no uint8 vision \+ text pair/);
  });
});
