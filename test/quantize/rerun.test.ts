import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { quantizeModelFolder, type QuantizeFolderOptions } from '../../quantize/folder.ts';
import { parseGates } from '../../quantize/verify/gates.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { toyFolder } from './toy.ts';

// Running docs/quantization.md's command again on a folder that already has variants: without
// --ort it must keep (re-convert) the ORT-format form the folder has, and a run that checks fewer
// sources than the recorded report (no ../shared/data) must not replace that report's stats for a
// file whose bytes did not change.

const io = (dir: string): QuantizeFolderOptions['io'] => ({ source: fsModelSource(dir), imageCodecs: nodeImageCodecs() });
const base = (dir: string, maxImages: number): QuantizeFolderOptions => ({
  io: io(dir), variants: ['int8'], towers: ['vision'], gates: parseGates('int8.top1Agreement=0'),
  budget: { maxImages, maxTemplates: 1, latencyRuns: 2 }, sharedDataDir: null,
});
type Manifest = {
  variants: { int8: { vision: { sha256: string; ort?: { file: string; sha256: string } } } };
  quantization: { verifiedOn: string[]; int8: { vision: { cosine: { n: number }; ort?: { cosine: { n: number } } } } };
};
const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const SHARED = '../shared/data/images (200 images: CIFAR-10 labelled, ImageNet for cosine)';

describe('quantize run again on a folder with variants', () => {
  it('keeps the in-place .ort and its manifest entry, and keeps the recorded stats of an unchanged file checked on fewer sources', async () => {
    const dir = toyFolder();
    const first = await quantizeModelFolder(dir, { ...base(dir, 12), ort: ['int8'] });
    expect(first.failures).toEqual([]);
    const ort = manifestOf(dir).variants.int8.vision.ort!;
    expect(ort.sha256).toBe(sha(path.join(dir, ort.file)));

    // The same command without --ort: the int8 file comes out byte for byte the same, so the .ort
    // converted from it stays, listed, with its report.
    const again = await quantizeModelFolder(dir, base(dir, 12));
    expect(again.failures).toEqual([]);
    expect(again.ortReports).toEqual([]);
    expect(manifestOf(dir).variants.int8.vision.ort).toEqual(ort);
    expect(manifestOf(dir).quantization.int8.vision.ort?.cosine.n).toBe(12);
    expect(sha(path.join(dir, ort.file))).toBe(ort.sha256);

    // As if the recorded report had been made with ../shared/data beside the repository; then the
    // command on a smaller check set (8 images): nothing in the manifest changes.
    const recorded = manifestOf(dir);
    writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify({ ...recorded, quantization: { ...recorded.quantization, verifiedOn: [...recorded.quantization.verifiedOn, SHARED] } }, null, 2)}\n`);
    const before = readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    const lines: string[] = [];
    const fewer = await quantizeModelFolder(dir, { ...base(dir, 8), log: (l) => lines.push(l) });
    expect(fewer.failures).toEqual([]);
    expect(fewer.reports[0]!.cosine.n).toBe(8);
    expect(lines.join('\n')).toMatch(/int8 vision: unchanged \(same sha256\); their recorded reports are kept \(this run did not check \.\.\/shared\/data\/images\)/);
    expect(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
    expect(sha(path.join(dir, ort.file))).toBe(ort.sha256);
  }, 240_000);

  it('a rewritten variant gets its .ort converted again from the new file, listed with the new bytes', async () => {
    const dir = toyFolder();
    await quantizeModelFolder(dir, { ...base(dir, 8), ort: ['int8'] });
    const old = manifestOf(dir).variants.int8.vision;
    // Other pass options (the patch Conv kept in float32): another int8 file.
    const again = await quantizeModelFolder(dir, { ...base(dir, 8), passes: { int8: { conv: 'fp32' } } });
    expect(again.failures).toEqual([]);
    const m = manifestOf(dir).variants.int8.vision;
    expect(m.sha256).not.toBe(old.sha256);
    expect(existsSync(path.join(dir, 'onnx/vision_model_int8.ort'))).toBe(true);
    expect(m.ort?.sha256).toBe(sha(path.join(dir, 'onnx/vision_model_int8.ort')));
    expect(m.ort?.sha256).not.toBe(old.ort?.sha256);
  }, 240_000);
});
