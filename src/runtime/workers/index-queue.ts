// Bulk indexing on Cloudflare: a producer (R2 event notifications, or anything that sends
// {"key": "<R2 key>"}) puts image keys on a Queue; this consumer (batches ≤ 100 messages) reads each
// image from R2, embeds it with the Worker's vision tower and upserts the batch into Vectorize.
// - Idempotent: ids are the sha256 of the image bytes, so a redelivered message rewrites the same
//   record (Queues deliver at least once; a consumer that crashes mid-batch is retried).
// - Permanent failures (corrupt or unsupported image, missing object, bad message) go to the
//   dead-letter queue at once with the reason, and are acked: retrying cannot fix them.
// - Transient failures (R2, Vectorize, overload) are retried with exponential backoff; after the
//   consumer's max_retries, Queues moves them to the same dead-letter queue.
import type { ClipEdge } from '../../core/clip.ts';
import { isClipEdgeError } from '../../core/errors.ts';
import { sha256Hex } from '../../core/model/integrity.ts';
import type { Metadata, VectorIndex, VectorRecord } from '../../search/types.ts';
import type { R2BucketLike } from './bindings.ts';

/** The queue message: our producer's `{key}`, or an R2 event notification (`{object: {key}}`). */
export type IndexMessageBody = { key: string } | { object: { key: string }; action?: string; bucket?: string };

/** What a dead-lettered message carries (the original body and why it failed). */
export interface DeadLetter {
  body: unknown;
  code: string;
  message: string;
  attempts: number;
}

/** The slices of the Queues API the consumer uses (Cloudflare's Message / MessageBatch / Queue). */
export interface QueueMessageLike {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}
export interface MessageBatchLike {
  readonly queue: string;
  readonly messages: readonly QueueMessageLike[];
}
export interface QueueProducerLike<T> {
  send(body: T, options?: { contentType?: string }): Promise<void>;
}

export interface IndexConsumerOptions {
  clip: () => Promise<ClipEdge>;
  index: (clip: ClipEdge) => Promise<VectorIndex>;
  /** The bucket the keys point into. */
  images: R2BucketLike;
  /** Where permanent failures go (the consumer's dead_letter_queue, bound as a producer). @defaultValue none: they are logged and acked */
  deadLetter?: QueueProducerLike<DeadLetter>;
  /** Delay before retry number `attempts`. @defaultValue 2^attempts s, at most 15 min */
  backoffSeconds?: (attempts: number) => number;
  /** Metadata stored with each image. @defaultValue { key, bytes } */
  metadata?: (key: string, bytes: Uint8Array) => Metadata;
  log?: (line: string) => void;
  /**
   * Images decoded and embedded at once. Each holds its decoded pixels until embedded, so in a
   * 128 MB isolate a batch of 100 must not be decoded all together. @defaultValue 4
   */
  concurrency?: number;
}

/** Runs `fn` over `items`, at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Errors about the image itself: the same bytes will fail the same way next time. */
const PERMANENT = new Set(['CORRUPT_IMAGE', 'UNSUPPORTED_IMAGE', 'IMAGE_TOO_LARGE', 'BAD_INPUT']);

const keyOf = (body: unknown): string | undefined => {
  const b = body as { key?: unknown; object?: { key?: unknown } } | null;
  const key = typeof b?.key === 'string' ? b.key : typeof b?.object?.key === 'string' ? b.object.key : undefined;
  return key && key.length <= 1024 ? key : undefined;
};

export const defaultBackoff = (attempts: number) => Math.min(2 ** attempts, 900);

export function createIndexConsumer(o: IndexConsumerOptions): (batch: MessageBatchLike) => Promise<void> {
  const backoff = o.backoffSeconds ?? defaultBackoff;
  const log = o.log ?? ((l: string) => console.warn(`[clip-edge index] ${l}`));
  const metadataOf = o.metadata ?? ((key: string, bytes: Uint8Array) => ({ key, bytes: bytes.byteLength }));
  let ready: Promise<{ clip: ClipEdge; index: VectorIndex }> | undefined;

  const deadLetter = async (m: QueueMessageLike, code: string, message: string) => {
    log(`dead-lettered ${JSON.stringify(m.body).slice(0, 200)}: ${code}: ${message}`);
    await o.deadLetter?.send({ body: m.body, code, message, attempts: m.attempts });
    m.ack();
  };
  const retry = (m: QueueMessageLike, why: unknown) => {
    log(`retrying ${JSON.stringify(m.body).slice(0, 200)} (attempt ${m.attempts}): ${why instanceof Error ? why.message : String(why)}`);
    m.retry({ delaySeconds: backoff(m.attempts) });
  };

  return async (batch) => {
    ready ??= (async () => {
      const clip = await o.clip();
      return { clip, index: await o.index(clip) };
    })().catch((e) => {
      ready = undefined;
      throw e;
    });
    // A model that cannot load fails the whole batch: Queues retries it (and dead-letters it in the end).
    const { clip, index } = await ready;
    const done: { m: QueueMessageLike; record: VectorRecord }[] = [];
    await pool(batch.messages, o.concurrency ?? 4, async (m) => {
      const key = keyOf(m.body);
      if (!key) return deadLetter(m, 'BAD_INPUT', 'the message has no R2 key ({"key": …} or an R2 event notification)');
      let bytes: Uint8Array;
      try {
        const obj = await o.images.get(key);
        if (!obj) return deadLetter(m, 'NOT_FOUND', `no object "${key}" in the bucket`);
        bytes = new Uint8Array(await obj.arrayBuffer());
      } catch (e) {
        return retry(m, e);
      }
      try {
        const [{ embedding }, id] = await Promise.all([clip.embedImage(bytes), sha256Hex(bytes)]);
        done.push({ m, record: { id, vector: embedding, metadata: metadataOf(key, bytes) } });
      } catch (e) {
        if (isClipEdgeError(e) && PERMANENT.has(e.code)) return deadLetter(m, e.code, e.message);
        return retry(m, e);
      }
    });
    if (!done.length) return;
    // Two messages for the same bytes become one record.
    const unique = [...new Map(done.map((d) => [d.record.id, d.record])).values()];
    try {
      await index.upsert(unique, { model: clip.info.id });
    } catch (e) {
      for (const d of done) retry(d.m, e);
      return;
    }
    for (const d of done) d.m.ack();
  };
}
