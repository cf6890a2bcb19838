import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { floatAttr, intAttr, intsAttr } from '../../quantize/onnx/attrs.ts';
import { buildModel, node } from '../../quantize/onnx/build.ts';
import { readOnnx } from '../../quantize/onnx/io.ts';
import { DT, decodeModel, encodeModel, type ModelProto, type TensorProto } from '../../quantize/onnx/model.ts';
import { floatTensor, int64Tensor } from '../../quantize/onnx/tensor.ts';
import { checkClipSignature, passesFor, QUANT_VARIANTS, runPasses } from '../../quantize/pipeline.ts';
import { isClipEdgeError } from '../../src/core/errors.ts';
import type { Tower } from '../../src/core/precision.ts';
import { FuzzFinding } from './image-target.ts';
import { applyMutations, type Mutation } from './image-mutations.ts';

/**
 * Fuzzing the ONNX reader and the quantizer: small CLIP-shaped towers (every pass has work:
 * Conv, MatMul, Gather, LayerNorm), mutated as bytes (bit flips, truncation, splices) and as
 * structure (tensor dims and types set to extremes, raw data cut, ops and attributes swapped,
 * names dangling, external-data locations pointing outside the folder). Each mutated file is read
 * with the quantizer's reader and run through fp16, int8 and q4.
 */

const rand = (n: number, scale: number, seed: number): Float32Array => {
  let x = seed;
  return Float32Array.from({ length: n }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 2 * scale);
};

export function seedVision(): ModelProto {
  return buildModel({
    inputs: [{ name: 'pixel_values', elemType: DT.FLOAT, shape: ['batch', 3, 224, 224] }],
    outputs: [{ name: 'image_embeds', elemType: DT.FLOAT, shape: ['batch', 16] }],
    initializers: [
      floatTensor('patch.weight', [8, 3, 32, 32], rand(8 * 3 * 32 * 32, 0.02, 2)),
      floatTensor('fc.weight', [8, 128], rand(8 * 128, 0.2, 4)),
      floatTensor('ln.weight', [128], rand(128, 1, 5)),
      floatTensor('ln.bias', [128], rand(128, 0.1, 6)),
      floatTensor('proj', [128, 16], rand(128 * 16, 0.2, 7)),
    ],
    nodes: [
      node({ op: 'Conv', inputs: ['pixel_values', 'patch.weight'], outputs: ['patches'], attrs: [intsAttr('kernel_shape', [32, 32]), intsAttr('strides', [32, 32])] }),
      node({ op: 'ReduceMean', inputs: ['patches'], outputs: ['pooled'], attrs: [intsAttr('axes', [2, 3]), intAttr('keepdims', 0)] }),
      node({ op: 'MatMul', inputs: ['pooled', 'fc.weight'], outputs: ['hidden'] }),
      node({ op: 'LayerNormalization', inputs: ['hidden', 'ln.weight', 'ln.bias'], outputs: ['normed'], attrs: [intAttr('axis', -1), floatAttr('epsilon', 1e-5)] }),
      node({ op: 'MatMul', inputs: ['normed', 'proj'], outputs: ['image_embeds'] }),
    ],
  });
}

export function seedText(): ModelProto {
  return buildModel({
    inputs: [
      { name: 'input_ids', elemType: DT.INT64, shape: ['batch', 77] },
      { name: 'attention_mask', elemType: DT.INT64, shape: ['batch', 77] },
    ],
    outputs: [{ name: 'text_embeds', elemType: DT.FLOAT, shape: ['batch', 16] }],
    initializers: [
      floatTensor('token_embedding', [512, 8], rand(512 * 8, 0.5, 8)),
      int64Tensor('axis1', [1], [1]),
      floatTensor('fc1', [8, 128], rand(8 * 128, 0.5, 9)),
      floatTensor('fc2', [128, 16], rand(128 * 16, 0.3, 10)),
    ],
    nodes: [
      node({ op: 'Gather', inputs: ['token_embedding', 'input_ids'], outputs: ['tokens'] }),
      node({ op: 'ReduceMean', inputs: ['tokens'], outputs: ['summed'], attrs: [intsAttr('axes', [1]), intAttr('keepdims', 0)] }),
      node({ op: 'MatMul', inputs: ['summed', 'fc1'], outputs: ['h1'] }),
      node({ op: 'Relu', inputs: ['h1'], outputs: ['h2'] }),
      node({ op: 'MatMul', inputs: ['h2', 'fc2'], outputs: ['text_embeds'] }),
    ],
    opset: 13,
  });
}

export const MODEL_SEEDS: readonly { tower: Tower; build: () => ModelProto }[] = [
  { tower: 'vision', build: seedVision },
  { tower: 'text', build: seedText },
];

/** A structural edit of a decoded model, as data (printable, replayable). */
export type StructMutation =
  | { kind: 'dims'; tensor: number; dims: number[] }
  | { kind: 'dtype'; tensor: number; type: number }
  | { kind: 'cutRaw'; tensor: number; keep: number }
  | { kind: 'external'; tensor: number; location: string; offset: number; length: number }
  | { kind: 'op'; node: number; op: string; domain: string }
  | { kind: 'input'; node: number; slot: number; name: string }
  | { kind: 'attr'; node: number; ints: number[] }
  | { kind: 'dropNode'; node: number }
  | { kind: 'dupInit'; tensor: number }
  | { kind: 'opset'; version: number }
  | { kind: 'outputType'; type: number };

const EXTREME_DIMS = [0, 1, -1, 3, 1023, 1024, 2 ** 16, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1];
const OPS = ['MatMul', 'Gemm', 'Conv', 'Gather', 'LayerNormalization', 'Softmax', 'Add', 'Cast', 'Reshape', 'MatMulInteger', 'If', 'Loop', 'Nope'];

const structArb: fc.Arbitrary<StructMutation> = fc.oneof(
  fc.record({ kind: fc.constant('dims' as const), tensor: fc.nat(), dims: fc.array(fc.constantFrom(...EXTREME_DIMS), { minLength: 0, maxLength: 5 }) }),
  fc.record({ kind: fc.constant('dtype' as const), tensor: fc.nat(), type: fc.integer({ min: -1, max: 30 }) }),
  fc.record({ kind: fc.constant('cutRaw' as const), tensor: fc.nat(), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('external' as const),
    tensor: fc.nat(),
    location: fc.constantFrom('../../etc/passwd', '/etc/passwd', 'missing.bin', 'data.bin', '', 'a/../../b'),
    offset: fc.constantFrom(0, 4, 2 ** 40, -1),
    length: fc.constantFrom(0, 16, 4096, 2 ** 40, -1),
  }),
  fc.record({ kind: fc.constant('op' as const), node: fc.nat(), op: fc.constantFrom(...OPS), domain: fc.constantFrom('', 'com.microsoft', 'ai.onnx.ml', 'com.example') }),
  fc.record({ kind: fc.constant('input' as const), node: fc.nat(), slot: fc.nat({ max: 4 }), name: fc.constantFrom('', 'nowhere', 'pixel_values', 'input_ids', 'image_embeds', 'patch.weight', 'fc1') }),
  fc.record({ kind: fc.constant('attr' as const), node: fc.nat(), ints: fc.array(fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53 - 1), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('dropNode' as const), node: fc.nat() }),
  fc.record({ kind: fc.constant('dupInit' as const), tensor: fc.nat() }),
  fc.record({ kind: fc.constant('opset' as const), version: fc.constantFrom(0, 1, 7, 99, 2 ** 31) }),
  fc.record({ kind: fc.constant('outputType' as const), type: fc.integer({ min: 0, max: 25 }) }),
);

function applyStruct(model: ModelProto, m: StructMutation): void {
  const g = model.graph!;
  const tensor = (i: number): TensorProto | undefined => g.initializer[i % Math.max(1, g.initializer.length)];
  const nodeAt = (i: number) => g.node[i % Math.max(1, g.node.length)];
  switch (m.kind) {
    case 'dims': {
      const t = tensor(m.tensor);
      if (t) t.dims = m.dims;
      break;
    }
    case 'dtype': {
      const t = tensor(m.tensor);
      if (t) t.data_type = m.type;
      break;
    }
    case 'cutRaw': {
      const t = tensor(m.tensor);
      if (t?.raw_data) t.raw_data = t.raw_data.subarray(0, m.keep % (t.raw_data.byteLength + 1));
      break;
    }
    case 'external': {
      const t = tensor(m.tensor);
      if (!t) break;
      t.data_location = 1;
      t.raw_data = new Uint8Array(0);
      t.external_data = [
        { key: 'location', value: m.location },
        { key: 'offset', value: String(m.offset) },
        { key: 'length', value: String(m.length) },
      ];
      break;
    }
    case 'op': {
      const n = nodeAt(m.node);
      if (n) Object.assign(n, { op_type: m.op, domain: m.domain });
      break;
    }
    case 'input': {
      const n = nodeAt(m.node);
      if (n) n.input[m.slot] = m.name;
      break;
    }
    case 'attr': {
      const n = nodeAt(m.node);
      const a = n?.attribute[0];
      if (a) Object.assign(a, { ints: m.ints, i: m.ints[0] ?? 0 });
      break;
    }
    case 'dropNode':
      if (g.node.length) g.node.splice(m.node % g.node.length, 1);
      break;
    case 'dupInit': {
      const t = tensor(m.tensor);
      if (t) g.initializer.push({ ...t });
      break;
    }
    case 'opset':
      model.opset_import[0]!.version = m.version;
      break;
    case 'outputType': {
      const tt = g.output[0]?.type?.tensor_type;
      if (tt) tt.elem_type = m.type;
      break;
    }
  }
}

export interface ModelCase {
  seed: number;
  struct: StructMutation[];
  bytes: Mutation[];
}

/** Structural edits (0–3), then byte edits (0–3); at least one edit. */
export const modelCaseArb: fc.Arbitrary<ModelCase> = fc
  .record({
    seed: fc.nat({ max: MODEL_SEEDS.length - 1 }),
    struct: fc.array(structArb, { maxLength: 3 }),
    bytes: fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0, 0xff, 0x7f, 0x80) }),
        fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), length: fc.integer({ min: 1, max: 256 }) }),
      ),
      { maxLength: 3 },
    ),
  })
  .filter((c) => c.struct.length + c.bytes.length > 0);

/** The seed models, encoded once. */
const seedBytes = new Map<number, Uint8Array>();

export function modelBytesOf(c: ModelCase): Uint8Array {
  if (!c.struct.length) {
    if (!seedBytes.has(c.seed)) seedBytes.set(c.seed, encodeModel(MODEL_SEEDS[c.seed]!.build()));
    return applyMutations(seedBytes.get(c.seed)!, c.bytes);
  }
  const model = MODEL_SEEDS[c.seed]!.build();
  for (const m of c.struct) applyStruct(model, m);
  let bytes: Uint8Array;
  try {
    bytes = encodeModel(model);
  } catch {
    // protobufjs refuses some edits (e.g. a dim it cannot encode): the unedited seed's bytes then.
    bytes = encodeModel(MODEL_SEEDS[c.seed]!.build());
  }
  return applyMutations(bytes, c.bytes);
}

/** Codes the quantizer may fail with on a bad model file. */
export const MODEL_ERROR_CODES: ReadonlySet<string> = new Set(['MODEL_INVALID', 'MODEL_NOT_FOUND']);

export type ModelOutcome = { ok: true; variants: number } | { ok: false; code: string };

/** A scratch folder per process: the reader resolves external data beside the file. */
let scratch: string | undefined;
export function fuzzScratchDir(): string {
  scratch ??= mkdtempSync(path.join(tmpdir(), 'clip-edge-fuzz-'));
  writeFileSync(path.join(scratch, 'data.bin'), new Uint8Array(4096));
  return scratch;
}
export const removeFuzzScratch = (): void => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
};

/**
 * Reads one mutated model file and runs every variant's passes on it. Allowed: success, or a
 * ClipEdgeError MODEL_INVALID / MODEL_NOT_FOUND whose message names the file but no other path.
 */
export async function checkModel(bytes: Uint8Array, tower: Tower): Promise<ModelOutcome> {
  const dir = fuzzScratchDir();
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, bytes);
  let done = 0;
  try {
    const src = await readOnnx(file);
    for (const variant of QUANT_VARIANTS) {
      const model = src.decode();
      checkClipSignature(model, tower, 'model.onnx');
      await runPasses(model, passesFor(variant), { where: 'model.onnx', log: () => {} });
      decodeModel(encodeModel(model), 'model.onnx (written)');
      done++;
    }
    return { ok: true, variants: done };
  } catch (e) {
    if (e instanceof FuzzFinding) throw e;
    if (!isClipEdgeError(e)) throw new FuzzFinding(`quantizer threw a non-ClipEdgeError after ${done} variants: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
    if (!MODEL_ERROR_CODES.has(e.code)) throw new FuzzFinding(`quantizer failed with code ${e.code}: ${e.message}`, { cause: e });
    if (/\/etc\/passwd:|\n\s+at /.test(e.message)) throw new FuzzFinding(`error message leaks: ${e.message}`);
    return { ok: false, code: e.code };
  }
}
