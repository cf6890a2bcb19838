// A STAND-IN for Cloudflare Vectorize, for tests only: Vectorize has no local emulation (miniflare
// and `wrangler dev` reach the real index remotely). It implements the binding's documented
// interface (developers.cloudflare.com/vectorize/reference/client-api/) and enforces the documented
// limits (…/platform/limits/, …/reference/metadata-filtering/), so a driver that passes against it
// respects them: ≤ 1000 vectors per upsert from a Worker; topK ≤ 100 with neither values nor
// metadata, ≤ 20 with either; ids ≤ 64 bytes; metadata ≤ 10 KiB with no keys that are empty, contain
// "." or '"', or start with "$"; filters only on fields with a metadata index (≤ 10, created before
// vectors are inserted); cosine scores. Unlike the service, mutations apply at once (no lag).
const utf8 = new TextEncoder();

type Value = string | number | boolean;
interface Stored {
  id: string;
  values: Float32Array;
  metadata?: Record<string, Value>;
}

export class VectorizeStandIn {
  readonly #vectors = new Map<string, Stored>();
  readonly #metadataIndexes = new Map<string, 'string' | 'number' | 'boolean'>();
  #mutations = 0;
  /** Every call made, for tests that count upserts (idempotency). */
  readonly calls: { method: string; count: number }[] = [];

  constructor(
    readonly dimensions: number,
    readonly metric: 'cosine' = 'cosine',
  ) {}

  /** `wrangler vectorize create-metadata-index` (before vectors are inserted, as documented). */
  createMetadataIndex(propertyName: string, type: 'string' | 'number' | 'boolean'): void {
    if (this.#metadataIndexes.size >= 10) throw new Error('VECTORIZE_STAND_IN: at most 10 metadata indexes per index');
    this.#metadataIndexes.set(propertyName, type);
  }

  async upsert(vectors: { id: string; values: ArrayLike<number>; metadata?: Record<string, Value> }[]): Promise<{ mutationId: string }> {
    if (vectors.length > 1000) throw new Error(`VECTORIZE_STAND_IN: upsert of ${vectors.length} vectors; at most 1000 per call from a Worker`);
    for (const v of vectors) {
      if (utf8.encode(v.id).byteLength > 64) throw new Error(`VECTORIZE_STAND_IN: id longer than 64 bytes`);
      if (v.values.length !== this.dimensions) throw new Error(`VECTORIZE_STAND_IN: vector of ${v.values.length} dimensions in a ${this.dimensions}-dimensional index`);
      if (v.metadata) {
        if (utf8.encode(JSON.stringify(v.metadata)).byteLength > 10 * 1024) throw new Error('VECTORIZE_STAND_IN: metadata over 10 KiB');
        for (const k of Object.keys(v.metadata)) if (!k || k.includes('.') || k.includes('"') || k.startsWith('$')) throw new Error(`VECTORIZE_STAND_IN: bad metadata key "${k}"`);
      }
    }
    for (const v of vectors) this.#vectors.set(v.id, { id: v.id, values: Float32Array.from(v.values), ...(v.metadata ? { metadata: { ...v.metadata } } : {}) });
    this.calls.push({ method: 'upsert', count: vectors.length });
    return { mutationId: String(++this.#mutations) };
  }

  async query(
    vector: ArrayLike<number>,
    options: { topK?: number; returnValues?: boolean; returnMetadata?: boolean | 'none' | 'indexed' | 'all'; filter?: Record<string, unknown> } = {},
  ): Promise<{ matches: { id: string; score: number; values?: number[]; metadata?: Record<string, Value> }[]; count: number }> {
    const topK = options.topK ?? 5;
    const withMeta = options.returnMetadata === true || options.returnMetadata === 'all' || options.returnMetadata === 'indexed';
    const max = options.returnValues || withMeta ? 20 : 100;
    if (!Number.isInteger(topK) || topK < 1 || topK > max) throw new Error(`VECTORIZE_STAND_IN: topK ${topK} over the limit of ${max}${max === 20 ? ' with values or metadata' : ''}`);
    if (vector.length !== this.dimensions) throw new Error('VECTORIZE_STAND_IN: query vector of the wrong size');
    const filter = options.filter ?? {};
    if (new TextEncoder().encode(JSON.stringify(filter)).byteLength >= 2048) throw new Error('VECTORIZE_STAND_IN: a filter\'s compact JSON must be less than 2048 bytes');
    for (const f of Object.keys(filter)) if (!this.#metadataIndexes.has(f)) throw new Error(`VECTORIZE_STAND_IN: no metadata index on "${f}"`);
    const scored = [...this.#vectors.values()].filter((v) => matches(v.metadata ?? {}, filter)).map((v) => ({ v, score: cosine(vector, v.values) }));
    scored.sort((a, b) => b.score - a.score);
    const top = scored.slice(0, topK).map(({ v, score }) => ({
      id: v.id,
      score,
      ...(options.returnValues ? { values: Array.from(v.values) } : {}),
      ...(withMeta && v.metadata ? { metadata: { ...v.metadata } } : {}),
    }));
    return { matches: top, count: top.length };
  }

  async getByIds(ids: string[]): Promise<{ id: string; values: number[]; metadata?: Record<string, Value> }[]> {
    return ids.flatMap((id) => {
      const v = this.#vectors.get(id);
      return v ? [{ id, values: Array.from(v.values), ...(v.metadata ? { metadata: { ...v.metadata } } : {}) }] : [];
    });
  }

  async deleteByIds(ids: string[]): Promise<{ mutationId: string }> {
    for (const id of ids) this.#vectors.delete(id);
    this.calls.push({ method: 'deleteByIds', count: ids.length });
    return { mutationId: String(++this.#mutations) };
  }

  async describe(): Promise<{ dimensions: number; vectorCount: number; processedUpToMutation: number; processedUpToDatetime: number }> {
    return { dimensions: this.dimensions, vectorCount: this.#vectors.size, processedUpToMutation: this.#mutations, processedUpToDatetime: Date.now() };
  }
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}

/** Vectorize's filter semantics: implicit $eq, the documented operators, fields ANDed; $ne/$nin match a missing field. */
function matches(m: Record<string, Value>, filter: Record<string, unknown>): boolean {
  return Object.entries(filter).every(([k, cond]) => {
    const v = Object.hasOwn(m, k) ? m[k] : undefined;
    if (cond === null || typeof cond !== 'object') return v === cond;
    return Object.entries(cond as Record<string, unknown>).every(([op, w]) => {
      switch (op) {
        case '$eq': return v === w;
        case '$ne': return v !== w;
        case '$in': return v !== undefined && (w as Value[]).includes(v);
        case '$nin': return v === undefined || !(w as Value[]).includes(v);
        case '$lt': return v !== undefined && typeof v === typeof w && v < (w as Value);
        case '$lte': return v !== undefined && typeof v === typeof w && v <= (w as Value);
        case '$gt': return v !== undefined && typeof v === typeof w && v > (w as Value);
        case '$gte': return v !== undefined && typeof v === typeof w && v >= (w as Value);
        default: throw new Error(`VECTORIZE_STAND_IN: unsupported filter operator ${op}`);
      }
    });
  });
}
