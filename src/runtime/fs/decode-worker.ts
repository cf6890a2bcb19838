// One decode thread of the Node pool (decode-pool.ts): a plain image decoder (no budget: the
// main thread has checked the header and reserved the memory) that answers one job at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { isClipEdgeError } from '../../core/errors.ts';
import { createImageDecoder } from '../../core/image/decoder.ts';
import type { JpegScale } from '../../core/image/jpeg-turbo.ts';
import type { ClipPreprocessConfig } from '../../core/image/preprocess.ts';
import { nodeImageCodecs } from './codecs.ts';
import { lowerThreadPriority } from './thread-priority.ts';


export interface DecodeJob {
  readonly id: number;
  readonly bytes: Uint8Array;
  /** Present: decodeForClip with it; absent: decode (full size). */
  readonly config?: ClipPreprocessConfig;
  /** With `config`: the DCT scale the main thread planned (and reserved memory for) a JPEG at (1: exact). */
  readonly jpegScale?: JpegScale;
}

export type DecodeReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { code?: string; message: string; details?: Record<string, unknown> } };

const options = workerData as { maxPixels: number; maxJpegScans: number; maxPixelsPerByte: number; jpegTurbo: boolean; threadNice: number };
lowerThreadPriority(options.threadNice);
const decoder = createImageDecoder({
  wasm: nodeImageCodecs({ jpegTurbo: options.jpegTurbo }),
  maxPixels: options.maxPixels,
  maxJpegScans: options.maxJpegScans,
  maxPixelsPerByte: options.maxPixelsPerByte,
});

parentPort!.postMessage({ ready: true });

parentPort!.on('message', (job: DecodeJob) => {
  const work = job.config ? decoder.decodeForClip(job.bytes, job.config, undefined, job.jpegScale) : decoder.decode(job.bytes);
  work.then(
    (value) => {
      const data = (value as { data?: Uint8Array }).data ?? (value as { crop: { data: Uint8Array } }).crop.data;
      const reply = { id: job.id, ok: true, value } satisfies DecodeReply;
      // The pixels are handed over, not copied, when they own their buffer (never a wasm memory).
      if (data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) parentPort!.postMessage(reply, [data.buffer]);
      else parentPort!.postMessage(reply);
    },
    (e: unknown) => {
      const error = isClipEdgeError(e)
        ? { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) }
        : { message: e instanceof Error ? e.message : String(e) };
      parentPort!.postMessage({ id: job.id, ok: false, error } satisfies DecodeReply);
    },
  );
});
