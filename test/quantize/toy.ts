import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { floatAttr, intAttr, intsAttr } from '../../quantize/onnx/attrs.ts';
import { buildModel, node, type ModelSpec } from '../../quantize/onnx/build.ts';
import { DT, encodeModel, type ModelProto } from '../../quantize/onnx/model.ts';
import { floatTensor, int64Tensor } from '../../quantize/onnx/tensor.ts';
import { REPO_ROOT } from '../../quantize/verify/data.ts';

/** Deterministic pseudo-random values in [-scale, scale]. */
export function rand(n: number, scale = 1, seed = 1): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = (x / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

export const EMBED = 32;

/** A CLIP-shaped vision tower small enough for tests: patch Conv → mean → MatMul → LayerNorm → MatMul. */
export function toyVision(overrides: Partial<ModelSpec> = {}): ModelProto {
  const C = 64;
  return buildModel({
    inputs: [{ name: 'pixel_values', elemType: DT.FLOAT, shape: ['batch', 3, 224, 224] }],
    outputs: [{ name: 'image_embeds', elemType: DT.FLOAT, shape: ['batch', EMBED] }],
    initializers: [
      floatTensor('patch.weight', [C, 3, 32, 32], rand(C * 3 * 32 * 32, 0.02, 2)),
      floatTensor('patch.bias', [C], rand(C, 0.1, 3)),
      floatTensor('fc.weight', [C, C], rand(C * C, 0.2, 4)),
      floatTensor('ln.weight', [C], rand(C, 1, 5).map((v) => 1 + 0.1 * v)),
      floatTensor('ln.bias', [C], rand(C, 0.1, 6)),
      floatTensor('proj', [C, EMBED], rand(C * EMBED, 0.2, 7)),
    ],
    nodes: [
      node({ op: 'Conv', inputs: ['pixel_values', 'patch.weight', 'patch.bias'], outputs: ['patches'], attrs: [intsAttr('kernel_shape', [32, 32]), intsAttr('strides', [32, 32])] }),
      node({ op: 'ReduceMean', inputs: ['patches'], outputs: ['pooled'], attrs: [intsAttr('axes', [2, 3]), intAttr('keepdims', 0)] }),
      node({ op: 'MatMul', inputs: ['pooled', 'fc.weight'], outputs: ['hidden'] }),
      node({ op: 'LayerNormalization', inputs: ['hidden', 'ln.weight', 'ln.bias'], outputs: ['normed'], attrs: [intAttr('axis', -1), floatAttr('epsilon', 1e-5)] }),
      node({ op: 'MatMul', inputs: ['normed', 'proj'], outputs: ['image_embeds'] }),
    ],
    ...overrides,
  });
}

/** A CLIP-shaped text tower: token embedding (CLIP's 49,408 rows) → masked mean → MLP. */
export function toyText(): ModelProto {
  const V = 49408;
  const D = 16;
  const H = 64;
  return buildModel({
    inputs: [
      { name: 'input_ids', elemType: DT.INT64, shape: ['batch', 77] },
      { name: 'attention_mask', elemType: DT.INT64, shape: ['batch', 77] },
    ],
    outputs: [{ name: 'text_embeds', elemType: DT.FLOAT, shape: ['batch', EMBED] }],
    initializers: [
      floatTensor('token_embedding', [V, D], rand(V * D, 0.5, 8)),
      int64Tensor('axis2', [1], [2]),
      floatTensor('fc1', [D, H], rand(D * H, 0.5, 9)),
      floatTensor('fc2', [H, EMBED], rand(H * EMBED, 0.3, 10)),
    ],
    nodes: [
      node({ op: 'Gather', inputs: ['token_embedding', 'input_ids'], outputs: ['tokens'] }),
      node({ op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attrs: [intAttr('to', DT.FLOAT)] }),
      node({ op: 'Unsqueeze', inputs: ['mask_f', 'axis2'], outputs: ['mask3'] }),
      node({ op: 'Mul', inputs: ['tokens', 'mask3'], outputs: ['masked'] }),
      node({ op: 'ReduceMean', inputs: ['masked'], outputs: ['summed'], attrs: [intsAttr('axes', [1]), intAttr('keepdims', 0)] }),
      node({ op: 'MatMul', inputs: ['summed', 'fc1'], outputs: ['h1'] }),
      node({ op: 'Relu', inputs: ['h1'], outputs: ['h2'] }),
      node({ op: 'MatMul', inputs: ['h2', 'fc2'], outputs: ['text_embeds'] }),
    ],
    opset: 13,
  });
}

/** A model folder in the Hugging Face layout (no manifest.json) with the toy towers and tiny-clip's tokenizer. */
export function toyFolder(vision: ModelProto = toyVision(), text: ModelProto = toyText()): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-quantize-'));
  mkdirSync(path.join(dir, 'onnx'));
  writeFileSync(path.join(dir, 'onnx/vision_model.onnx'), encodeModel(vision));
  writeFileSync(path.join(dir, 'onnx/text_model.onnx'), encodeModel(text));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'clip', projection_dim: EMBED, text_config: { max_position_embeddings: 77 }, vision_config: { image_size: 224 } }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(REPO_ROOT, 'models/tiny-clip', f), path.join(dir, f));
  return dir;
}

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

/** Runs a model in onnxruntime-web (WASM) and returns its outputs' data. */
export async function runOrt(model: ModelProto | Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(model instanceof Uint8Array ? model : encodeModel(model));
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

export { ort };

export { cosine as cosineOf } from '../../src/core/zeroshot.ts';

export const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
