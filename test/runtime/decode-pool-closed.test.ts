// Review finding: createDecodePool's close() ends the threads, but a job that arrives afterwards
// (or was waiting for a slot during close) starts a fresh thread (run(): slot.worker ?? spawn(slot)
// does not look at `closed`), which nothing ends any more: close() does not close.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CLIP_PREPROCESS } from '../../src/core/image/preprocess.ts';
import { createDecodePool } from '../../src/runtime/fs/decode-pool.ts';
import { repoRoot } from '../helpers/shared-data.ts';

it('a decode after close() is refused instead of starting a thread nothing will end', async () => {
  const pool = createDecodePool({ threads: 1, maxPixels: 40_000_000 });
  await pool.warmup?.();
  await pool.close();
  const png = new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs/rgb8.png')));
  const late = pool.decodeForClip(png, CLIP_PREPROCESS);
  await expect(late).rejects.toThrow();
  await pool.close();
});

it('warmup() after close() is refused too (it would start threads nothing ends)', async () => {
  const pool = createDecodePool({ threads: 1, maxPixels: 40_000_000 });
  await pool.close();
  await expect(pool.warmup!()).rejects.toThrow(/decode threads were closed/);
});
