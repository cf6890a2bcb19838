// One fuzz worker (bench/fuzz.ts): receives inputs one at a time, answers with the outcome.
import { parentPort } from 'node:worker_threads';
import { checkImage, fuzzDecoder, FuzzFinding } from '../test/fuzz/image-target.ts';
import { checkModel } from '../test/fuzz/model-target.ts';
import type { Tower } from '../src/core/precision.ts';

export interface FuzzJob {
  id: number;
  /** `spin`: a job that never ends (a busy loop), for `--self-test` of the watchdog. */
  kind: 'image' | 'model' | 'spin';
  bytes: Uint8Array;
  tower?: Tower;
}
export type FuzzReply = { id: number; outcome: string; ms: number } | { id: number; finding: string; ms: number };

const decoder = fuzzDecoder();
parentPort!.on('message', async (job: FuzzJob) => {
  const t0 = performance.now();
  if (job.kind === 'spin') for (;;);
  try {
    const o = job.kind === 'image' ? await checkImage(decoder, job.bytes) : await checkModel(job.bytes, job.tower!);
    parentPort!.postMessage({ id: job.id, outcome: o.ok ? 'ok' : o.code, ms: performance.now() - t0 } satisfies FuzzReply);
  } catch (e) {
    const finding = e instanceof FuzzFinding ? e.message : `harness error: ${String(e)}`;
    parentPort!.postMessage({ id: job.id, finding, ms: performance.now() - t0 } satisfies FuzzReply);
  }
});
