import { ClipEdgeError } from './errors.ts';
import type { ModelInfo } from './model/info.ts';
import { type ManifestVisionParts, parseManifest } from './model/manifest.ts';
import type { Precision } from './precision.ts';

/**
 * A vision tower cut into consecutive parts (`clip-edge quantize --split`), each run by its own
 * Worker, chained over service bindings: the first Worker decodes and preprocesses, sends the pixels
 * to part 1, each part sends its output (the activations at the cut) to the next, and the last
 * part's output (the image embedding) travels back along the chain. This is the protocol.
 */

/** One hop's request: the activations entering part `part` (1-based), and which model both sides serve. */
export interface VisionPartRequest {
  /** sha256 of the caller's manifest.json: every part must serve the same one. */
  manifestSha256: string;
  /** The vision variant the parts were cut from (`int8`). */
  variant: Precision;
  /** The part this hop must run, 1-based. */
  part: number;
  data: Float32Array;
  dims: number[];
  /**
   * When this hop must have answered its caller, in ms since the epoch (the Workers of a chain run
   * side by side, on one clock). Each hop gives the next `deadline - hopMs`, so the deepest part still
   * waiting times out first and its caller's answer names the part that did not answer.
   * Absent: the part's own CLIP_EDGE_VISION_TIMEOUT_MS from when the request reached it.
   */
  deadline?: number;
  /** What each hop keeps back from the deadline it passes on, for an answer to travel back. @defaultValue 0 */
  hopMs?: number;
}

/** Why the chain could not answer, and at which part (1-based). */
export type VisionChainFault = 'UNBOUND' | 'TIMEOUT' | 'FAILED' | 'MODEL_MISMATCH' | 'BAD_INPUT';

export type VisionPartReply =
  | { ok: true; data: Float32Array; dims: number[]; parts: number }
  | { ok: false; code: VisionChainFault; part: number; message: string };

/** What a part Worker offers over RPC (`entrypoint = "VisionPart"`). */
export interface VisionPartService {
  runPart(request: VisionPartRequest): Promise<VisionPartReply>;
  /**
   * Loads this part, then asks the next one to warm (vision-chain.ts `warmChain`: one part after
   * another). Resolves with the parts loaded (this one and those after it); rejects with the first failure.
   */
  warm?(): Promise<number>;
}

export interface VisionPartEntry {
  file: string;
  bytes?: number;
  sha256?: string;
  ort?: { file: string; bytes?: number; sha256?: string };
  input: string;
  output: string;
}

/** The parts a folder lists for a vision variant, in order; MODEL_NOT_FOUND when it lists none. */
export function visionPartsOf(info: ModelInfo, variant: Precision): VisionPartEntry[] {
  const m = info.manifest ? parseManifest(info.manifest, `${info.id}/manifest.json`) : undefined;
  const split: ManifestVisionParts | undefined = m?.variants?.[variant]?.visionParts;
  if (!split) {
    throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} lists no ${variant} vision tower in parts (cut it with: clip-edge quantize <dir> --split ${variant})`);
  }
  return split.parts.map((p) => ({ ...p }));
}

/** The variant whose parts a Worker serves: `wanted`, else the first of `order` whose parts the manifest lists. */
export function splitVariantOf(info: ModelInfo, wanted: Precision | 'auto' | undefined, order: readonly Precision[]): Precision {
  if (wanted && wanted !== 'auto') return wanted;
  const m = info.manifest ? parseManifest(info.manifest, `${info.id}/manifest.json`) : undefined;
  const found = order.find((p) => m?.variants?.[p]?.visionParts);
  if (!found) throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} lists no vision tower in parts (cut one with: clip-edge quantize <dir> --split int8)`);
  return found;
}

/** The most a hop keeps back for the answer's way back (an RPC reply takes milliseconds; a busy isolate, more). */
export const VISION_HOP_MAX_MS = 500;

/** Activations one hop may carry: batch 1 of ViT-L/14@336 is 577 × 1024 floats (2.3 MiB); far under the RPC limit (32 MiB). */
export const VISION_PART_MAX_FLOATS = 4 * 1024 * 1024;

/** Checks a request's activations before any work: a float32 tensor of at most {@link VISION_PART_MAX_FLOATS}, its dims matching its length. */
export function checkPartRequest(r: VisionPartRequest): string | undefined {
  if (!r || typeof r !== 'object') return 'runPart takes one request object';
  if (!(r.data instanceof Float32Array)) return 'data must be a Float32Array';
  if (r.data.length > VISION_PART_MAX_FLOATS) return `data holds ${r.data.length} floats, more than ${VISION_PART_MAX_FLOATS}`;
  if (!Array.isArray(r.dims) || r.dims.length < 1 || r.dims.length > 6 || !r.dims.every((d) => Number.isInteger(d) && d >= 1)) return 'dims must be 1 to 6 positive integers';
  if (r.dims.reduce((a, b) => a * b, 1) !== r.data.length) return `dims [${r.dims.join(', ')}] do not match ${r.data.length} floats`;
  if (!Number.isInteger(r.part) || r.part < 1) return 'part must be a positive integer';
  if (r.deadline !== undefined && !Number.isFinite(r.deadline)) return 'deadline must be a time in ms since the epoch';
  if (r.hopMs !== undefined && !(Number.isFinite(r.hopMs) && r.hopMs >= 0 && r.hopMs <= VISION_HOP_MAX_MS)) return `hopMs must be 0 to ${VISION_HOP_MAX_MS}`;
  return undefined;
}

