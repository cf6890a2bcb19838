// A model folder that holds only some of the variants its manifest lists — the npm package's
// bundled model (int8 towers only, see package.json "files"), or `clip-edge pull --variants int8`.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { EVAL_DIR, MODEL_DIR } from '../helpers/clip.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-partial-'));
const model = path.join(dir, 'tiny-clip');
// What the package ships of models/tiny-clip: metadata, label sets, prompt caches, int8 encoders.
cpSync(MODEL_DIR, model, { recursive: true, filter: (src) => !src.endsWith('.onnx') || src.endsWith('_int8.onnx') });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const photo = new Uint8Array(readFileSync(path.join(EVAL_DIR, 'images/red_circle_01.jpg')));

describe('a folder with some of its manifest variants', () => {
  it('auto picks a variant the folder holds, and lists the others as missing', async () => {
    const clip = await createNodeClipEdge({ model, backend: 'wasm' });
    expect(Object.keys(clip.info.variants)).toEqual(['int8']);
    expect(Object.keys(clip.info.missing).sort()).toEqual(['fp16', 'fp32', 'q4']);
    const r = await clip.classify(photo, { labels: ['red circle', 'blue star', 'green heart'] });
    expect(r.variant).toEqual({ vision: 'int8', text: 'int8' });
    expect(r.results[0]!.label).toBe('red circle');
  });

  it('still uses the prompt caches the (absent) fp32 text encoder built: its hash is in the manifest', async () => {
    const clip = await createNodeClipEdge({ model, backend: 'wasm', text: false });
    const r = await clip.classify(photo, { labelSet: 'tiny-clip-shapes', topK: 1 });
    expect(r.classes.source).toBe('prompt-cache');
    expect(r.results[0]!.label).toBe('red circle');
  });

  it('asking for a listed but absent variant names the missing file', async () => {
    await expect(createNodeClipEdge({ model, backend: 'wasm', visionVariant: 'fp32' })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringMatching(/onnx\/vision_model\.onnx is missing/),
    });
  });
});
