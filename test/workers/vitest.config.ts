import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Folders the workerd tests may read through the FIXTURES binding (workerd does not see the file system). */
const READABLE = ['models/tiny-clip', 'test/fixtures/tiny-clip-eval', 'test/workers/fixtures', '.cache/workerd-tests/tiny-clip-split', 'test/fixtures/images/CLIP.png', 'test/fixtures/pil/refs/CLIP_png.clip224.png'];

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else out.push(path.relative(base, p).split(path.sep).join('/'));
  }
  return out.sort();
}

/** A Node-side service binding: GET /file/<path> → the file; GET /list/<dir> → JSON list of the files under it. */
async function fixtures(request: Request): Promise<Response> {
  const [, kind, ...rest] = decodeURIComponent(new URL(request.url).pathname).split('/');
  const rel = path.posix.normalize(rest.join('/'));
  if (!READABLE.some((r) => rel === r || rel.startsWith(`${r}/`))) return new Response('not readable', { status: 403 });
  const abs = path.join(ROOT, rel);
  try {
    if (kind === 'list') return Response.json(await listFiles(abs));
    if (kind === 'file') return new Response(await readFile(abs));
  } catch {
    return new Response('not found', { status: 404 });
  }
  return new Response('bad request', { status: 400 });
}

/**
 * The text Worker (wrangler.text.toml), bundled as `wrangler deploy --dry-run` builds it (~5 s):
 * vitest-pool-workers runs auxiliary Workers from built modules only. It is the `clip-edge-text`
 * service that wrangler.toml's TEXT binding names, with its own isolate and the same local R2.
 */
function textWorker(name = 'clip-edge-text', vars: Record<string, string> = {}) {
  const outdir = path.join(ROOT, '.cache/workerd-tests/text-worker');
  const dry = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '-c', 'wrangler.text.toml', '--outdir', outdir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (dry.status !== 0) throw new Error(`wrangler deploy --dry-run -c wrangler.text.toml failed:\n${dry.stderr}`);
  return {
    name,
    modulesRoot: outdir,
    modules: [
      { type: 'ESModule' as const, path: path.join(outdir, 'text-worker.js') },
      ...readdirSync(outdir).filter((f) => f.endsWith('.wasm')).map((f) => ({ type: 'CompiledWasm' as const, path: path.join(outdir, f) })),
    ],
    compatibilityDate: '2026-04-01',
    bindings: { CLIP_EDGE_MODEL: 'tiny-clip', CLIP_EDGE_MODEL_SOURCE: 'r2', CLIP_EDGE_TEXT_VARIANT: 'auto', CLIP_EDGE_IN_PLACE: 'true', ...vars },
    r2Buckets: { MODELS: 'clip-edge-models' },
  };
}

let partBundle: string | undefined;
/**
 * A part Worker (wrangler.vision-part.toml, bundled once like the text Worker) running part `part` of
 * the bundled model's int8 vision tower split in two (`.cache/workerd-tests/tiny-clip-split`, cut by
 * test/workers/global-setup.ts), bound to `next` as NEXT_PART when given.
 */
function visionPartWorker(name: string, part: number, next?: string, vars: Record<string, string> = {}) {
  const outdir = path.join(ROOT, '.cache/workerd-tests/vision-part');
  if (!partBundle) {
    const dry = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '-c', 'wrangler.vision-part.toml', '--outdir', outdir], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    if (dry.status !== 0) throw new Error(`wrangler deploy --dry-run -c wrangler.vision-part.toml failed:\n${dry.stderr}`);
    partBundle = outdir;
  }
  return {
    name,
    modulesRoot: outdir,
    modules: [
      { type: 'ESModule' as const, path: path.join(outdir, 'vision-part-worker.js') },
      ...readdirSync(outdir).filter((f) => f.endsWith('.wasm')).map((f) => ({ type: 'CompiledWasm' as const, path: path.join(outdir, f) })),
    ],
    compatibilityDate: '2026-04-01',
    bindings: { CLIP_EDGE_MODEL: 'tiny-clip-split', CLIP_EDGE_MODEL_SOURCE: 'r2', CLIP_EDGE_VARIANT: 'auto', CLIP_EDGE_IN_PLACE: 'true', CLIP_EDGE_VISION_PART: String(part), CLIP_EDGE_VISION_TIMEOUT_MS: '2000', ...vars },
    r2Buckets: { MODELS: 'clip-edge-models' },
    ...(next ? { serviceBindings: { NEXT_PART: { name: next, entrypoint: 'VisionPart' } } } : {}),
  };
}

/**
 * A part 2 that takes a minute to answer (a part Worker stuck on its work: a timer keeps it pending,
 * so workerd does not end the call as a promise that can never resolve).
 */
const hungPartWorker = (name: string) => ({
  name,
  modules: true,
  script: `import { WorkerEntrypoint } from 'cloudflare:workers';
export class VisionPart extends WorkerEntrypoint {
  async runPart(request) {
    await new Promise((r) => setTimeout(r, 60000));
    return { ok: false, code: 'FAILED', part: request.part, message: 'answered a minute late' };
  }
  async warm() {
    return 1;
  }
}
export default { fetch: () => new Response('a hung part', { status: 404 }) };`,
  compatibilityDate: '2026-04-01',
});

/** The two workerd test files that need the fault and split Workers below; every other file runs without them. */
const CHAIN_FILES = ['test/workers/workerd/text-faults.test.ts', 'test/workers/workerd/vision-split.test.ts'];

/**
 * A workerd project: the Workers adapter inside workerd (wrangler.toml's bindings, R2/KV filled from
 * the bundled model). vitest-pool-workers starts one workerd per test file with every Worker listed
 * here, so the fault and split Workers (eight more isolates, each compiling ORT's wasm: about half of
 * a file's start-up) are given only to the files that use them.
 */
function workerdProject(name: string, files: { include: string[]; exclude?: string[] }, chains: boolean) {
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(ROOT, 'wrangler.toml') },
        miniflare: {
          // TEXT (wrangler.toml) needs the text Worker in every project.
          // TEXT_BROKEN: the same text Worker pointed at a folder R2 lacks, so every call throws (fault tests).
          // SPLIT_*: the vision tower in two part Workers (vision-split.test.ts): the working chain; part 1
          // with no NEXT_PART bound; part 1 bound to a part 2 whose model folder R2 lacks (it fails); part 1
          // bound to a part 2 that never answers in time (hung).
          serviceBindings: chains
            ? {
                FIXTURES: fixtures,
                TEXT_BROKEN: { name: 'clip-edge-text-broken', entrypoint: 'TextTower' },
                SPLIT_PARTS: { name: 'clip-edge-vision-part-1', entrypoint: 'VisionPart' },
                SPLIT_PART_2: { name: 'clip-edge-vision-part-2', entrypoint: 'VisionPart' },
                SPLIT_UNBOUND: { name: 'clip-edge-vision-part-1-unbound', entrypoint: 'VisionPart' },
                SPLIT_BROKEN: { name: 'clip-edge-vision-part-1-to-broken', entrypoint: 'VisionPart' },
                SPLIT_HUNG: { name: 'clip-edge-vision-part-1-to-hung', entrypoint: 'VisionPart' },
              }
            : { FIXTURES: fixtures },
          workers: chains
            ? [
                textWorker(),
                textWorker('clip-edge-text-broken', { CLIP_EDGE_MODEL: 'no-such-model' }),
                visionPartWorker('clip-edge-vision-part-1', 1, 'clip-edge-vision-part-2'),
                visionPartWorker('clip-edge-vision-part-2', 2),
                visionPartWorker('clip-edge-vision-part-1-unbound', 1),
                visionPartWorker('clip-edge-vision-part-1-to-broken', 1, 'clip-edge-vision-part-2-broken'),
                visionPartWorker('clip-edge-vision-part-2-broken', 2, undefined, { CLIP_EDGE_MODEL: 'no-such-model' }),
                // Its own part Worker timeout (CLIP_EDGE_VISION_TIMEOUT_MS) far longer than the requests' deadlines
                // in the test: the deadline the vision Worker sends is what must stop the wait.
                visionPartWorker('clip-edge-vision-part-1-to-hung', 1, 'clip-edge-vision-part-2-hung', { CLIP_EDGE_VISION_TIMEOUT_MS: '60000' }),
                hungPartWorker('clip-edge-vision-part-2-hung'),
              ]
            : [textWorker()],
          // Cloudflare's Rate Limiting binding, as Miniflare runs it; under another name than the
          // adapter looks up (RATE_LIMITER), so only the tests that pass it in are limited.
          ratelimits: { TEST_RATE_LIMITER: { namespace_id: '1001', simple: { limit: 2, period: 60 } } },
        },
      }),
    ],
    test: {
      name,
      root: ROOT,
      ...files,
      globalSetup: ['test/workers/global-setup.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
    },
  };
}

// `npm run test:workers`: the Workers adapter inside workerd, and the upload/size/memory scripts' logic in Node.
export default defineConfig({
  test: {
    root: ROOT,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      workerdProject('workerd', { include: ['test/workers/workerd/**/*.test.ts'], exclude: CHAIN_FILES }, false),
      workerdProject('workerd-chains', { include: CHAIN_FILES }, true),
      {
        test: {
          name: 'workers-scripts',
          root: ROOT,
          include: ['test/workers/node/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
