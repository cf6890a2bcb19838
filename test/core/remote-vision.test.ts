// The time and faults of a vision tower split across Workers, in Node (src/core/remote-vision.ts,
// src/core/vision-chain.ts): chains of parts built from the same hop the part Workers run
// (runPartHop), each part's work a delay here, so that lateness can be placed to the part. The real
// chain (the model's parts in workerd, service bindings) is test/workers/workerd/vision-split.test.ts.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setDeadline } from '../../src/core/abort.ts';
import { type ClipEdgeError, isClipEdgeError } from '../../src/core/errors.ts';
import { type ModelInfo, readModelInfo } from '../../src/core/model/info.ts';
import { createRemoteVision } from '../../src/core/remote-vision.ts';
import { VISION_HOP_MAX_MS, runPartHop, visionHopMs, warmChain } from '../../src/core/vision-chain.ts';
import type { VisionPartReply, VisionPartRequest, VisionPartService } from '../../src/core/vision-parts.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';

let info: ModelInfo;
beforeAll(async () => {
  info = await readModelInfo(fsModelSource('models/tiny-clip'));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A chain of `delays.length` parts: part k waits delays[k-1] ms (Infinity: never answers, as a hung
 * Worker) and passes the input on; the last answers a row of embedDim. Records what each part was sent.
 */
function chain(delays: number[], o: { timeoutMs?: number } = {}): { first: VisionPartService; seen: VisionPartRequest[] } {
  const seen: VisionPartRequest[] = [];
  const parts = delays.length;
  const at = (k: number): VisionPartService => ({
    runPart: (request) => {
      seen.push(request);
      return runPartHop({
        request,
        arrived: Date.now(),
        timeoutMs: o.timeoutMs ?? 30_000,
        parts,
        next: k < parts ? at(k + 1) : undefined,
        run: async (data, dims) => {
          const d = delays[k - 1]!;
          await (d === Infinity ? new Promise(() => {}) : sleep(d));
          return k < parts ? { data, dims } : { data: new Float32Array(info.embedDim).fill(1), dims: [1, info.embedDim] };
        },
      });
    },
  });
  return { first: at(1), seen };
}

const remote = (service: VisionPartService, parts: number, timeoutMs = 30_000) =>
  createRemoteVision({ info, service, manifestSha256: 'a'.repeat(64), variant: 'int8', parts, timeoutMs });
const pixels = () => new Float32Array(3 * info.preprocess.cropHeight * info.preprocess.cropWidth);

/** A signal with a deadline `ms` from now, as the HTTP layer's overload guard makes one. */
function requestSignal(ms: number): AbortSignal {
  const signal = AbortSignal.timeout(ms);
  setDeadline(signal, Date.now() + ms);
  return signal;
}

async function failure(p: Promise<unknown>): Promise<ClipEdgeError> {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isClipEdgeError(e), String(e)).toBe(true);
  return e as ClipEdgeError;
}

describe('the split vision chain: each hop its share of the request deadline', () => {
  it('a chain in time answers; each hop was given a deadline one hop earlier than its caller’s, all before the request’s', async () => {
    const c = chain([5, 5, 5, 5]);
    const t0 = Date.now();
    const [row] = await remote(c.first, 4).run([pixels()], requestSignal(2_000));
    expect(row).toHaveLength(info.embedDim);
    const deadlines = c.seen.map((r) => r.deadline!);
    const hop = c.seen[0]!.hopMs!;
    // From the time the request has left when the chain starts (a few ms under its 2 s).
    expect(hop).toBeLessThanOrEqual(visionHopMs(2_000, 4));
    expect(hop).toBeGreaterThanOrEqual(visionHopMs(1_800, 4));
    expect(deadlines[0]).toBeLessThanOrEqual(t0 + 2_000 - 2 * hop + 50);
    for (let k = 1; k < 4; k++) expect(deadlines[k]).toBe(deadlines[k - 1]! - hop);
  });

  it('a hung part 3 of 4 is named (TIMEOUT), and the 503 comes before the request’s deadline, not the longer chain timeout', async () => {
    const e = await failure(remote(chain([5, 5, Infinity, 5]).first, 4, 30_000).run([pixels()], requestSignal(800)));
    expect(e.code).toBe('VISION_TOWER_DOWN');
    expect(e.message).toMatch(/vision part 3 of 4 is down \(TIMEOUT\)/);
    expect(e.details).toMatchObject({ part: 3, fault: 'TIMEOUT', retryAfterSeconds: 5 });
    // Which timer fired, from its message (not a wall time, which moves with the machine's load):
    // part 2's share of the request's 800 ms, not the chain's 30 s, and not the request's own TIMEOUT.
    const waited = Number(/did not answer within (\d+) ms/.exec(e.message)?.[1]);
    expect(waited).toBeGreaterThan(0);
    expect(waited).toBeLessThan(800);
  });

  it('a part that answers too late is named, whichever it is; with no request deadline the chain’s own timeout applies', async () => {
    for (const k of [1, 2, 4]) {
      const delays = [5, 5, 5, 5];
      delays[k - 1] = 2_000;
      const e = await failure(remote(chain(delays).first, 4, 600).run([pixels()]));
      expect(e.message, `part ${k}`).toMatch(new RegExp(`vision part ${k} of 4 (is down \\(TIMEOUT\\)|did not answer within)`));
      expect(e.details).toMatchObject({ part: k, fault: 'TIMEOUT' });
      // The chain's 600 ms, not the part's 2 s: the message says which wait ran out.
      expect(Number(/did not answer within (\d+) ms/.exec(e.message)?.[1])).toBeLessThanOrEqual(600);
    }
  });

  it('a request with no time left is refused at once, and an aborted request stops waiting for the chain', async () => {
    const e = await failure(remote(chain([5, 5]).first, 2).run([pixels()], requestSignal(1)));
    expect(e.details).toMatchObject({ fault: 'TIMEOUT' });
    const ctl = new AbortController();
    const p = remote(chain([Infinity, 5]).first, 2).run([pixels()], ctl.signal);
    setTimeout(() => ctl.abort(), 50);
    // Part 1 never answers: only the abort can settle it (the test's own timeout otherwise).
    expect((await failure(p)).code).toBe('CANCELLED');
  });

  it('a part reached after its deadline does not run; a part not bound, or throwing, is named', async () => {
    let ran = false;
    const request: VisionPartRequest = { manifestSha256: 'a'.repeat(64), variant: 'int8', part: 2, data: new Float32Array(4), dims: [1, 4], deadline: Date.now() - 5, hopMs: 10 };
    const late = await runPartHop({ request, arrived: Date.now(), timeoutMs: 1_000, parts: 3, next: undefined, run: async (data, dims) => ((ran = true), { data, dims }) });
    expect(late).toMatchObject({ ok: false, code: 'TIMEOUT', part: 2 });
    expect(ran).toBe(false);
    const fresh = { ...request, deadline: Date.now() + 1_000 };
    const passThrough = async (data: Float32Array, dims: number[]) => ({ data, dims });
    expect(await runPartHop({ request: fresh, arrived: Date.now(), timeoutMs: 1_000, parts: 3, next: undefined, run: passThrough })).toMatchObject({ ok: false, code: 'UNBOUND', part: 3 });
    const throwing: VisionPartService = { runPart: () => Promise.reject(new Error('Network connection lost.')) };
    expect(await runPartHop({ request: fresh, arrived: Date.now(), timeoutMs: 1_000, parts: 3, next: throwing, run: passThrough })).toMatchObject({ ok: false, code: 'FAILED', part: 3, message: 'Network connection lost.' });
    expect(await runPartHop({ request: fresh, arrived: Date.now(), timeoutMs: 1_000, parts: 3, next: undefined, run: () => Promise.reject(new Error('wasm trap')) })).toMatchObject({ ok: false, code: 'FAILED', part: 2 });
  });

  it('each hop keeps a quarter of the budget at most over the hops, and at most VISION_HOP_MAX_MS', () => {
    expect(visionHopMs(30_000, 6)).toBe(VISION_HOP_MAX_MS);
    expect(visionHopMs(400, 2)).toBe(33);
    expect(visionHopMs(1, 6)).toBe(1);
    for (const [budget, parts] of [[1_000, 2], [5_000, 6], [30_000, 12]] as const) expect(visionHopMs(budget, parts) * (parts + 1)).toBeLessThanOrEqual(budget / 4);
  });
});

describe('warming a chain (VisionPart.warm)', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('this part and the next failing at once: rejects with this part’s error, and neither is left unhandled', async () => {
    process.on('unhandledRejection', onUnhandled);
    const next: VisionPartService = { runPart: () => Promise.reject(new Error('unused')), warm: () => sleep(20).then(() => Promise.reject(new Error('part 2 could not load'))) };
    await expect(warmChain(() => Promise.reject(new Error('part 1 could not load')), next)).rejects.toThrow('part 1 could not load');
    // The next part's failure, settling later, is still awaited.
    await sleep(60);
    expect(unhandled).toEqual([]);
    await expect(warmChain(async () => undefined, next)).rejects.toThrow('part 2 could not load');
  });

  it('a load thrown synchronously is a rejection too; a chain that loads counts its parts; a failed load is tried again', async () => {
    const sync = (): Promise<unknown> => {
      throw new Error('no MODELS binding');
    };
    await expect(warmChain(sync, undefined)).rejects.toThrow('no MODELS binding');
    let tries = 0;
    const flaky = async () => {
      if (++tries === 1) throw new Error('R2 read failed');
    };
    const last: VisionPartService = { runPart: async (): Promise<VisionPartReply> => ({ ok: false, code: 'FAILED', part: 2, message: 'unused' }), warm: () => warmChain(flaky, undefined) };
    await expect(warmChain(async () => undefined, last)).rejects.toThrow('R2 read failed');
    expect(await warmChain(async () => undefined, last)).toBe(2);
  });
});
