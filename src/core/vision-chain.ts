import { VISION_HOP_MAX_MS, type VisionPartReply, type VisionPartRequest, type VisionPartService } from './vision-parts.ts';

export { VISION_HOP_MAX_MS };

// The time of a vision tower split across Workers (src/core/vision-parts.ts has the protocol): the
// first Worker gives the chain a deadline within its request's, and each hop gives the next part its
// share, one hop less, so that the deepest part still waiting times out first and its caller's answer
// names the part that did not answer, in time for the request.

/**
 * What each hop keeps back from the chain's time: a quarter of the budget spread over the hops
 * (so at least three quarters reach the last part), at most {@link VISION_HOP_MAX_MS}.
 */
export function visionHopMs(budgetMs: number, parts: number): number {
  return Math.max(1, Math.min(VISION_HOP_MAX_MS, Math.floor(budgetMs / (4 * (parts + 1)))));
}

/**
 * Sends `request` to part `part` (the next one), answering by `deadline` (ms since the epoch) whatever
 * happens: a part that throws, is not bound, or has not answered by then becomes a reply naming it. The
 * timer runs from `startedAt` (when the caller was reached): a deployed Worker's clock moves only on
 * I/O, so a timer started after the caller's own CPU-bound run would fire late by that run.
 */
export async function forwardToPart(
  next: VisionPartService | undefined,
  request: VisionPartRequest,
  part: number,
  deadline: number,
  startedAt: number,
  wait: Promise<void>,
): Promise<VisionPartReply> {
  if (!next) return { ok: false, code: 'UNBOUND', part, message: `part ${part}'s Worker is not bound as NEXT_PART in part ${part - 1}'s Worker (wrangler config)` };
  const late: VisionPartReply = { ok: false, code: 'TIMEOUT', part, message: `part ${part} did not answer within ${deadline - startedAt} ms (the chain's deadline)` };
  try {
    return await Promise.race([next.runPart(request), wait.then(() => late)]);
  } catch (e) {
    return { ok: false, code: 'FAILED', part, message: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  }
}

/** A promise resolved at `deadline` (ms since the epoch), and the means to stop its timer. */
export function timerUntil(deadline: number, now = Date.now()): { wait: Promise<void>; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - now));
  });
  return { wait, clear: () => clearTimeout(timer) };
}


/**
 * A part Worker's warm(): loads this part, then asks the next one to warm (and so on down the chain),
 * one part after another. Resolves with the parts loaded from here on; rejects with the first failure
 * (nothing failed is kept: the next warm() or run loads again). One after another, not all at once:
 * the parts of a chain share one workerd thread under `wrangler dev`, where six ViT-L/14 parts
 * streaming at once stalled it (docs/workers.md), and a part's 50 MB in flight at a time is enough.
 */
export async function warmChain(load: () => Promise<unknown>, next: VisionPartService | undefined): Promise<number> {
  await load();
  return 1 + (next?.warm ? await next.warm() : 0);
}

export interface PartHopOptions {
  /** The request, already checked (checkPartRequest, same manifest, this part's number). */
  request: VisionPartRequest;
  /** Date.now() when the request reached this part (an I/O event: fresh even where a Worker's clock moves only on I/O). */
  arrived: number;
  /** The deadline when the caller sent none: this long after `arrived`. */
  timeoutMs: number;
  parts: number;
  /** The next part (NEXT_PART); absent in the last part, or when not bound. */
  next: VisionPartService | undefined;
  /** This part on the activations; a throw becomes a FAILED reply naming this part. */
  run(data: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  /**
   * Called with this part's output once the call to the next part has been made: Workers RPC has
   * serialized its arguments by then, so the part Worker gives that memory back at once
   * (`freeBytes`) instead of holding it while the rest of the chain runs. @defaultValue nothing
   */
  sent?(out: { data: Float32Array; dims: number[] }): void;
}

/**
 * One part's hop: its part run on the activations, the output passed on to the next part, the answer
 * (or the fault, naming the part) back by the hop's deadline. A request past its deadline is not run.
 */
export async function runPartHop(o: PartHopOptions): Promise<VisionPartReply> {
  const { request, arrived } = o;
  const part = request.part;
  const last = part === o.parts;
  // When this part must have answered its caller: the caller's share of the request's time, or this Worker's own timeout.
  const deadline = request.deadline ?? arrived + o.timeoutMs;
  if (arrived >= deadline) return { ok: false, code: 'TIMEOUT', part, message: `part ${part} was reached ${arrived - deadline} ms after its deadline` };
  // Started before this part runs (see forwardToPart): the next part must have answered by then.
  const timer = last ? undefined : timerUntil(deadline, arrived);
  try {
    let out: { data: Float32Array; dims: number[] };
    try {
      out = await o.run(request.data, request.dims);
    } catch (e) {
      return { ok: false, code: 'FAILED', part, message: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
    }
    if (last) return { ok: true, data: out.data, dims: out.dims, parts: o.parts };
    const late = Date.now() - deadline;
    if (late >= 0) return { ok: false, code: 'TIMEOUT', part, message: `part ${part} ran ${late} ms past its deadline` };
    // The next part must answer one hop earlier, so that its answer (or its TIMEOUT naming a later part) is back in time.
    const onward = { ...request, part: part + 1, data: out.data, dims: out.dims, deadline: deadline - (request.hopMs ?? 0) };
    const reply = forwardToPart(o.next, onward, part + 1, deadline, arrived, timer!.wait);
    o.sent?.(out);
    return await reply;
  } finally {
    timer?.clear();
  }
}
