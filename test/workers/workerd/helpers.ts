import { env } from 'cloudflare:test';
import type { TextService } from '../../../src/core/remote-text.ts';
import { readModelInfo } from '../../../src/core/model/info.ts';
import { memorySource } from '../../../src/core/model/source.ts';
import { packPromptCache } from '../../../src/core/prompt-cache/format.ts';
import type { FetcherLike, KVNamespaceLike, R2BucketLike, RateLimitBindingLike, WorkersEnv } from '../../../src/runtime/workers/bindings.ts';
import { type DeployConfig, uploadPlan } from '../../../scripts/workers-plan.ts';
import { MODEL_DIR, MODEL_ID } from '../fixtures.ts';

/** Bindings of wrangler.toml plus the Node-side FIXTURES service (test/workers/vitest.config.ts). */
export interface TestEnv extends WorkersEnv {
  /** Miniflare's Rate Limiting binding: 2 requests per 60 s per key (test/workers/vitest.config.ts). */
  TEST_RATE_LIMITER: RateLimitBindingLike;
  MODELS: R2BucketLike;
  PROMPTS: KVNamespaceLike;
  FIXTURES: FetcherLike;
  /** The text Worker of wrangler.text.toml, as wrangler.toml binds it. */
  TEXT: TextService;
  /** The same text Worker pointed at a model folder R2 lacks: every call throws (test/workers/vitest.config.ts). */
  TEXT_BROKEN: TextService;
}

/** A repository file, read through the FIXTURES binding (workerd cannot see the file system). */
export async function repoFile(path: string): Promise<Uint8Array> {
  const r = await env.FIXTURES.fetch(`http://fixtures/file/${path}`);
  if (!r.ok) throw new Error(`fixture ${path}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export async function repoList(dir: string): Promise<string[]> {
  const r = await env.FIXTURES.fetch(`http://fixtures/list/${dir}`);
  if (!r.ok) throw new Error(`fixture list ${dir}: HTTP ${r.status}`);
  return (await r.json()) as string[];
}

let populated: Promise<void> | undefined;

/**
 * Fills R2 and KV from the bundled model exactly as `npm run workers:upload` would (same plan),
 * once per test file's isolate. The model's variants are read from its manifest, never hard-coded.
 */
export function populate(cfg: Partial<DeployConfig> = {}): Promise<void> {
  return (populated ??= (async () => {
    const files = await repoList(MODEL_DIR);
    const small: Record<string, Uint8Array> = {};
    for (const f of files.filter((f) => !/\.(onnx|ort)$/.test(f))) small[f] = await repoFile(`${MODEL_DIR}/${f}`);
    // The model files are listed but not read here: the source says they exist (readModelInfo checks that).
    const listed = new Set(files);
    const info = await readModelInfo({ ...memorySource(MODEL_ID, small), exists: async (p: string) => listed.has(p) });
    const plan = uploadPlan(files, info.variants, { model: MODEL_ID, variant: 'auto', text: true, textWorker: 'auto', ...cfg });
    for (const { key, path } of plan.r2) await env.MODELS.put(key, small[path] ?? (await repoFile(`${MODEL_DIR}/${path}`)));
    for (const { key, json, bin } of plan.kv) {
      const header = JSON.parse(new TextDecoder().decode(small[json]!)) as Parameters<typeof packPromptCache>[0]['header'];
      await env.PROMPTS.put(key, packPromptCache({ header, data: small[bin]! }));
    }
  })());
}

/**
 * The test bindings with some vars replaced (e.g. CLIP_EDGE_TEXT, API_KEY); without the TEXT service
 * binding (the text Worker) unless `bindings` passes it, so each test says which deployment it runs.
 */
type Vars = { [K in keyof WorkersEnv as NonNullable<WorkersEnv[K]> extends string ? K : never]?: string };
export type AppEnv = Omit<TestEnv, 'TEXT'> & { TEXT?: TextService };
export const envWith = (vars: Vars, bindings: Partial<WorkersEnv> = {}): AppEnv => ({ ...env, TEXT: undefined, ...vars, ...bindings });
