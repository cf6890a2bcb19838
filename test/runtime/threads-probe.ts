// Run by deno-bun.test.ts under Deno and Bun (argument: a slow-vision model folder): the decode
// threads and the inference thread work there as on Node. For each: whether timers fired while
// the work ran (the event loop free), and whether the result equals the calling thread's.
// Prints one JSON line.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { blankPng } from '../../bench/lib/hostile-images.ts';
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { CLIP_PREPROCESS } from '../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { createDecodePool } from '../../src/runtime/fs/decode-pool.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const slowModel = process.argv.at(-1)!;

/** Whether five 20 ms timers fired before `work` settled, and its value. */
async function loopFreeWhile<T>(work: Promise<T>): Promise<{ loopFree: boolean; value: T }> {
  let finished = false;
  const tracked = work.finally(() => (finished = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
  return { loopFree: !finished, value: await tracked };
}
const equalBytes = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const big = blankPng(5000, 5000, { depth: 16, colorType: 6 }); // seconds of PNG decoding
const pool = createDecodePool({ threads: 1, maxPixels: 40_000_000 });
const pooled = createImageDecoder({ wasm: nodeImageCodecs(), decodeBudgetBytes: 1 << 30, executor: pool });
await pooled.warmup();
const decoded = await loopFreeWhile(pooled.decodeForClip(big, CLIP_PREPROCESS));
const local = await createImageDecoder({ wasm: nodeImageCodecs() }).decodeForClip(big, CLIP_PREPROCESS);
await pool.close();

const photo = new Uint8Array(readFileSync(path.join(root, 'test/fixtures/pil/inputs/baseline-420.jpg')));
const threaded = await createNodeClipEdge({ model: slowModel, backend: 'wasm', text: false });
const inThread = await createNodeClipEdge({ model: slowModel, backend: 'wasm', text: false, inferenceThread: false });
await threaded.core.warmup();
const inferred = await loopFreeWhile(threaded.core.embedImage(photo));
const reference = await inThread.core.embedImage(photo);

// A crash of the inference thread (terminated while it holds a run): that call fails with 503
// BACKEND_UNAVAILABLE, the next one gets a new thread and the same embedding.
const post = Worker.prototype.postMessage;
let armed = true;
Worker.prototype.postMessage = function (this: Worker, msg: unknown, transfer?: Parameters<Worker['postMessage']>[1]) {
  post.call(this, msg, transfer);
  if (armed && (msg as { op?: string } | null)?.op === 'run') {
    armed = false;
    void this.terminate();
  }
};
const failedWith = await threaded.core.embedImage(photo).then(
  () => 'no error',
  (e: { code?: string }) => e.code,
);
Worker.prototype.postMessage = post;
const after = await threaded.core.embedImage(photo);
await Promise.all([threaded.core.close(), inThread.core.close()]);

console.log(
  JSON.stringify({
    decode: { loopFree: decoded.loopFree, sameCrop: equalBytes(decoded.value.crop.data, local.crop.data) },
    inference: { loopFree: inferred.loopFree, sameEmbedding: equalBytes(inferred.value.embedding, reference.embedding) },
    crash: { failedWith, sameEmbeddingAfterRestart: equalBytes(after.embedding, reference.embedding) },
  }),
);
