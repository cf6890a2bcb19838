import type { Hono } from 'hono';
import { type WorkersConfig, modelSourceOf, workersConfig } from './config.ts';
import { createClipApp } from '../../http/app.ts';
import { type ClipEdge, type ClipEdgeOptions, createClipEdge } from '../../core/clip.ts';
import { ClipEdgeError } from '../../core/errors.ts';
import { chainLabelSets, type LabelSetProvider } from '../../core/label-sets.ts';
import type { ModelSource } from '../../core/model/source.ts';
import type { PromptCacheStore } from '../../core/prompt-cache/store.ts';
import type { WorkersEnv } from './bindings.ts';
import { PAGE_HEADERS } from '../../http/page-headers.ts';
import { workersImageCodecs } from './codecs.ts';
import { builtinLabelSets, sourceLabelSets } from './label-sets.ts';
import { decodeBudgetFromModel } from './limits.ts';
import { overloadOptionsOf } from '../../http/overload.ts';
import { cloudflareRateLimiter } from './rate-limit.ts';
import { ortWasmMemoryBytes, workersWasmBackend } from './ort.ts';
import { workersRemoteText } from './remote-text.ts';
import { fallthroughPromptCacheStore, kvPromptCacheStore, r2PromptCacheStore } from './prompt-cache.ts';
import { createVectorizeIndex } from '../../search/drivers/cloudflare-vectorize-binding.ts';
import type { VectorIndex } from '../../search/types.ts';

export { DEFAULT_WORKERS_MODEL, type WorkersConfig, modelSourceOf, workersConfig } from './config.ts';

/** The Vectorize index for the loaded model's embeddings (search and the index queue share it). */
export const vectorizeIndexOf = (env: WorkersEnv) => (clip: ClipEdge): Promise<VectorIndex> =>
  createVectorizeIndex({ binding: 'VECTORIZE', env: env as unknown as Record<string, unknown>, model: clip.info.id, dim: clip.info.embedDim });

export interface WorkersClipEdgeOptions extends Partial<Omit<ClipEdgeOptions, 'source'>> {
  /** Replace the model source chosen from the bindings. */
  source?: ModelSource;
}

/** KV in front (written back to), then the prompt caches uploaded inside the model folder in R2. */
function promptCacheOf(env: WorkersEnv, cfg: WorkersConfig): PromptCacheStore | undefined {
  const stores: PromptCacheStore[] = [];
  if (env.PROMPTS) stores.push(kvPromptCacheStore(env.PROMPTS, cfg.model));
  if (env.MODELS && cfg.modelSource === 'r2') stores.push(r2PromptCacheStore(env.MODELS, `${cfg.model}/prompts`));
  const [first, ...rest] = stores;
  return first && fallthroughPromptCacheStore(first, ...rest);
}

function labelSetsOf(env: WorkersEnv, cfg: WorkersConfig, source: ModelSource): LabelSetProvider {
  const bucket = cfg.modelSource === 'r2' ? env.MODELS : undefined;
  const prefix = `${cfg.model}/label-sets/`;
  const list = async () => {
    if (!bucket) return [];
    const r = await bucket.list({ prefix });
    return r.objects.map((o) => o.key.slice(prefix.length)).filter((k) => k.endsWith('.json')).map((k) => k.slice(0, -5));
  };
  return chainLabelSets(sourceLabelSets(source, list), builtinLabelSets());
}

/**
 * clip-edge on Workers: the model folder from R2 (or static assets), ORT's precompiled wasm,
 * prompt caches from KV (then R2), vision tower only unless `CLIP_EDGE_TEXT=true`; with a TEXT
 * service binding, the text Worker embeds what no cache holds.
 */
export async function createWorkersClipEdge(env: WorkersEnv, options: WorkersClipEdgeOptions = {}): Promise<ClipEdge> {
  const cfg = workersConfig(env);
  const source = options.source ?? modelSourceOf(env, cfg);
  const promptCache = promptCacheOf(env, cfg);
  return createClipEdge({
    backends: [workersWasmBackend()],
    imageCodecs: workersImageCodecs(),
    labelSets: labelSetsOf(env, cfg, source),
    visionVariant: cfg.visionVariant,
    textVariant: cfg.textVariant,
    text: cfg.text,
    limits: cfg.limits,
    imageDecode: {
      budgetBytes: cfg.decodeBudgetBytes === 'auto' ? () => decodeBudgetFromModel({ ortWasmBytes: ortWasmMemoryBytes() ?? 0, bodyMemoryBytes: cfg.bodyMemoryBytes }) : cfg.decodeBudgetBytes,
      jpegScaling: cfg.jpegScaling,
      // Decodes wait for each other's budget across requests; a timer set after such a wait would
      // belong to the request that granted it (see ImageDecoderOptions.yieldBetweenRows).
      yieldBetweenRows: false,
    },
    // One image per inference run: a batch of 4 grew ViT-B/32's heap by 20 MiB, and one thread gains little from batching.
    maxBatch: 1,
    // Models come from a bucket: every ONNX file must match the manifest's sha256.
    requireIntegrity: true,
    inPlace: cfg.inPlace,
    ...(promptCache ? { promptCache } : {}),
    // The text Worker over its service binding, unless this Worker loads the text tower itself.
    ...(env.TEXT && !cfg.text ? { textEmbedder: workersRemoteText(env, source, cfg.textVariant) } : {}),
    ...options,
    source,
  });
}

function ratePeriod(env: WorkersEnv): number {
  const v = env.CLIP_EDGE_RATE_LIMIT_PERIOD;
  if (v === undefined || v === '') return 60;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ClipEdgeError('BAD_INPUT', `CLIP_EDGE_RATE_LIMIT_PERIOD must be an integer ≥ 1 (seconds), got "${v}"`);
  return n;
}

/**
 * The same Hono app as on every runtime. The kit is created on the first request that needs it
 * and kept for the isolate's life (a failed load is retried by the next request).
 */
export function createWorkersApp(env: WorkersEnv, options: WorkersClipEdgeOptions = {}): Hono {
  const cfg = workersConfig(env);
  const period = ratePeriod(env);
  const app = createClipApp({
    clip: () => createWorkersClipEdge(env, options),
    ...(env.VECTORIZE ? { index: vectorizeIndexOf(env) } : {}),
    ...(cfg.apiKey ? { apiKey: cfg.apiKey } : {}),
    ...(cfg.corsOrigins ? { corsOrigins: cfg.corsOrigins } : {}),
    ...(cfg.maxBodyBytes ? { maxBodyBytes: cfg.maxBodyBytes } : {}),
    bodyMemoryBytes: cfg.bodyMemoryBytes,
    // Limits here are per isolate; the Rate Limiting binding, when bound, counts network-wide.
    overload: overloadOptionsOf(cfg, {
      clientKey: (c) => c.req.header('cf-connecting-ip'),
      ...(env.RATE_LIMITER ? { rateLimiter: cloudflareRateLimiter(env.RATE_LIMITER, period) } : {}),
    }),
    requestLog: cfg.requestLog ?? true, // one console.log line per request: Workers Logs / wrangler tail
  });
  // The browser page (`npm run build:web -- --out src/runtime/workers/public`): any other GET is a
  // static asset, sent cross-origin isolated; what the assets lack stays the API's JSON 404.
  const assets = env.ASSETS;
  if (assets) {
    app.get('*', async (c) => {
      if (c.req.path.startsWith('/v1/')) return c.notFound();
      const res = await assets.fetch(c.req.raw);
      if (res.status === 404) return c.notFound();
      const out = new Response(res.body, res);
      for (const [k, v] of Object.entries(PAGE_HEADERS)) out.headers.set(k, v);
      return out;
    });
  }
  return app;
}
