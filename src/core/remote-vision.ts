import { deadlineOf, throwIfAborted, whenAborted } from './abort.ts';
import { ClipEdgeError } from './errors.ts';
import type { ModelInfo } from './model/info.ts';
import type { Precision } from './precision.ts';
import type { VisionItem } from './tower.ts';
import { timerUntil, visionHopMs } from './vision-chain.ts';
import type { VisionPartReply, VisionPartService } from './vision-parts.ts';

/** What the image embedder and `/v1/models` need of a vision tower, local (TowerRunner) or remote (this). */
export interface VisionTower {
  readonly precision: Precision;
  readonly loaded: boolean;
  readonly inPlace: boolean;
  /** The tower runs in other Workers (a chain of parts). */
  readonly remote?: { parts: number };
  load(): Promise<unknown>;
  run(items: readonly VisionItem[], signal?: AbortSignal): Promise<Float32Array[]>;
}

export interface RemoteVisionOptions {
  info: ModelInfo;
  /** Part 1's service binding; it calls part 2, and so on. */
  service: VisionPartService;
  /** sha256 of this side's manifest.json (every part must serve the same one). */
  manifestSha256: string;
  variant: Precision;
  parts: number;
  /**
   * A chain not answered by then is a fault (503 VISION_TOWER_DOWN). Less when the request's deadline
   * (recorded on its signal, `setDeadline`) comes sooner: the chain then answers one hop before it.
   * @defaultValue 30000
   */
  timeoutMs?: number;
  /** Sent as `Retry-After` with VISION_TOWER_DOWN. @defaultValue 5 */
  retryAfterSeconds?: number;
}

const down = (message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}, cause?: unknown) =>
  new ClipEdgeError('VISION_TOWER_DOWN', message, { details: { retryAfterSeconds, ...details }, ...(cause !== undefined ? { cause } : {}) });

function checkReply(o: RemoteVisionOptions, reply: VisionPartReply, retry: number): Float32Array {
  if (!reply || typeof reply !== 'object') throw down('the vision tower chain answered nothing usable', retry);
  if (!reply.ok) {
    if (reply.code === 'MODEL_MISMATCH') {
      throw new ClipEdgeError('MODEL_INVALID', `vision part ${reply.part} of ${o.parts} serves another model: ${reply.message}; point CLIP_EDGE_MODEL of every Worker at the same folder and bind the parts in order (VISION_PARTS → part 1, each NEXT_PART → the next)`);
    }
    throw down(`vision part ${reply.part} of ${o.parts} is down (${reply.code}): ${reply.message}`, retry, { part: reply.part, fault: reply.code });
  }
  const dim = o.info.embedDim;
  if (!(reply.data instanceof Float32Array) || reply.data.length !== dim || reply.dims.at(-1) !== dim || reply.parts !== o.parts) {
    throw new ClipEdgeError('MODEL_INVALID', `the vision tower chain answered ${reply.data?.length} values after ${reply.parts} parts; expected ${dim} after ${o.parts}`);
  }
  return reply.data;
}

/**
 * The vision tower of a chain of part Workers as this Worker's vision tower: the pixels go to part 1
 * over its service binding, the embedding comes back. A chain that throws, does not answer within
 * `timeoutMs`, or reports a part down or unbound is 503 VISION_TOWER_DOWN with Retry-After, naming
 * the part; nothing is left waiting.
 */
export function createRemoteVision(o: RemoteVisionOptions): VisionTower {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const retry = o.retryAfterSeconds ?? 5;
  const { cropHeight: h, cropWidth: w } = o.info.preprocess;
  let answered = false;
  const one = async (pixels: VisionItem, signal?: AbortSignal): Promise<Float32Array> => {
    throwIfAborted(signal);
    const now = Date.now();
    // The chain's time: this Worker's timeout, or what the request has left less one hop for the answer to get out.
    const requestLeft = (deadlineOf(signal) ?? Infinity) - now;
    const hopMs = visionHopMs(Math.min(timeoutMs, requestLeft), o.parts);
    const budget = Math.min(timeoutMs, requestLeft - hopMs);
    if (budget <= 0) throw down(`the request has no time left for the vision tower chain (${o.parts} parts)`, retry, { part: 1, fault: 'TIMEOUT' });
    const deadline = now + budget;
    const timer = timerUntil(deadline, now);
    const aborted = whenAborted(signal);
    try {
      // Part 1 answers one hop before this Worker must; each part gives the next one hop less (VisionPartRequest.deadline).
      const call = o.service.runPart({ manifestSha256: o.manifestSha256, variant: o.variant, part: 1, data: pixels, dims: [1, 3, h, w], deadline: deadline - hopMs, hopMs });
      const late = timer.wait.then(() => {
        throw down(`vision part 1 of ${o.parts} did not answer within ${budget} ms`, retry, { part: 1, fault: 'TIMEOUT' });
      });
      const reply = await Promise.race([call, late, aborted.promise]);
      const row = checkReply(o, reply, retry);
      answered = true;
      return row;
    } catch (e) {
      if (e instanceof ClipEdgeError) throw e;
      console.warn(`[clip-edge] vision part 1 call failed: ${e instanceof Error ? e.message : String(e)}`);
      throw down(`vision part 1 of ${o.parts} failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, retry, { part: 1, fault: 'FAILED' }, e);
    } finally {
      timer.clear();
      aborted.dispose();
    }
  };
  return {
    precision: o.variant,
    get loaded() {
      return answered;
    },
    inPlace: false,
    remote: { parts: o.parts },
    // Each part Worker loads its own part; warm() has them load one after another down the chain (a failure is
    // logged and shows on the first run too). The first run waits for it (up to 4 × the timeout: a cold ViT-L/14 part takes tens of seconds on a
    // busy machine) so that it does not reach a part still loading for another call: on Workers, a request
    // awaiting a promise that another request's I/O resolves may never be resumed.
    load: async () => {
      if (!o.service.warm) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([o.service.warm(), new Promise((r) => (timer = setTimeout(r, 4 * timeoutMs)))])
        .catch((e: unknown) => console.warn(`[clip-edge] warming the vision parts failed (the first image loads them again): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`))
        .finally(() => clearTimeout(timer));
    },
    run: async (items, signal) => {
      const out: Float32Array[] = [];
      for (const x of items) out.push(await one(x, signal));
      return out;
    },
  };
}
