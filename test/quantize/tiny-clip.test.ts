import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOWERS } from '../../src/core/precision.ts';
import { readOnnx } from '../../quantize/onnx/io.ts';
import { encodeModel } from '../../quantize/onnx/model.ts';
import { isQuantVariant, passesFor, runPasses, type PassOptions } from '../../quantize/pipeline.ts';
import { REPO_ROOT } from '../../quantize/verify/data.ts';

const dir = path.join(REPO_ROOT, 'models/tiny-clip');
const manifest = existsSync(path.join(dir, 'manifest.json'))
  ? (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      variants: Record<string, Record<string, { file: string; sha256: string }>>;
      quantization?: { passOptions?: PassOptions };
    })
  : undefined;
const made = Object.entries(manifest?.variants ?? {})
  .filter(([p]) => isQuantVariant(p))
  .flatMap(([p, towers]) => TOWERS.filter((t) => towers[t]).map((t) => ({ variant: p as 'fp16' | 'int8' | 'q4', tower: t, entry: towers[t]! })));

describe('the bundled model’s variants (models/tiny-clip)', () => {
  it('were written by this toolchain: regenerating them from fp32 gives the same bytes', async () => {
    expect(made.map((m) => `${m.variant} ${m.tower}`).sort()).toEqual(['fp16 text', 'fp16 vision', 'int8 text', 'int8 vision', 'q4 text', 'q4 vision']);
    const fp32 = new Map(await Promise.all(TOWERS.map(async (t) => [t, await readOnnx(path.join(dir, manifest!.variants.fp32![t]!.file))] as const)));
    for (const { variant, tower, entry } of made) {
      const model = fp32.get(tower)!.decode();
      await runPasses(model, passesFor(variant, manifest!.quantization?.passOptions), { where: entry.file, tower, log: () => {} });
      const sha = createHash('sha256').update(encodeModel(model)).digest('hex');
      expect(sha, `${variant} ${tower}`).toBe(entry.sha256);
      expect(createHash('sha256').update(readFileSync(path.join(dir, entry.file))).digest('hex'), entry.file).toBe(entry.sha256);
    }
  });
});
