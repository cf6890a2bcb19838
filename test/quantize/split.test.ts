import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph } from '../../quantize/graph/graph.ts';
import { readOnnx } from '../../quantize/onnx/io.ts';
import { chooseCuts, findCuts, totalWeightBytes } from '../../quantize/split/cuts.ts';
import { splitVisionTower } from '../../quantize/split/folder.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { visionPartsOf } from '../../src/core/vision-parts.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';

// `clip-edge quantize --split`: the bundled model's int8 vision tower (3 transformer blocks, per its
// manifest's architecture) cut into consecutive parts at block boundaries, each part's .onnx and
// in-place .ort recorded with size and sha256, the chain run against the whole tower.
const MODEL = path.resolve('models/tiny-clip');
const dirs: string[] = [];
const copy = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clip-edge-split-'));
  dirs.push(dir);
  cpSync(MODEL, dir, { recursive: true });
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const layers = (JSON.parse(readFileSync(path.join(MODEL, 'manifest.json'), 'utf8')) as { architecture: { vision_layers: number } }).architecture.vision_layers;

describe('quantize --split', () => {
  it('finds one block boundary per transformer block, and balances the parts\' weights', async () => {
    const g = new Graph((await readOnnx(path.join(MODEL, 'onnx/vision_model_int8.onnx'))).decode());
    const cuts = findCuts(g, 'tiny-clip');
    expect(cuts.filter((c) => c.boundary).map((c) => c.nextBlock)).toEqual(Array.from({ length: layers }, (_, k) => `blocks.${k}`));
    const total = totalWeightBytes(g);
    expect(total).toBeGreaterThan(0.9 * readFileSync(path.join(MODEL, 'onnx/vision_model_int8.onnx')).byteLength);
    // The heaviest part is as light as any choice of boundaries makes it (checked against every choice).
    const boundaries = cuts.filter((c) => c.boundary);
    const heaviest = (cs: typeof cuts) => Math.max(...[...cs.map((c) => c.weightBytesBefore), total].map((w, k, a) => w - (k ? a[k - 1]! : 0)));
    for (const parts of [2, 3]) {
      const combos = parts === 2 ? boundaries.map((c) => [c]) : boundaries.flatMap((a, i) => boundaries.slice(i + 1).map((b) => [a, b]));
      expect(heaviest(chooseCuts(cuts, total, parts))).toBe(Math.min(...combos.map(heaviest)));
    }
    // Fewer boundaries than asked: the other single-tensor points (between attention and MLP) serve; past those, refused.
    expect(chooseCuts(cuts, total, layers + 2)).toHaveLength(layers + 1);
    expect(() => chooseCuts(cuts, total, cuts.length + 2)).toThrow(/parts at most/);
  });

  it('never leaves a part without weights (a cut after the last weight is a hop for nothing)', () => {
    // RN50x64's shape: the attention pool (52 MiB) is the heaviest part whatever the cuts, so the
    // search had room to spend a part on the reshapes after its last MatMul.
    const MiB = 1 << 20;
    const cut = (w: number, block: string) => ({ after: w, tensor: `t${w}`, weightBytesBefore: w * MiB, boundary: false, nextBlock: block });
    const cuts = [cut(10, 'layer1'), cut(20, 'layer2'), cut(30, 'layer3'), cut(40, 'attnpool'), cut(92 - 24 / MiB, 'attnpool')];
    for (const parts of [2, 3, 4, 5]) {
      const weights = [...chooseCuts(cuts, 92 * MiB, parts).map((c) => c.weightBytesBefore / MiB), 92].map((w, k, a) => w - (k ? a[k - 1]! : 0));
      expect(weights.every((w) => w > 0), `${parts} parts: ${weights.join(', ')}`).toBe(true);
    }
    expect(chooseCuts(cuts, 92 * MiB, 5).map((c) => c.weightBytesBefore / MiB)).toEqual([10, 20, 30, 40]);
    expect(() => chooseCuts(cuts, 92 * MiB, 6)).toThrow(/5 parts at most/);
  });

  it('writes N parts (.onnx + .ort, in the manifest with size and sha256) whose chain equals the whole tower bit for bit', async () => {
    const dir = copy();
    const lines: string[] = [];
    const r = await splitVisionTower(dir, { parts: 3, io: { source: fsModelSource(dir) }, log: (l) => lines.push(l) });
    expect(r.check.cosineMin).toBeGreaterThanOrEqual(0.99999);
    expect(r.check.bitEqual).toBe(true);
    expect(lines.join('\n')).toMatch(/part 3\/3 \(blocks\.\d\).*→ image_embeds/);
    const parts = visionPartsOf(await readModelInfo(fsModelSource(dir)), 'int8');
    expect(parts.map((p) => [p.input, p.output])).toEqual([
      ['pixel_values', r.parts[0]!.output],
      [r.parts[0]!.output, r.parts[1]!.output],
      [r.parts[1]!.output, 'image_embeds'],
    ]);
    for (const p of parts) {
      expect(p.sha256).toBe(sha(path.join(dir, p.file)));
      expect(p.ort!.sha256).toBe(sha(path.join(dir, p.ort!.file)));
      expect(p.ort!.bytes).toBe(readFileSync(path.join(dir, p.ort!.file)).byteLength);
    }
    // Split again into 2: the 3-part files are removed with their entries.
    const again = await splitVisionTower(dir, { parts: 2, io: { source: fsModelSource(dir) } });
    expect(again.parts).toHaveLength(2);
    expect(() => readFileSync(path.join(dir, 'onnx/vision_model_int8.part3of3.ort'))).toThrow();
  });

  it('chooses the fewest parts that fit a memory budget, and refuses one no block fits', async () => {
    const dir = copy();
    const total = (await splitVisionTower(copy(), { parts: 2, io: { source: fsModelSource(MODEL) } }).then((r) => r.parts.reduce((a, p) => a + p.weightBytes, 0)));
    // 0 MiB of activations: the budget is the parts' weights plus ORT's and the JS heap's 24 MiB.
    const r = await splitVisionTower(dir, { budgetMiB: 24 + (total * 0.55) / 2 ** 20, activationMiB: 0, io: { source: fsModelSource(dir) } });
    expect(r.parts).toHaveLength(2);
    await expect(splitVisionTower(dir, { budgetMiB: 24.01, activationMiB: 0, io: { source: fsModelSource(dir) } })).rejects.toThrow(/no split keeps every part's weights within/);
  });

  it('cuts first where --cut-at says (a CNN stem\'s activations), then splits the rest by weight', async () => {
    const g = new Graph((await readOnnx(path.join(MODEL, 'onnx/vision_model_int8.onnx'))).decode());
    const cuts = findCuts(g, 'tiny-clip');
    // The first point inside block 0 (between its attention and its MLP), which no weight-balanced plan takes.
    const inside = cuts.find((c) => !c.boundary)!;
    expect(chooseCuts(cuts, totalWeightBytes(g), 3).map((c) => c.tensor)).not.toContain(inside.tensor);
    const dir = copy();
    const r = await splitVisionTower(dir, { parts: 3, cutAt: [inside.tensor], io: { source: fsModelSource(dir) } });
    expect(r.parts.map((p) => p.output)).toEqual([inside.tensor, expect.any(String), 'image_embeds']);
    expect(r.parts[1]!.output).not.toBe(inside.tensor);
    expect(r.check.bitEqual).toBe(true);
    // Without --parts: the fewest parts after the fixed cut that fit the budget (here one).
    const one = await splitVisionTower(dir, { cutAt: [inside.tensor], budgetMiB: 1024, io: { source: fsModelSource(dir) } });
    expect(one.parts.map((p) => p.output)).toEqual([inside.tensor, 'image_embeds']);
    await expect(splitVisionTower(dir, { cutAt: ['nope'], io: { source: fsModelSource(dir) } })).rejects.toThrow(new RegExp(`nope: not a point where the tower can be cut; those are: .*${inside.tensor.replace(/[/.]/g, '\\$&')}`));
    await expect(splitVisionTower(dir, { parts: 1, cutAt: [inside.tensor], io: { source: fsModelSource(dir) } })).rejects.toThrow(/1 cuts make 2 parts at least, 1 asked/);
  });
});
