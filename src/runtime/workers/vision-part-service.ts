import { freeBytes } from '../../core/bytes.ts';
import { ClipEdgeError } from '../../core/errors.ts';
import { readModelInfo } from '../../core/model/info.ts';
import { createPartRunner } from '../../core/part-runner.ts';
import type { Precision } from '../../core/precision.ts';
import { runPartHop } from '../../core/vision-chain.ts';
import { type VisionPartService, checkPartRequest, splitVariantOf, visionPartsOf } from '../../core/vision-parts.ts';
import { envInt } from '../../http/env.ts';
import type { WorkersEnv } from './bindings.ts';
import { workersConfig } from './config.ts';
import { manifestSha256, modelSourceOf } from './model-source.ts';
import { ortExactGrowth, ortWasmMemoryBytes, workersWasmBackend } from './ort.ts';
import { WORKERS_VARIANT_ORDER } from './variants.ts';

/** CLIP_EDGE_VISION_TIMEOUT_MS: how long a Worker waits for the rest of the part chain. @defaultValue 30000 */
export function visionTimeoutMs(env: WorkersEnv): number {
  return envInt({ CLIP_EDGE_VISION_TIMEOUT_MS: env.CLIP_EDGE_VISION_TIMEOUT_MS }, 'CLIP_EDGE_VISION_TIMEOUT_MS', 1) ?? 30_000;
}

/** CLIP_EDGE_VISION_PART: the part this Worker runs, 1-based. */
export function partNumberOf(env: WorkersEnv): number {
  const v = env.CLIP_EDGE_VISION_PART?.trim() ?? '';
  const n = Number(v);
  if (!v || !Number.isInteger(n) || n < 1) throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_VISION_PART must be this Worker's part number: 1, 2, … (its value is not shown, in case it is a secret)`);
  return n;
}

/** What a part Worker serves, and the memory its isolate holds (logs, tests and `workers:memory`). */
export interface VisionPartInfo {
  manifestSha256: string;
  variant: Precision;
  part: number;
  parts: number;
  file: string;
  inPlace: boolean;
  loaded: boolean;
  ortWasmBytes: number;
  /** ORT's heap grows to exactly what it allocates (false: Emscripten's +20 % steps, an ORT build the kit does not recognise). */
  ortExactGrowth: boolean;
}

/**
 * A part Worker's work: its part of the vision tower (the `.ort` the manifest lists, streamed from R2
 * into ORT's heap and used in place, hashed as it streams), run on the activations it is sent; the
 * output goes on to NEXT_PART, or back as the embedding when this is the last part. A caller that
 * serves another manifest, variant or part number is refused.
 */
export async function createVisionPartService(
  env: WorkersEnv,
): Promise<VisionPartService & { info(): Promise<VisionPartInfo>; load(): Promise<void>; runLocal(data: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> }> {
  const cfg = workersConfig(env);
  const part = partNumberOf(env);
  const timeoutMs = visionTimeoutMs(env);
  const source = modelSourceOf(env, cfg);
  const [info, manifest] = await Promise.all([readModelInfo(source), manifestSha256(source)]);
  const variant = splitVariantOf(info, cfg.visionVariant, WORKERS_VARIANT_ORDER);
  const parts = visionPartsOf(info, variant);
  const entry = parts[part - 1];
  if (!entry) throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_VISION_PART is ${part}, but ${info.id}'s ${variant} vision tower has ${parts.length} parts`);
  const runner = createPartRunner({ backend: workersWasmBackend(), source, part: entry, inPlace: cfg.inPlace, requireIntegrity: true, onLoaded: (line) => console.log(`[clip-edge] vision part ${part} of ${parts.length}: ${line}`) });
  let loaded = false;
  /**
   * The part on activations this Worker owns (RPC's copy, or a request body's): the run copies them into
   * ORT's heap, so they are given back right after it rather than at the next GC (while the rest of the chain runs).
   */
  const runOwned = async (data: Float32Array, dims: number[]) => {
    const out = await runner.run(data, dims);
    freeBytes(data);
    loaded = true;
    return out;
  };
  return {
    /** Loads the part now instead of on the first call. */
    load: () => runner.load().then(() => undefined),
    /** This part alone, without passing the result on (`npm run workers:memory -- --parts` measures each part in its own isolate). */
    runLocal: runOwned,
    info: async () => ({ manifestSha256: manifest, variant, part, parts: parts.length, file: (runner.inPlace ? entry.ort! : entry).file, inPlace: runner.inPlace, loaded, ortWasmBytes: ortWasmMemoryBytes() ?? 0, ortExactGrowth: ortExactGrowth() ?? false }),
    async runPart(request) {
      // The clock read on arrival (an I/O event, so fresh even where a Worker's clock moves only on I/O).
      const arrived = Date.now();
      const bad = checkPartRequest(request);
      if (bad) return { ok: false, code: 'BAD_INPUT', part, message: bad };
      if (request.manifestSha256 !== manifest || request.variant !== variant || request.part !== part) {
        return {
          ok: false,
          code: 'MODEL_MISMATCH',
          part,
          message: `this Worker serves part ${part} of ${parts.length} of ${info.id}'s ${variant} vision tower (manifest sha256 ${manifest.slice(0, 12)}…); it was asked for part ${request.part} of the ${request.variant} tower of manifest ${String(request.manifestSha256).slice(0, 12)}…`,
        };
      }
      return runPartHop({ request, arrived, timeoutMs, parts: parts.length, next: env.NEXT_PART, sent: (out) => freeBytes(out.data), run: async (data, dims) => {
        try {
          return await runOwned(data, dims);
        } catch (e) {
          console.error(`[clip-edge] vision part ${part} failed:`, e);
          throw e;
        }
      } });
    },
  };
}
