import { ClipEdgeError } from './errors.ts';
import { type LabelSet, expandPrompts } from './label-sets.ts';
import type { ClipLimits } from './limits.ts';
import type { ModelInfo } from './model/info.ts';
import type { ModelSource } from './model/source.ts';
import type { Precision } from './precision.ts';
import type { PromptCacheHeader } from './prompt-cache/format.ts';
import { createClipTokenizer } from './tokenizer.ts';
import type { TextItem, TowerRunner } from './tower.ts';
import { ensemble } from './zeroshot.ts';

export interface EncodedTexts {
  /** Raw (not yet normalised) embeddings, one per text. */
  out: Float32Array[];
  truncated: readonly boolean[];
  tokenizeMs: number;
  inferenceMs: number;
}

/** Text → tokenizer → text tower; and label sets → ensembled class matrices (CLIP's prompt ensembling). */
export interface TextEmbedder {
  /** The local text tower; absent when it runs elsewhere (remote-text.ts). */
  readonly runner?: TowerRunner<TextItem>;
  readonly precision: Precision;
  /** True when the text tower runs in another Worker (a service binding). */
  readonly remote?: boolean;
  /** Whether the tower has run (or its session was created). */
  readonly loaded: boolean;
  /** Prepares the tower (creates the local session; nothing for a remote one). */
  load(): Promise<unknown>;
  /** sha256 of the text encoder file (recorded in prompt caches). */
  sha256(): Promise<string>;
  encode(texts: readonly string[], signal?: AbortSignal): Promise<EncodedTexts>;
  /** The [K, D] normalised class matrix of a label set, embedded `batch` prompts at a time. */
  embedLabelSet(set: LabelSet, batch: number, onProgress?: (done: number, total: number) => void): Promise<Float32Array>;
  /** What a prompt cache built by this encoder records about it. */
  meta(): Promise<PromptCacheHeader['textEncoder']>;
}

async function readJsonFile(source: ModelSource, path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  const bytes = await source.read(path);
  if (!bytes) {
    if (required) throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} is missing (needed by the text tower)`);
    return undefined;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (cause) {
    throw new ClipEdgeError('MODEL_INVALID', `${source.name}/${path} is not valid JSON`, { cause });
  }
}

/** Loads the folder's tokenizer and wraps the text tower; the session itself starts lazily. */
export async function createTextEmbedder(source: ModelSource, info: ModelInfo, runner: TowerRunner<TextItem>): Promise<TextEmbedder> {
  const [tokJson, tokCfg] = await Promise.all([readJsonFile(source, 'tokenizer.json', true), readJsonFile(source, 'tokenizer_config.json', false)]);
  const tokenizer = createClipTokenizer(tokJson, tokCfg ?? {}, { contextLength: info.contextLength });
  const dim = info.embedDim;

  const encode = async (texts: readonly string[], signal?: AbortSignal): Promise<EncodedTexts> => {
    const t0 = performance.now();
    const batch = tokenizer.encodeBatch(texts);
    const ctx = batch.contextLength;
    const items: TextItem[] = texts.map((_, i) => ({
      ids: batch.inputIds.subarray(i * ctx, (i + 1) * ctx),
      mask: batch.attentionMask.subarray(i * ctx, (i + 1) * ctx),
    }));
    const tokenizeMs = performance.now() - t0;
    const t1 = performance.now();
    const out = await runner.run(items, signal);
    return { out, truncated: batch.truncated, tokenizeMs, inferenceMs: performance.now() - t1 };
  };

  const embedLabelSet: TextEmbedder['embedLabelSet'] = async (set, batch, onProgress) => {
    const { texts, groups } = expandPrompts(set);
    const flat = new Float32Array(texts.length * dim);
    for (let i = 0; i < texts.length; i += batch) {
      const { out } = await encode(texts.slice(i, i + batch));
      out.forEach((e, j) => flat.set(e, (i + j) * dim));
      onProgress?.(Math.min(i + batch, texts.length), texts.length);
    }
    return ensemble(flat, dim, groups);
  };

  const meta = async () => ({ file: runner.file, precision: runner.precision, sha256: await runner.sha256() });
  return {
    runner,
    precision: runner.precision,
    get loaded() {
      return runner.loaded;
    },
    load: () => runner.load(),
    sha256: () => runner.sha256(),
    encode,
    embedLabelSet,
    meta,
  };
}

/** The error every text-needing call gives on a vision-only deployment. */
export function requireText(text: TextEmbedder | undefined, why: string): TextEmbedder {
  if (text) return text;
  throw new ClipEdgeError(
    'TEXT_ENCODER_UNAVAILABLE',
    `${why} needs the text encoder, which this deployment does not load; use a precomputed labelSet, or enable the text tower`,
  );
}

/** Checks an /embed/text request against the limits. */
export function checkTexts(texts: readonly string[], limits: Readonly<ClipLimits>): void {
  if (!Array.isArray(texts) || texts.length === 0) throw new ClipEdgeError('BAD_INPUT', 'texts must be a non-empty array of strings');
  if (texts.length > limits.maxTexts) throw new ClipEdgeError('BAD_INPUT', `${texts.length} texts given; the limit is ${limits.maxTexts}`);
  texts.forEach((s, i) => {
    if (typeof s !== 'string') throw new ClipEdgeError('BAD_INPUT', `texts[${i}] must be a string`);
    if (s.length > limits.maxTextLength) {
      throw new ClipEdgeError('BAD_INPUT', `texts[${i}] has ${s.length} characters; the limit is ${limits.maxTextLength}`);
    }
  });
}
