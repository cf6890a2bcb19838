import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitStaged, readOnnx, stageOnnx } from '../../quantize/onnx/io.ts';
import { decodeModel, encodeModel } from '../../quantize/onnx/model.ts';
import { floatValues } from '../../quantize/onnx/tensor.ts';
import { REPO_ROOT } from '../../quantize/verify/data.ts';
import { EMBED, ort, rand, toyFolder, toyVision } from './toy.ts';

const pixels = () => new ort.Tensor('float32', rand(2 * 3 * 224 * 224, 2, 21), [2, 3, 224, 224]);

describe('ONNX protobuf I/O', () => {
  it('decode → encode → decode gives the same model, with raw_data as views into the file bytes', () => {
    const bytes = encodeModel(toyVision());
    const m = decodeModel(bytes, 'toy');
    expect(decodeModel(encodeModel(m), 'toy')).toEqual(m);
    const w = m.graph!.initializer.find((t) => t.name === 'patch.weight')!;
    expect(w.raw_data!.buffer).toBe(bytes.buffer);
  });

  it('models with external data are written (page-aligned, data file first) and read back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-ext-'));
    const file = path.join(dir, 'vision_model.onnx');
    const staged = await stageOnnx(file, toyVision(), { externalData: true });
    expect(readdirSync(dir).every((f) => f.endsWith('.tmp'))).toBe(true); // nothing in place before commit
    const written = await commitStaged(staged);
    expect(readdirSync(dir).sort()).toEqual(['vision_model.onnx', 'vision_model.onnx_data']);
    expect(statSync(file).size).toBeLessThan(5000);
    expect(written.externalData!.bytes).toBe(statSync(`${file}_data`).size);

    const src = await readOnnx(file);
    const inits = new Map(src.decode().graph!.initializer.map((t) => [t.name, t]));
    expect(Array.from(floatValues(inits.get('proj')!))).toEqual(Array.from(rand(64 * EMBED, 0.2, 7)));
    // onnxruntime-web loads it with the data file handed over, and computes what the single-file model does.
    const ext = await ort.InferenceSession.create(src.bytes, { externalData: [{ path: 'vision_model.onnx_data', data: src.externalData.get('vision_model.onnx_data')! }] });
    const one = await ort.InferenceSession.create(encodeModel(toyVision()));
    const x = pixels();
    expect((await ext.run({ pixel_values: x })).image_embeds!.data).toEqual((await one.run({ pixel_values: x })).image_embeds!.data);
  });
});

describe('clip-edge quantize (CLI)', () => {
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/clip-edge.js', 'quantize', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const fast = ['--max-images', '6', '--max-templates', '1', '--latency-runs', '1', '--no-shared-data'];

  it('--verify prints the table; progress goes to stderr; the variant and manifest are written', () => {
    const dir = toyFolder();
    const r = cli(dir, '--variants', 'int8', '--towers', 'vision', '--verify', '--gates', 'int8.top1Agreement=0', ...fast);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^\| variant \| tower \| size \|/);
    expect(r.out).toMatch(/\| int8 \| vision \| .* \| pass \|/);
    expect(r.err).toMatch(/int8-matmul: 2 MatMul\/Gemm → MatMulInteger/);
    expect(existsSync(path.join(dir, 'onnx/vision_model_int8.onnx'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).variants.int8.vision.file).toBe('onnx/vision_model_int8.onnx');
  });

  it('a failed gate exits 1 naming the gate and writes nothing; bad usage exits 2', () => {
    const dir = toyFolder();
    const r = cli(dir, '--variants', 'int8', '--towers', 'text', '--gates', 'int8.cosineMean=1', ...fast);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/MODEL_INVALID: not written, gate failed:\n {2}int8 text: cosine mean 0\.\d+ < 1 \(gate cosineMean\)/);
    expect(existsSync(path.join(dir, 'onnx/text_model_int8.onnx'))).toBe(false);
    expect(existsSync(path.join(dir, 'manifest.json'))).toBe(false);
    expect(cli(dir, '--variants', 'int4').code).toBe(2);
  });
});
