import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { resizeAndCenterCrop } from '../../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { prerequisite } from '../../helpers/prerequisite.ts';
import { sharedDataDir } from '../../helpers/shared-data.ts';
import { CACHED_REFS, ParityReport, configOf, diff, loadIndex, readRefPng, sha256 } from './refs.ts';

// ImageNet / CIFAR photos from ../shared/data/images: never copied into the repo. Their PIL
// refs live in the git-ignored .cache/pil-refs/, written by make_refs.py --shared.
const shared = sharedDataDir();
const index = shared ? loadIndex(CACHED_REFS) : null;
const HOW = 'run `/usr/bin/python3 test/fixtures/pil/make_refs.py --shared` (needs Debian python3-pil)';

describe('PIL parity (shared ImageNet / CIFAR photos)', () => {
  if (!prerequisite(!!shared, `../shared/data beside the repository`) || !prerequisite(!!index, `PIL refs in .cache/pil-refs (${HOW})`) || !index || !shared) {
    it.skip(shared ? `no refs in .cache/pil-refs: ${HOW}` : 'no ../shared/data beside the repository', () => {});
    return;
  }
  const decoder = createImageDecoder({ wasm: nodeImageCodecs() });
  const report = new ParityReport();

  for (const entry of index.entries) {
    const file = path.join(shared, 'images', entry.source!);
    it.skipIf(!prerequisite(existsSync(file), `../shared/data/images/${entry.source}`))(entry.name, async () => {
      const bytes = new Uint8Array(readFileSync(file));
      expect(sha256(bytes), 'the shared image changed: regenerate the refs').toBe(entry.sha256);
      const img = await decoder.decode(bytes);
      const group = entry.name.split('/')[0]!;
      if (entry.decoded) report.add(`${group}: decode`, diff(img, readRefPng(path.join(CACHED_REFS, entry.decoded))));
      expect(sha256(img.data), 'decoded RGB differs from PIL').toBe(entry.decodedSha256);
      for (const c of entry.crops) {
        const d = diff(resizeAndCenterCrop(img, configOf(c)), readRefPng(path.join(CACHED_REFS, c.file)));
        report.add(`${group}: resize+crop`, d);
        expect(d.maxDiff).toBeLessThanOrEqual(1);
        expect(d.exact / d.values).toBeGreaterThanOrEqual(0.99);
      }
    });
  }

  afterAll(() => {
    console.log(`PIL ${index.pil} parity, shared photos:\n${report.toString()}`);
  });
});
