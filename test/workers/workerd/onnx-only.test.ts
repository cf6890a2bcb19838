import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorkersClipEdge } from '../../../src/runtime/workers/create.ts';
import { MODEL_DIR } from '../fixtures.ts';
import { envWith, populate, repoFile } from './helpers.ts';

// A model folder uploaded without its .ort files (an .onnx-only upload, or a copy of the package's
// folder made by hand) still loads under the Worker's default CLIP_EDGE_IN_PLACE: the variant falls
// back to its .onnx, copied into onnxruntime's memory, instead of failing MODEL_NOT_FOUND. Its own
// file (isolate): it loads a kit, and R2 copies after a kit load in the same isolate hung workerd
// (see sources.test.ts).

beforeAll(async () => {
  await populate();
  for (const o of (await env.MODELS.list({ prefix: 'tiny-clip/' })).objects) {
    if (o.key.endsWith('.ort')) continue;
    await env.MODELS.put(o.key.replace(/^tiny-clip\//, 'onnx-only-clip/'), await (await env.MODELS.get(o.key))!.arrayBuffer());
  }
  await env.MODELS.put('onnx-only-clip/onnx/vision_model_int8.onnx', await repoFile(`${MODEL_DIR}/onnx/vision_model_int8.onnx`));
});

describe('a folder without the .ort files the manifest lists', () => {
  it('loads the .onnx by copying (in place is the default) and classifies', async () => {
    const clip = await createWorkersClipEdge(envWith({ CLIP_EDGE_MODEL: 'onnx-only-clip' }));
    const jpeg = await repoFile('test/fixtures/tiny-clip-eval/images/red_circle_01.jpg');
    const r = await clip.classify(jpeg, { labelSet: 'tiny-clip-shapes', topK: 1 });
    expect(r.results[0]!.label).toBe('red circle');
    expect(clip.status().active.vision).toEqual({ variant: 'int8', loaded: true }); // loaded, and not in place
  });
});
