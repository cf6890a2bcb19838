import { ClipEdgeError, isClipEdgeError } from './errors.ts';
import { expandPrompts } from './label-sets.ts';
import type { ModelInfo } from './model/info.ts';
import { sha256Hex } from './model/integrity.ts';
import type { Precision } from './precision.ts';
import type { PromptCacheHeader } from './prompt-cache/format.ts';
import { createPromiseLru } from './promise-lru.ts';
import type { EncodedTexts, TextEmbedder } from './text-embedder.ts';
import { ensemble } from './zeroshot.ts';

/** Who the caller expects to answer: the text Worker refuses a request for another model or text encoder. */
export interface TextServiceRequest {
  /** sha256 of the caller's manifest.json. */
  manifestSha256: string;
  /** sha256 of the text encoder file the caller expects (the manifest's entry). */
  textSha256: string;
}

export type TextServiceReply =
  | {
      ok: true;
      /** Raw (not normalised) embeddings, `texts.length × dim`, row after row. */
      rows: Float32Array;
      dim: number;
      truncated: boolean[];
      manifestSha256: string;
      textEncoder: PromptCacheHeader['textEncoder'];
      inferenceMs: number;
    }
  | { ok: false; code: 'MODEL_MISMATCH'; message: string; manifestSha256: string };

/** The text tower elsewhere (on Workers: the text Worker's `embedTexts`, over a service binding). */
export interface TextService {
  embedTexts(texts: string[], request: TextServiceRequest): Promise<TextServiceReply>;
}

/** Per-prompt rows shared by every isolate (Workers KV); keys already name the model and text encoder. */
export interface PromptRowStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
}

export interface RemoteTextOptions {
  info: ModelInfo;
  service: TextService;
  /** sha256 of this side's manifest.json (the service must serve the same one). */
  manifestSha256: string;
  /** The text encoder expected to answer (the manifest's entry for the variant both sides pick). */
  textEncoder: { file: string; precision: Precision; sha256: string };
  rows?: PromptRowStore;
  /** Texts per call. @defaultValue 64 (the batch the text Worker's memory is measured with) */
  maxTextsPerCall?: number;
  /** UTF-8 bytes of texts per call, far under the RPC message limit (32 MiB). @defaultValue 1 MiB */
  maxBytesPerCall?: number;
  /** A call not answered by then is a fault (503 TEXT_ENCODER_DOWN). @defaultValue 15000 */
  timeoutMs?: number;
  /** Prompts looked up in (and written back to) the row store per batch: each is one KV operation. @defaultValue 256 */
  maxStoreOps?: number;
  /** Bytes of rows kept in memory per isolate. @defaultValue 8 MiB */
  memoryBytes?: number;
  /** Sent as `Retry-After` with TEXT_ENCODER_DOWN. @defaultValue 5 */
  retryAfterSeconds?: number;
  onStoreError?: (err: unknown) => void;
}

interface Row {
  row: Float32Array;
  truncated: boolean;
}

/** A row as stored: the float32 embedding, then one byte (1: the prompt was truncated). */
const packRow = (r: Row): Uint8Array => {
  const out = new Uint8Array(r.row.byteLength + 1);
  out.set(new Uint8Array(r.row.buffer, r.row.byteOffset, r.row.byteLength));
  out[r.row.byteLength] = r.truncated ? 1 : 0;
  return out;
};
const unpackRow = (b: Uint8Array, dim: number): Row | undefined => {
  if (b.byteLength !== dim * 4 + 1) return undefined; // not ours, or another dim: recompute
  const row = new Float32Array(dim);
  new Uint8Array(row.buffer).set(b.subarray(0, dim * 4));
  return { row, truncated: b[dim * 4] === 1 };
};

/** Splits texts into calls of at most `maxTexts` texts and `maxBytes` UTF-8 bytes. */
export function splitCalls(texts: readonly string[], maxTexts: number, maxBytes: number): string[][] {
  const calls: string[][] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const t of texts) {
    const n = new TextEncoder().encode(t).byteLength;
    if (cur.length && (cur.length >= maxTexts || bytes + n > maxBytes)) {
      calls.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(t);
    bytes += n;
  }
  if (cur.length) calls.push(cur);
  return calls;
}

const down = (message: string, retryAfterSeconds: number, cause?: unknown) =>
  new ClipEdgeError('TEXT_ENCODER_DOWN', message, { details: { retryAfterSeconds }, ...(cause !== undefined ? { cause } : {}) });

/** One call to the service under a deadline; faults become TEXT_ENCODER_DOWN, a mismatch MODEL_INVALID. */
async function callService(o: RemoteTextOptions, texts: string[]): Promise<Row[]> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const retry = o.retryAfterSeconds ?? 5;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(down(`the text encoder did not answer within ${timeoutMs} ms; labels already cached still work`, retry)), timeoutMs);
  });
  let reply: TextServiceReply;
  try {
    reply = await Promise.race([o.service.embedTexts(texts, { manifestSha256: o.manifestSha256, textSha256: o.textEncoder.sha256 }), deadline]);
  } catch (e) {
    if (isClipEdgeError(e)) throw e;
    console.warn(`[clip-edge] text encoder call failed: ${e instanceof Error ? e.message : String(e)}`);
    throw down('the text encoder failed; labels already cached still work', retry, e);
  } finally {
    clearTimeout(timer);
  }
  return checkReply(o, texts.length, reply);
}

function checkReply(o: RemoteTextOptions, n: number, reply: TextServiceReply): Row[] {
  const dim = o.info.embedDim;
  const mismatch = (what: string) =>
    new ClipEdgeError('MODEL_INVALID', `the text encoder serves ${what}; both sides must serve the same model folder (upload it again, or point CLIP_EDGE_MODEL and CLIP_EDGE_TEXT_VARIANT of both Workers at the same one)`);
  if (!reply.ok) throw mismatch(`manifest sha256 ${reply.manifestSha256.slice(0, 12)}… and refused this one's (${o.manifestSha256.slice(0, 12)}…): ${reply.message}`);
  if (reply.manifestSha256 !== o.manifestSha256) throw mismatch(`manifest sha256 ${reply.manifestSha256.slice(0, 12)}…, this one ${o.manifestSha256.slice(0, 12)}…`);
  if (reply.textEncoder.sha256 !== o.textEncoder.sha256) throw mismatch(`${reply.textEncoder.file} (sha256 ${reply.textEncoder.sha256.slice(0, 12)}…), this side expects ${o.textEncoder.file}`);
  if (reply.dim !== dim || !(reply.rows instanceof Float32Array) || reply.rows.length !== n * dim || reply.truncated.length !== n) {
    throw new ClipEdgeError('MODEL_INVALID', `the text encoder answered ${reply.truncated?.length} rows of ${reply.dim} dims for ${n} texts of ${dim}`);
  }
  return Array.from({ length: n }, (_, i) => ({ row: reply.rows.slice(i * dim, (i + 1) * dim), truncated: reply.truncated[i] === true }));
}

/** Counts of where rows came from (tests and logs): the isolate's memory, the row store, or the service. */
export interface RemoteTextStats {
  memory: number;
  store: number;
  service: number;
  calls: number;
}

/**
 * Rows for prompts, resolved in order: this isolate's memory (identical prompts in flight share one
 * promise) → the shared row store → one batch of calls to the service for the misses only, written
 * back to the store. Prompts asked for in the same turn of the event loop are batched together.
 */
function createRowLoader(o: RemoteTextOptions, stats: RemoteTextStats): (texts: readonly string[]) => Promise<Row>[] {
  const dim = o.info.embedDim;
  const maxOps = o.maxStoreOps ?? 256;
  const onStoreError = o.onStoreError ?? ((e: unknown) => console.warn(`[clip-edge] prompt row cache: ${String(e)}`));
  const lru = createPromiseLru<Row>(o.memoryBytes ?? 8 * 1024 * 1024, (r) => r.row.byteLength + 64);
  const keyOf = async (text: string) =>
    `text-rows/${o.info.id}/${o.textEncoder.sha256.slice(0, 16)}/${await sha256Hex(new TextEncoder().encode(text))}`;
  let pending: { text: string; resolve: (r: Row) => void; reject: (e: unknown) => void }[] = [];

  const fromStore = async (batch: typeof pending): Promise<typeof pending> => {
    if (!o.rows) return batch;
    const keys = await Promise.all(batch.map((p, i) => (i < maxOps ? keyOf(p.text) : undefined)));
    const found = await Promise.all(keys.map((k) => (k ? o.rows!.get(k).catch((e: unknown) => void onStoreError(e)) : undefined)));
    return batch.filter((p, i) => {
      const row = found[i] && unpackRow(found[i], dim);
      if (!row) return true;
      stats.store++;
      p.resolve(row);
      return false;
    });
  };

  const flush = async () => {
    const batch = pending;
    pending = [];
    try {
      const misses = await fromStore(batch);
      const calls = splitCalls(misses.map((m) => m.text), o.maxTextsPerCall ?? 64, o.maxBytesPerCall ?? 1024 * 1024);
      stats.calls += calls.length;
      const rows = (await Promise.all(calls.map((c) => callService(o, c)))).flat();
      // Written back before answering: a Worker's unawaited writes may be cancelled with its response.
      if (o.rows && misses.length) {
        const writes = misses.slice(0, maxOps).map(async (m, i) => o.rows!.put(await keyOf(m.text), packRow(rows[i]!)));
        for (const r of await Promise.allSettled(writes)) if (r.status === 'rejected') onStoreError(r.reason);
      }
      stats.service += misses.length;
      misses.forEach((m, i) => m.resolve(rows[i]!));
    } catch (e) {
      for (const p of batch) p.reject(e); // a settled promise ignores the second call
    }
  };

  return (texts) =>
    texts.map((text) => {
      const { value, hit } = lru.get(text, () => {
        if (!pending.length) queueMicrotask(() => void flush());
        return new Promise<Row>((resolve, reject) => pending.push({ text, resolve, reject }));
      });
      if (hit) stats.memory++;
      return value;
    });
}

/** A TextEmbedder whose text tower runs elsewhere (see createRowLoader for the order rows are found in). */
export function createRemoteTextEmbedder(o: RemoteTextOptions): TextEmbedder & { readonly stats: RemoteTextStats } {
  const stats: RemoteTextStats = { memory: 0, store: 0, service: 0, calls: 0 };
  const load = createRowLoader(o, stats);
  const dim = o.info.embedDim;
  let loaded = false;

  const encode = async (texts: readonly string[], signal?: AbortSignal): Promise<EncodedTexts> => {
    const t0 = performance.now();
    const all = Promise.all(load(texts));
    // An aborted request stops waiting; the shared rows still arrive for whoever asks next.
    const rows = await (signal ? Promise.race([all, aborted(signal)]) : all);
    loaded = true;
    return { out: rows.map((r) => r.row.slice()), truncated: rows.map((r) => r.truncated), tokenizeMs: 0, inferenceMs: performance.now() - t0 };
  };

  return {
    stats,
    precision: o.textEncoder.precision,
    remote: true,
    sha256: async () => o.textEncoder.sha256,
    load: async () => {},
    get loaded() {
      return loaded;
    },
    encode,
    async embedLabelSet(set, _batch, onProgress) {
      const { texts, groups } = expandPrompts(set);
      const { out } = await encode(texts);
      const flat = new Float32Array(texts.length * dim);
      out.forEach((e, i) => flat.set(e, i * dim));
      onProgress?.(texts.length, texts.length);
      return ensemble(flat, dim, groups);
    },
    meta: async () => ({ ...o.textEncoder }),
  };
}

const aborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
