// A part Worker's entry (wrangler.vision-part.toml `main`): one consecutive part of a vision tower
// split across Workers (`clip-edge quantize --split`), behind one Workers RPC method, with no public
// route. The vision Worker calls part 1 (binding VISION_PARTS); each part calls the next (NEXT_PART).
import { WorkerEntrypoint } from 'cloudflare:workers';
import { warmChain } from '../../core/vision-chain.ts';
import type { VisionPartReply, VisionPartRequest } from '../../core/vision-parts.ts';
import type { WorkersEnv } from './bindings.ts';
import { type VisionPartInfo, createVisionPartService } from './vision-part-service.ts';

let service: { env: WorkersEnv; value: ReturnType<typeof createVisionPartService> } | undefined;
/** Calls this isolate has served (reported by `info()`). */
let calls = 0;

/** One service per isolate (a failed load is retried by the next call). */
function serviceOf(env: WorkersEnv): ReturnType<typeof createVisionPartService> {
  if (service?.env !== env) {
    const value = createVisionPartService(env);
    value.catch(() => {
      if (service?.value === value) service = undefined;
    });
    service = { env, value };
  }
  return service.value;
}

const partOf = (env: WorkersEnv) => Number(env.CLIP_EDGE_VISION_PART) || 0;

/** `[[services]] binding = "VISION_PARTS" | "NEXT_PART", entrypoint = "VisionPart"`. */
export class VisionPart extends WorkerEntrypoint<WorkersEnv> {
  /** Runs this part on `request`'s activations and passes the result on; failures come back as a reply naming the part, never as a throw. */
  async runPart(request: VisionPartRequest): Promise<VisionPartReply> {
    calls++;
    try {
      return await (await serviceOf(this.env)).runPart(request);
    } catch (e) {
      // The part could not be set up (configuration, model folder): say so to the caller.
      console.error('[clip-edge] vision part Worker:', e);
      return { ok: false, code: 'FAILED', part: partOf(this.env), message: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
    }
  }

  /**
   * Loads this part while the next part loads too (the vision Worker calls it before its first image);
   * rejects when any fails, naming it. A failed load is not kept: the next warm() or runPart() loads again.
   */
  async warm(): Promise<number> {
    return warmChain(async () => (await serviceOf(this.env)).load(), this.env.NEXT_PART);
  }

  /** Which part of which model this Worker serves, and its isolate's ORT memory. */
  async info(): Promise<VisionPartInfo & { calls: number }> {
    return { ...(await (await serviceOf(this.env)).info()), calls };
  }
}

export default {
  fetch(): Response {
    return Response.json({ error: { code: 'NOT_FOUND', message: 'a clip-edge vision part Worker has no public routes: bind it as a service (entrypoint VisionPart)' } }, { status: 404 });
  },
};
