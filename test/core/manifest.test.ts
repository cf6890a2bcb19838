import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestSchema, manifestFiles, parseManifest } from '../../src/core/model/manifest.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { memorySource } from '../../src/core/model/source.ts';
import { MODEL_DIR } from '../helpers/clip.ts';

// The one manifest schema that the loader, `clip-edge pull` and the quantizer share.
const shipped = JSON.parse(readFileSync(path.join(MODEL_DIR, 'manifest.json'), 'utf8')) as Record<string, unknown>;

describe('ManifestSchema', () => {
  it('accepts the bundled model manifest (written by the quantizer) and lists its files', () => {
    const m = ManifestSchema.parse(shipped);
    const files = manifestFiles(m);
    expect(files.map((f) => `${f.precision}/${f.tower}`)).toEqual(expect.arrayContaining(['fp32/vision', 'fp32/text', 'int8/vision']));
    for (const f of files) expect(f.file.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['a path out of the folder', { variants: { fp32: { vision: { file: '../secret.onnx' } } } }, /variants\.fp32\.vision\.file must be a safe relative path/],
    ['an absolute path', { variants: { fp32: { vision: { file: '/etc/passwd' } } } }, /variants\.fp32\.vision\.file must be a safe relative path/],
    ['a size that is not a byte count', { variants: { fp32: { vision: { file: 'a.onnx', bytes: -1 } } } }, /variants\.fp32\.vision\.bytes/],
    ['a template without {}', { defaultTemplates: ['a photo'] }, /defaultTemplates\.0 must contain \{\}/],
    ['a non-numeric embedDim', { embedDim: '512' }, /embedDim/],
  ])('refuses %s with MODEL_INVALID naming the field', (_, json, message) => {
    expect(() => parseManifest(json, 'x/manifest.json')).toThrow(message);
    try {
      parseManifest(json, 'x/manifest.json');
    } catch (e) {
      expect((e as { code: string }).code).toBe('MODEL_INVALID');
    }
  });

  it('reads upper-case sha256 as lower case, and keeps unknown fields and precisions', () => {
    const m = parseManifest({ future: 1, variants: { q2: { vision: { file: 'onnx/v.onnx', sha256: 'AB'.repeat(32), extra: true } } } }, 'x');
    expect(m.variants!.q2!.vision!.sha256).toBe('ab'.repeat(32));
    expect((m as Record<string, unknown>).future).toBe(1);
  });

  it('the loader refuses what the schema refuses (one rule, not two)', async () => {
    const bad = { ...shipped, variants: { fp32: { vision: { file: '../x.onnx' } } } };
    await expect(readModelInfo(memorySource('m', { 'manifest.json': new TextEncoder().encode(JSON.stringify(bad)) }))).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(/m\/manifest\.json: variants\.fp32\.vision\.file must be a safe relative path/),
    });
  });
});
