// Node's decode threads (src/runtime/fs/decode-pool.ts): the same pixels as decoding in the calling
// thread, errors with their codes, the event loop free while a decode runs, and a decode whose
// signal aborts stopped (its thread ended and replaced).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { blankPng } from '../../bench/lib/hostile-images.ts';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { jpegForClipBytes } from '../../src/core/image/decode-cost.ts';
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { readJpegHeader } from '../../src/core/image/jpeg-header.ts';
import { CLIP_PREPROCESS } from '../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { createDecodePool } from '../../src/runtime/fs/decode-pool.ts';
import { threadedNodeBackends } from '../../src/runtime/fs/inference-thread.ts';
import { repoRoot } from '../helpers/shared-data.ts';

const input = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));
const pool = createDecodePool({ threads: 1, maxPixels: 40_000_000 });
const pooled = createImageDecoder({ wasm: nodeImageCodecs(), decodeBudgetBytes: 1 << 30, executor: pool });
const local = createImageDecoder({ wasm: nodeImageCodecs() });
afterAll(() => pool.close());

describe('decode threads (Node)', () => {
  it.each(['baseline-420.jpg', 'progressive.jpg', 'exif-orientation-6.jpg', 'rgb8.png', 'lossy.webp'])('%s: the same crop and full image as the calling thread', async (name) => {
    const bytes = input(name);
    const [a, b] = await Promise.all([pooled.decodeForClip(bytes, CLIP_PREPROCESS), local.decodeForClip(bytes, CLIP_PREPROCESS)]);
    expect({ w: a.width, h: a.height, decode: a.decode }).toEqual({ w: b.width, h: b.height, decode: b.decode });
    expect(Buffer.from(a.crop.data).equals(Buffer.from(b.crop.data))).toBe(true);
    const [fa, fb] = await Promise.all([pooled.decode(bytes), local.decode(bytes)]);
    expect(fa.width).toBe(fb.width);
    expect(Buffer.from(fa.data).equals(Buffer.from(fb.data))).toBe(true);
  });

  it('a codec failure in the thread comes back as its ClipEdgeError code', async () => {
    const good = input('baseline-420.jpg');
    const bad = good.slice();
    bad.fill(0x55, 700, 1400); // entropy data damaged, markers intact
    bad[2] = 0xff; // and a broken segment structure after SOI
    await expect(pooled.decode(new Uint8Array([...good.subarray(0, 200)]))).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    expect((await pooled.decodeForClip(good, CLIP_PREPROCESS)).decode).toBe('exact'); // the thread is fine after
  });

  it('keeps the event loop free during a long decode, and an aborted decode is stopped and its thread replaced', async () => {
    const big = blankPng(5000, 5000, { depth: 16, colorType: 6 }); // ~200 KB, seconds of fast-png work
    const ac = new AbortController();
    let finished = false;
    const decoding = pooled.decodeForClip(big, CLIP_PREPROCESS, ac.signal).finally(() => (finished = true));
    decoding.catch(() => {});
    // Timers fire while the decode runs: the loop is not held (in the calling thread it would be).
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
    expect(finished).toBe(false);
    const reason = new ClipEdgeError('TIMEOUT', 'deadline');
    ac.abort(reason);
    await expect(decoding).rejects.toBe(reason);
    expect(pooled.memory()).toEqual({ reservedBytes: 0, waiting: 0 }); // its budget share is back
    // The next job gets a fresh thread.
    expect((await pooled.decodeForClip(input('rgb8.png'), CLIP_PREPROCESS)).decode).toBe('exact');
  });

  it('a decode thread that crashes fails its job with a clear error and is replaced: the next decode is served', async () => {
    // A real crash: the thread is terminated right after it is sent the job (what an abort in a codec or an out-of-memory does to it).
    const original = Worker.prototype.postMessage;
    let armed = true;
    const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, msg: unknown, transfer?: Parameters<Worker['postMessage']>[1]) {
      original.call(this, msg, transfer);
      if (armed && typeof msg === 'object' && msg !== null && 'bytes' in msg) {
        armed = false;
        void this.terminate();
      }
    });
    try {
      await expect(pooled.decodeForClip(input('baseline-420.jpg'), CLIP_PREPROCESS)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('image decode thread failed') });
      expect(armed).toBe(false);
      expect(pooled.memory()).toEqual({ reservedBytes: 0, waiting: 0 });
      expect((await pooled.decodeForClip(input('rgb8.png'), CLIP_PREPROCESS)).decode).toBe('exact'); // one thread: the replacement served it
    } finally {
      spy.mockRestore();
    }
  });

  it('admits jobs first come first served: a slot that comes back goes to the waiter, not to a job arriving at that moment', async () => {
    // One thread. A runs, B waits; C arrives in the same turn as A's answer, after the slot came back
    // and before B resumed: C must queue behind B (it used to take the slot, sending B to the back).
    const [a, b, c] = [input('rgb8.png'), input('baseline-420.jpg'), input('lossy.webp')];
    const original = Worker.prototype.postMessage;
    const sent: number[] = [];
    let late: Promise<unknown> | undefined;
    const spy = vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (this: Worker, msg: unknown, transfer?: Parameters<Worker['postMessage']>[1]) {
      if (typeof msg === 'object' && msg !== null && 'bytes' in msg) {
        sent.push((msg as { bytes: Uint8Array }).bytes.byteLength);
        if (sent.length === 1) {
          // Listens after the pool's own listener: when A's answer arrives its slot is back.
          const onReply = (m: unknown) => {
            if (typeof m !== 'object' || m === null || !('id' in m)) return;
            this.off('message', onReply);
            late = pool.decode(c);
          };
          this.on('message', onReply);
        }
      }
      original.call(this, msg, transfer);
    });
    try {
      await Promise.all([pool.decode(a), pool.decode(b)]);
      expect(late).toBeDefined();
      await late;
      expect(sent).toEqual([a.byteLength, b.byteLength, c.byteLength]);
    } finally {
      spy.mockRestore();
    }
  });

  it.skipIf(process.platform !== 'linux')('with threadNice 10 (CLIP_EDGE_THREAD_NICE=10), decode threads run 10 nice steps below the event loop (the main thread keeps its priority)', async () => {
    const niced = createDecodePool({ threads: 1, maxPixels: 40_000_000, threadNice: 10 });
    await niced.warmup?.();
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value.
    const niceOf = (tid: string) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const main = niceOf(String(process.pid));
    const nices = readdirSync('/proc/self/task').map(niceOf);
    await niced.close();
    expect(nices).toContain(Math.min(19, main + 10));
  });

  it('refuses a threadNice outside 0–19 where the pool or the inference thread is made, before any thread starts', () => {
    for (const threadNice of [-1, 20, 1.5, Number.NaN]) {
      expect(() => createDecodePool({ threads: 1, maxPixels: 40_000_000, threadNice }), String(threadNice)).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining('threadNice must be a whole number in [0, 19]') }));
      expect(() => threadedNodeBackends({ threadNice }), String(threadNice)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    }
  });

  it('never keeps a process alive once its work is done, and keeps it alive while a decode is pending', () => {
    // A child that decodes one image through a fresh pool and then simply returns: it must print the
    // result (the pending decode held the process) and exit by itself (the idle thread did not).
    const script = `
      import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
      import { createDecodePool } from ${JSON.stringify(path.join(repoRoot, 'src/runtime/fs/decode-pool.ts'))};
      import { CLIP_PREPROCESS } from ${JSON.stringify(path.join(repoRoot, 'src/core/image/preprocess.ts'))};
      const pool = createDecodePool({ threads: 1, maxPixels: 40_000_000 });
      const r = await pool.decodeForClip(readFileSync(${JSON.stringify(path.join(repoRoot, 'test/fixtures/pil/inputs/rgb8.png'))}), CLIP_PREPROCESS);
      console.log('crop', r.crop.width, r.crop.height);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, r.stderr).toBeNull(); // not killed by the timeout: it exited by itself
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('crop 224 224');
  });

  it('decodes the DCT scale the calling decoder planned under its budget (and reserved memory for), not an exact decode', async () => {
    const bytes = input('baseline-420.jpg');
    const small = { ...CLIP_PREPROCESS, shortestEdge: 64, cropWidth: 64, cropHeight: 64 };
    const half = jpegForClipBytes(readJpegHeader(bytes), 2, small);
    const options = { wasm: nodeImageCodecs(), decodeBudgetBytes: half, jpegScaling: true } as const;
    const [threaded, here] = await Promise.all([createImageDecoder({ ...options, executor: pool }).decodeForClip(bytes, small), createImageDecoder(options).decodeForClip(bytes, small)]);
    expect([threaded.decode, here.decode]).toEqual(['dct-1/2', 'dct-1/2']);
    expect(Buffer.from(threaded.crop.data).equals(Buffer.from(here.crop.data))).toBe(true);
  });

  it('refuses a bad thread count', () => {
    expect(() => createDecodePool({ threads: 0, maxPixels: 1 })).toThrow(/decode threads must be a positive integer/);
  });
});
