import { ClipEdgeError } from './errors.ts';
import type { LabelSet } from './label-sets.ts';
import type { ClipLimits } from './limits.ts';
import type { ModelInfo } from './model/info.ts';
import { sha256Hex } from './model/integrity.ts';
import { decodePromptCache, encodePromptCache } from './prompt-cache/format.ts';
import type { PromptCacheStore } from './prompt-cache/store.ts';
import { createPromiseLru } from './promise-lru.ts';
import type { TextEmbedder } from './text-embedder.ts';
import type { ClassSource } from './types.ts';

export interface ClassMatricesOptions {
  info: ModelInfo;
  text?: TextEmbedder;
  limits: Readonly<ClipLimits>;
  /** Prompts embedded per text-tower run. */
  batch: number;
  promptCache?: PromptCacheStore;
  onCacheWriteError?: (err: unknown) => void;
  /** @defaultValue 32 MiB (ImageNet at D=512 is 2 MB) */
  cacheBytes?: number;
}

export type ClassMatrices = (set: LabelSet) => Promise<{ matrix: Float32Array; source: ClassSource }>;

const describe = (set: LabelSet, inline: string, named: string) => (set.name === 'inline' ? inline : named.replace('%s', set.name));

/**
 * A label set's [K, D] class matrix: from the memory LRU, else the shared prompt cache (validated,
 * never used stale), else embedded by the text tower and written back to the prompt cache.
 */
export function createClassMatrices(o: ClassMatricesOptions): ClassMatrices {
  const { info, text, limits, promptCache: store } = o;
  const dim = info.embedDim;
  const lru = createPromiseLru<Float32Array>(o.cacheBytes ?? 32 * 1024 * 1024, (m) => m.byteLength);
  const onWriteError = o.onCacheWriteError ?? ((e: unknown) => console.warn(`[clip-edge] prompt cache write failed: ${String(e)}`));

  /** sha256 of every text encoder of this model that may have built a cache. */
  const knownTextShas = async (): Promise<string[]> => {
    // A cache built by a variant this copy of the folder lacks (the fp32 text tower) is still this model's.
    const shas = [...Object.values(info.variants), ...Object.values(info.missing)].map((t) => t?.text?.sha256).filter((x): x is string => !!x);
    if (text) shas.push(await text.sha256());
    return shas;
  };

  /** Every tier's entry, first valid wins: a stale per-user copy must not hide a valid shipped one. */
  const fromStore = async (key: string, set: LabelSet): Promise<{ matrix?: Float32Array; staleReason: string }> => {
    if (!store) return { staleReason: '' };
    let staleReason = '';
    const entries = await (store.getAll ? store.getAll(key) : store.get(key).then((e) => (e ? [e] : []))).catch(() => {
      staleReason = 'the cached entry could not be read'; // the store's own error may name server paths
      return [];
    });
    for (const entry of entries) {
      try {
        return { matrix: await decodePromptCache(entry, { labelSet: set, dim, textEncoderSha256: await knownTextShas() }), staleReason };
      } catch (e) {
        staleReason = e instanceof Error ? e.message : String(e);
      }
    }
    return { staleReason };
  };

  const embed = async (key: string, set: LabelSet, staleReason: string): Promise<Float32Array> => {
    if (!text) {
      throw new ClipEdgeError(
        'TEXT_ENCODER_UNAVAILABLE',
        `${describe(set, 'these labels have', 'label set "%s" has')} no valid precomputed prompt cache${staleReason ? ` (${staleReason})` : ''} ` +
          `and this deployment has no text encoder; build it with: clip-edge prompts build --model <model-dir> --labels ${set.name === 'inline' ? '<labels.json>' : set.name}`,
      );
    }
    const prompts = set.synonyms.reduce((n, names) => n + names.length, 0) * set.templates.length;
    if (prompts > limits.maxPrompts) {
      throw new ClipEdgeError(
        'TOO_MANY_LABELS',
        `${describe(set, 'these labels and templates need', 'label set "%s" needs')} ${prompts} prompts embedded; ` +
          `the limit per request is ${limits.maxPrompts} (precompute it with: clip-edge prompts build)`,
      );
    }
    const matrix = await text.embedLabelSet(set, o.batch);
    if (store) {
      // Write back so the next request anywhere is free; a failed write costs only this benefit.
      const entry = await encodePromptCache(matrix, { labelSet: set, model: info.id, textEncoder: await text.meta(), dim, dtype: 'float32' });
      await store.put(key, entry).catch(onWriteError);
    }
    return matrix;
  };

  return (set) => {
    const memKey = JSON.stringify([set.synonyms, set.templates]);
    let source: ClassSource = 'memory';
    const { value } = lru.get(memKey, async () => {
      const storeKey = set.name === 'inline' ? `inline-${(await sha256Hex(new TextEncoder().encode(memKey))).slice(0, 40)}` : set.name;
      const cached = await fromStore(storeKey, set);
      source = cached.matrix ? 'prompt-cache' : 'text-encoder';
      return cached.matrix ?? embed(storeKey, set, cached.staleReason);
    });
    return value.then((matrix) => ({ matrix, source }));
  };
}
