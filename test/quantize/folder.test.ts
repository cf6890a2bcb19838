import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelInfo } from '../../src/core/model/info.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { node } from '../../quantize/onnx/build.ts';
import { commitStaged, stageOnnx } from '../../quantize/onnx/io.ts';
import { DT, encodeModel } from '../../quantize/onnx/model.ts';
import { quantizeModelFolder, type QuantizeFolderOptions } from '../../quantize/folder.ts';
import { DEFAULT_GATES, parseGates } from '../../quantize/verify/gates.ts';
import { toyFolder, toyVision } from './toy.ts';

/** Small verification budget: 12 images of the bundled eval set, 1 template, 2 timed runs. */
/** The Node I/O the CLI hands the quantizer. */
const io = (dir: string): QuantizeFolderOptions['io'] => ({ source: fsModelSource(dir), imageCodecs: nodeImageCodecs() });
const FAST: Partial<QuantizeFolderOptions> = { budget: { maxImages: 12, maxTemplates: 1, latencyRuns: 2 }, sharedDataDir: null };

const hashes = (dir: string) =>
  Object.fromEntries(readdirSync(path.join(dir, 'onnx')).map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, 'onnx', f))).digest('hex')]));
const listing = (dir: string) => [...readdirSync(dir), ...readdirSync(path.join(dir, 'onnx')).map((f) => `onnx/${f}`)].sort();

describe('quantizeModelFolder on a toy CLIP folder', () => {
  it('writes fp16, int8 and q4 of both towers, creates manifest.json, and leaves fp32 untouched', async () => {
    const dir = toyFolder();
    const before = hashes(dir);
    // Random weights: near-tied classes make top-1 agreement meaningless here (the tiny-clip test gates it).
    const r = await quantizeModelFolder(dir, { io: io(dir), variants: ['fp16', 'int8', 'q4'], gates: parseGates('int8.top1Agreement=0'), ...FAST });
    expect(r.failures).toEqual([]);
    expect(r.reports.map((x) => `${x.variant} ${x.tower} ${x.written}`)).toEqual([
      'fp16 vision true', 'int8 vision true', 'q4 vision true', 'fp16 text true', 'int8 text true', 'q4 text true',
    ]);
    for (const x of r.reports) {
      expect(x.cosine.n).toBe(x.tower === 'vision' ? 12 : 64); // images, or prompts (64 classes × 1 template)
      expect(x.cosine.mean).toBeGreaterThan(DEFAULT_GATES[x.variant].cosineMean!);
      expect(x.top1!.n).toBeGreaterThan(0);
      expect(x.latency.ms).toBeGreaterThan(0);
    }
    // int8 rows of 16 plus a float32 scale per row: (16 + 4) / 64 bytes of float32.
    expect(r.reports.find((x) => x.variant === 'int8' && x.tower === 'text')!.sizeRatio).toBeCloseTo(0.3125, 2);
    // fp32 files are byte-identical; the manifest lists every variant with size and sha256 and loads.
    const after = hashes(dir);
    expect(after['vision_model.onnx']).toBe(before['vision_model.onnx']);
    expect(after['text_model.onnx']).toBe(before['text_model.onnx']);
    const info = await readModelInfo(fsModelSource(dir));
    expect(info.variants.int8?.vision).toEqual({ file: 'onnx/vision_model_int8.onnx', bytes: expect.any(Number), sha256: after['vision_model_int8.onnx'] });
    expect(info.variants.fp32?.text?.sha256).toBe(before['text_model.onnx']);
    expect((info.manifest!.quantization as Record<string, Record<string, { gate: { passed: boolean } }>>).q4!.text!.gate.passed).toBe(true);
    expect(listing(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a variant that misses its gate is not written, and the failure names the gate and the value', async () => {
    const dir = toyFolder();
    const files = listing(dir);
    const gates = { ...parseGates(undefined), int8: { cosineMean: 1.01 } };
    const r = await quantizeModelFolder(dir, { io: io(dir), variants: ['int8'], towers: ['vision'], gates, ...FAST });
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatch(/^int8 vision: cosine mean 0\.99\d+ < 1\.01 \(gate cosineMean\)$/);
    expect(r.reports[0]!.written).toBe(false);
    expect(listing(dir)).toEqual(files); // no variant, no manifest, no temporary files

    const forced = await quantizeModelFolder(dir, { io: io(dir), variants: ['int8'], towers: ['vision'], gates, force: true, ...FAST });
    expect(forced.reports[0]!.written).toBe(true);
    expect(listing(dir)).toContain('onnx/vision_model_int8.onnx');
  });

  it('a float32 source in external data (as models over 2 GB are) is read, verified and quantized', async () => {
    const dir = toyFolder();
    await commitStaged(await stageOnnx(path.join(dir, 'onnx/vision_model.onnx'), toyVision(), { externalData: true }));
    const r = await quantizeModelFolder(dir, { io: io(dir), variants: ['int8'], towers: ['vision'], gates: parseGates('int8.top1Agreement=0'), ...FAST });
    expect(r.failures).toEqual([]);
    expect(r.reports[0]!.cosine.mean).toBeGreaterThan(0.99);
    expect(r.reports[0]!.sizeRatio).toBeLessThan(0.3); // against the .onnx and its data file
    expect(listing(dir)).toEqual(expect.arrayContaining(['onnx/vision_model.onnx_data', 'onnx/vision_model_int8.onnx']));
  });

  it('--ort writes the ORT-format form of a variant, verified loaded in place, and lists it in the manifest', async () => {
    const dir = toyFolder();
    const r = await quantizeModelFolder(dir, { io: io(dir), variants: ['int8'], towers: ['vision'], ort: ['int8'], gates: parseGates('int8.top1Agreement=0'), ...FAST });
    expect(r.failures).toEqual([]);
    expect(r.ortReports).toHaveLength(1);
    const o = r.ortReports[0]!;
    expect(o).toMatchObject({ variant: 'int8', tower: 'vision', file: 'onnx/vision_model_int8.ort', from: 'onnx/vision_model_int8.onnx', written: true });
    // The in-place session computes what the .onnx int8 variant computes: the same cosine to fp32.
    const onnx = r.reports.find((x) => x.variant === 'int8')!;
    expect(o.cosine.mean).toBeCloseTo(onnx.cosine.mean, 5);
    const bytes = readFileSync(path.join(dir, o.file));
    expect(new TextDecoder().decode(bytes.subarray(4, 8))).toBe('ORTM'); // flatbuffers file identifier of ORT format
    const info = await readModelInfo(fsModelSource(dir));
    expect(info.variants.int8?.vision?.ort).toEqual({ file: o.file, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(listing(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Converting an existing variant alone (no --variants) works too; a missing one is refused before anything runs.
    const again = await quantizeModelFolder(dir, { io: io(dir), variants: [], towers: ['vision'], ort: ['int8'], ...FAST });
    expect(again.ortReports[0]!.written).toBe(true);
    await expect(quantizeModelFolder(dir, { io: io(dir), variants: [], towers: ['vision'], ort: ['q4'], ...FAST })).rejects.toThrow(/--ort q4: .* has no q4 vision variant/);
  });

  it('gate overrides are parsed, and bad ones refused', () => {
    expect(parseGates('int8.cosineMin=0.95,fp16.cosineMean=0').int8).toEqual({ ...DEFAULT_GATES.int8, cosineMin: 0.95 });
    expect(() => parseGates('int8.speed=2')).toThrow(/bad gate "int8.speed=2"/);
  });
});

describe('bad inputs: a clear error, nothing written, the fp32 source unchanged', () => {
  const truncated = encodeModel(toyVision()).subarray(0, 150_000);
  const wrongIo = encodeModel(toyVision({ inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', 3, 224, 224] }] }));
  const base = toyVision();
  const custom = toyVision({
    nodes: [
      ...base.graph!.node.slice(0, 3),
      node({ op: 'FancyNorm', domain: 'com.example', inputs: ['hidden'], outputs: ['normed'] }),
      base.graph!.node[4]!,
    ],
    domains: { 'com.example': 1 },
  });
  const cases: { name: string; vision: Uint8Array; options?: Partial<QuantizeFolderOptions>; error: RegExp }[] = [
    { name: 'a file that is not ONNX', vision: new TextEncoder().encode('{"this": "is JSON, not a model"}\n'), error: /vision_model\.onnx is not an ONNX model/ },
    { name: 'a truncated protobuf', vision: truncated, error: /vision_model\.onnx is not an ONNX model \(protobuf decoding failed/ },
    { name: "a graph without CLIP's inputs/outputs", vision: wrongIo, error: /is not a CLIP vision encoder: expected inputs \[pixel_values\] → output image_embeds, found \[x\]/ },
    {
      name: 'an unsupported op in a block-listed (kept float32) position',
      vision: encodeModel(custom),
      options: { passes: { fp16: { keepOps: ['LayerNormalization', 'com.example.FancyNorm'] } } },
      error: /node FancyNorm_normed \(com\.example\.FancyNorm\) is an operator the quantizer does not support/,
    },
  ];
  it.each(cases)('$name', async (c) => {
    const dir = toyFolder();
    writeFileSync(path.join(dir, 'onnx/vision_model.onnx'), c.vision);
    const before = hashes(dir);
    const files = listing(dir);
    const err = await quantizeModelFolder(dir, { io: io(dir), variants: ['fp16', 'int8'], ...FAST, ...c.options }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ClipEdgeError', code: 'MODEL_INVALID' });
    expect((err as Error).message).toMatch(c.error);
    expect(listing(dir)).toEqual(files);
    expect(hashes(dir)).toEqual(before);
  });
});
