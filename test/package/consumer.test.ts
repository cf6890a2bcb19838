// The published package as a user gets it: `npm pack`, then a fresh project outside the repository
// installs the tarball (from the npm cache) and uses it from plain Node ESM, strict NodeNext
// TypeScript, Deno, Bun, a Worker of its own in workerd, an esbuild bundle in Chromium, and the
// `clip-edge` command. The examples in examples/ run here, against the installed package.
// CLIP_EDGE_PACKAGE_NODE_ONLY=1 (.ci/run, on the other Node versions) runs only what depends on the
// Node version: the type checks, Deno, Bun, workerd and the Chromium bundle are the same on every Node;
// CLIP_EDGE_PACKAGE_TARBALL names a tarball packed beforehand instead of packing here.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../helpers/chromium.ts';
import { startHubServer } from '../helpers/hub-server.ts';
import { BIN, consumerProject, copy, explain, lockedVersion, pack, packed as packedTarball, REPO_ROOT, run, runAsync, start, stop } from './helpers.ts';

const MAX_TARBALL = 15 * 1024 * 1024;
// The TypeScript versions a consumer's project is type-checked with: the oldest the declarations
// support (hono's, a peer, need 5.7's generic Uint8Array) and the newest (7: no implicit @types).
const TYPESCRIPT = { oldest: '5.7.3', newest: '7.0.2' } as const;
const LABELS = 'red circle,blue star,green heart';
const NODE_ONLY = process.env.CLIP_EDGE_PACKAGE_NODE_ONLY === '1';
const tmp = mkdtempSync(path.join(tmpdir(), 'clip-edge-consumer-'));
const app = path.join(tmp, 'app');
const installed = path.join(app, 'node_modules/clip-edge');
const env = { CLIP_EDGE_PROMPT_CACHE: path.join(tmp, 'prompt-cache'), CLIP_EDGE_CACHE: path.join(tmp, 'models-cache') };
let packed: ReturnType<typeof pack>;

beforeAll(() => {
  packed = process.env.CLIP_EDGE_PACKAGE_TARBALL ? packedTarball(process.env.CLIP_EDGE_PACKAGE_TARBALL) : pack(tmp);
  consumerProject(app, packed.tarball, [`@hono/node-server@${lockedVersion('@hono/node-server')}`, `@types/node@${lockedVersion('@types/node')}`, ...(NODE_ONLY ? [] : Object.entries(TYPESCRIPT).map(([k, v]) => `typescript-${k}@npm:typescript@${v}`))]);
  for (const f of ['quick-start.mjs', 'node-classify.mjs', 'hono-app.mjs']) copy(path.join(REPO_ROOT, 'examples', f), path.join(app, f));
  for (const f of ['check.ts', 'tsconfig.json', 'web.ts', 'tsconfig.web.json', 'deno.ts', 'deno-serve.ts', 'bun.ts']) copy(path.join(REPO_ROOT, 'test/package/consumer', f), path.join(app, f));
  copy(path.join(REPO_ROOT, 'test/fixtures/tiny-clip-eval/images/red_circle_01.jpg'), path.join(app, 'photo.jpg'));
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const top = (stdout: string) => (JSON.parse(stdout.trim().split('\n').pop()!) as { results?: { label: string }[]; top?: { label: string } });

describe('the packed tarball', () => {
  it(`is at most 15 MB and holds the build, not the sources, tests or other model variants; npm pack warns of nothing`, () => {
    expect(packed.size).toBeLessThanOrEqual(MAX_TARBALL);
    expect(packed.warnings).toEqual([]); // e.g. "Unknown project config" from an .npmrc key npm does not know
    // The size the README and docs state, and `npm pack`'s output ignored by git.
    const mb = packed.size / 1e6;
    for (const [file, stated] of [['README.md', /The package \(≈ ([\d.]+) MB packed\)/], ['docs/library.md', /packs ≈ ([\d.]+) MB/], ['docs/development.md', /\.tgz \(≈ ([\d.]+) MB/]] as const) {
      const m = stated.exec(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
      expect(m, `${file} states the package size`).not.toBeNull();
      expect(Math.abs(Number(m![1]) - mb), `${file}: ≈ ${m![1]} MB, packed ${mb.toFixed(2)} MB`).toBeLessThan(0.5);
    }
    expect(run('git', ['check-ignore', '-q', path.basename(packed.tarball)], REPO_ROOT).status, `${path.basename(packed.tarball)} is git-ignored`).toBe(0);
    expect(packed.files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/clip-edge.js', 'dist/src/runtime/node/index.js', 'dist/src/runtime/node/index.d.ts', 'models/tiny-clip/onnx/vision_model_int8.onnx', 'models/tiny-clip/prompts/tiny-clip-shapes.bin']));
    expect(packed.files.filter((f) => /^(src|test|bench|scripts|examples)\/|\.ts$(?<!\.d\.ts)|_(fp16|q4)\.onnx$|_model\.onnx$/.test(f))).toEqual([]);
    const deps = (JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    expect(Object.keys(deps)).not.toContain('tsx');
    expect(existsSync(path.join(app, 'node_modules/tsx'))).toBe(false);
  });
});

describe('a consumer project', () => {
  it('(a) imports clip-edge/node from plain Node with no loader flags (the Node running these tests)', () => {
    const r = run('node', ['-e', "import('clip-edge/node').then((m) => console.log(typeof m.loadClipEdge, process.version))"], app);
    expect(r.status, explain('node -e', r)).toBe(0);
    expect(r.stdout.trim()).toBe(`function ${process.version}`);
  });

  it("(a) runs the README's quick start (examples/quick-start.mjs) as written", () => {
    const r = run('node', ['quick-start.mjs'], app, env);
    expect(r.status, explain('quick-start.mjs', r)).toBe(0);
    expect(r.stdout).toMatch(/label: 'red circle'/);
  });

  it('(a) classifies a photo from plain Node ESM: the bundled model, a local folder, a hub id', async () => {
    const bundled = run('node', ['node-classify.mjs', 'photo.jpg', LABELS], app, env);
    expect(bundled.status, explain('node-classify.mjs', bundled)).toBe(0);
    expect(top(bundled.stdout).results![0]!.label).toBe('red circle');

    copy(path.join(installed, 'models/tiny-clip'), path.join(app, 'my-model'));
    const folder = run('node', ['node-classify.mjs', 'photo.jpg', LABELS, './my-model'], app, env);
    expect(folder.status, explain('node-classify.mjs ./my-model', folder)).toBe(0);
    expect(top(folder.stdout).results![0]!.label).toBe('red circle');

    const hub = await startHubServer({ repos: { 'someone/tiny-clip': path.join(installed, 'models/tiny-clip') } });
    try {
      const pulled = await runAsync('node', ['node-classify.mjs', 'photo.jpg', LABELS, 'someone/tiny-clip'], app, { ...env, HF_ENDPOINT: hub.url });
      expect(pulled.status, explain('node-classify.mjs someone/tiny-clip', pulled)).toBe(0);
      expect(top(pulled.stdout).results![0]!.label).toBe('red circle');
      expect(pulled.stderr).toMatch(/vision_model_int8\.onnx/); // the progress lines
      expect(hub.requests.some((q) => q.path.includes('/resolve/main/onnx/vision_model_int8.onnx'))).toBe(true);
    } finally {
      await hub.close();
    }
  });

  for (const [which, version] of Object.entries(TYPESCRIPT)) {
    const tsc = (project: string, ...flags: string[]) => run('node', [path.join(app, `node_modules/typescript-${which}/bin/tsc`), '-p', project, ...flags], app);

    it.skipIf(NODE_ONLY)(`(b) type-checks every entry under strict NodeNext with TypeScript ${version}: @types/node installed, no \`types\` setting`, () => {
      const r = tsc('tsconfig.json');
      expect(r.status, explain(`tsc ${version}`, r)).toBe(0);
      expect(r.stdout).toBe('');
    });

    it.skipIf(NODE_ONLY)(`(b) type-checks the Web-standard entries with no Node types at all, TypeScript ${version}`, () => {
      const r = tsc('tsconfig.web.json', '--listFiles');
      expect(r.status, explain(`tsc ${version} (web)`, r)).toBe(0);
      const files = r.stdout.trim().split('\n');
      expect(files.some((f) => f.includes('/clip-edge/dist/src/index.d.ts'))).toBe(true);
      expect(files.filter((f) => f.includes('/@types/node/'))).toEqual([]);
    });
  }

  it.skipIf(NODE_ONLY)('(c) runs on Deno', () => {
    const r = run(BIN('deno'), ['run', '--allow-read', '--allow-env', 'deno.ts'], app, { ...env, DENO_NO_UPDATE_CHECK: '1' });
    expect(r.status, explain('deno run', r)).toBe(0);
    expect(top(r.stdout).top!.label).toBe('red circle');
  });

  it.skipIf(NODE_ONLY)('(c) serves the API and the prebuilt page at / on Deno', async () => {
    const s = await start(BIN('deno'), ['run', '--allow-read', '--allow-env', '--allow-net', 'deno-serve.ts'], app, /listening on (http:\/\/\S+)/, { ...env, DENO_NO_UPDATE_CHECK: '1' });
    try {
      const page = await fetch(`${s.match[1]}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      expect((await fetch(`${s.match[1]}/healthz`)).status).toBe(200);
      expect(s.output()).not.toMatch(/not served/);
    } finally {
      stop(s.child);
    }
  });

  it.skipIf(NODE_ONLY)('(d) runs on Bun', () => {
    const r = run(BIN('bun'), ['run', 'bun.ts'], app, env);
    expect(r.status, explain('bun run', r)).toBe(0);
    expect(top(r.stdout).top!.label).toBe('red circle');
  });

  it.skipIf(NODE_ONLY)('(e) runs a Worker of its own (its wrangler.toml, importing clip-edge/workers) in workerd', async () => {
    const dir = path.join(app, 'worker');
    copy(path.join(REPO_ROOT, 'examples/worker'), dir);
    mkdirSync(path.join(dir, 'public/models'), { recursive: true });
    copy(path.join(installed, 'models/tiny-clip'), path.join(dir, 'public/models/tiny-clip'));
    const port = await freePort();
    const dev = await start(BIN('wrangler'), ['dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', path.join(tmp, 'wrangler-state')], dir, /Ready on (http:\/\/\S+)/, {
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_LOG_PATH: path.join(tmp, 'wrangler-logs'),
    }, 180_000);
    try {
      const base = `http://127.0.0.1:${port}`;
      expect(await (await fetch(`${base}/`)).text()).toMatch(/my worker/);
      const photo = readFileSync(path.join(app, 'photo.jpg'));
      for (const query of ['labelSet=tiny-clip-shapes', `labels=${encodeURIComponent(LABELS)}`]) {
        const res = await fetch(`${base}/clip/v1/classify?${query}&topK=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo });
        const body = (await res.json()) as { results: { label: string }[]; backend: string };
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(body.results[0]!.label).toBe('red circle');
      }
    } finally {
      stop(dev.child);
    }
  });

  it.skipIf(NODE_ONLY)('(f) bundles clip-edge/browser with esbuild and classifies in Chromium', async (ctx) => {
    const chromium = chromiumAvailable();
    if (!chromium.ok) return ctx.skip(chromium.reason);
    const dir = path.join(app, 'browser');
    mkdirSync(path.join(dir, 'public'), { recursive: true });
    copy(path.join(REPO_ROOT, 'examples/browser/main.js'), path.join(dir, 'main.js'));
    copy(path.join(REPO_ROOT, 'test/package/consumer/index.html'), path.join(dir, 'public/index.html'));
    const b = run(BIN('esbuild'), ['main.js', '--bundle', '--format=esm', '--outfile=public/app.js'], dir);
    expect(b.status, explain('esbuild', b)).toBe(0);
    // The model folder, ORT's files and the decoders come from the installed `clip-edge serve`; a
    // small static server of the consumer's serves its page and forwards those paths.
    const api = await start('npx', ['clip-edge', 'serve', '--port', '0'], app, /listening on (http:\/\/\S+?) /, env);
    const site = await staticSite(path.join(dir, 'public'), api.match[1]!, readFileSync(path.join(app, 'photo.jpg')));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${site.url}/index.html`);
      await page.waitForFunction(() => typeof (globalThis as { classifyUrl?: unknown }).classifyUrl === 'function', undefined, { timeout: 60_000 });
      const r = (await page.evaluate(`classifyUrl('/photo.jpg', ${JSON.stringify(LABELS.split(','))})`)) as { results: { label: string }[]; backend: string };
      expect(r.results[0]!.label).toBe('red circle');
      expect(r.backend).toMatch(/wasm|webgpu/);
    } finally {
      await browser.close();
      site.server.close();
      stop(api.child);
    }
  });

  it('(g) `npx clip-edge classify` and `npx clip-edge serve` from the installed package', async () => {
    const c = run('npx', ['clip-edge', 'classify', 'photo.jpg', '--labels', LABELS, '--json'], app, env);
    expect(c.status, explain('npx clip-edge classify', c)).toBe(0);
    expect(c.stdout).toMatch(/red circle/);
    const s = await start('npx', ['clip-edge', 'serve', '--port', '0'], app, /listening on (http:\/\/\S+?) /, env);
    try {
      const res = await fetch(`${s.match[1]}/v1/classify?labels=${encodeURIComponent(LABELS)}&topK=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(path.join(app, 'photo.jpg')) });
      const body = (await res.json()) as { results: { label: string }[] };
      expect(res.status).toBe(200);
      expect(body.results[0]!.label).toBe('red circle');
      // The page is the prebuilt one in dist/ (no esbuild in the consumer's node_modules).
      expect(existsSync(path.join(app, 'node_modules/esbuild'))).toBe(false);
      expect((await fetch(`${s.match[1]}/`)).status).toBe(200);
    } finally {
      stop(s.child);
    }
  });

  it('(g) `npx clip-edge prompts build --labels cifar10` (docs/prompt-cache.md) builds with a shipped text variant, into the per-user cache, not into node_modules', () => {
    const shipped = path.join(installed, 'models/tiny-clip/prompts');
    const before = readdirSync(shipped).map((f) => `${f}:${statSync(path.join(shipped, f)).mtimeMs}`);
    const r = run('npx', ['clip-edge', 'prompts', 'build', '--labels', 'cifar10'], app, env);
    expect(r.status, explain('npx clip-edge prompts build', r)).toBe(0);
    const wrote = /wrote (\S+cifar10\.bin)/.exec(r.stderr)?.[1];
    expect(wrote, r.stderr).toBeDefined();
    expect(wrote!.startsWith(`${env.CLIP_EDGE_PROMPT_CACHE}${path.sep}tiny-clip-`), wrote).toBe(true);
    expect(statSync(wrote!).size).toBeGreaterThan(0);
    expect(readdirSync(shipped).map((f) => `${f}:${statSync(path.join(shipped, f)).mtimeMs}`)).toEqual(before);
  });

  it('the Hono example mounts the kit\'s routes in an app of its own', async () => {
    const port = await freePort();
    const s = await start('node', ['hono-app.mjs'], app, /listening on (http:\/\/\S+)/, { ...env, PORT: String(port) });
    try {
      expect(await (await fetch(`${s.match[1]}/`)).text()).toMatch(/my app/);
      const res = await fetch(`${s.match[1]}/clip/v1/classify?labelSet=tiny-clip-shapes&topK=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(path.join(app, 'photo.jpg')) });
      const body = (await res.json()) as { results: { label: string }[] };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.results[0]!.label).toBe('red circle');
      expect((await fetch(`${s.match[1]}/clip/healthz`)).status).toBe(200);
    } finally {
      stop(s.child);
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The consumer's own static server: its page files, /photo.jpg, and everything else forwarded to `api`. */
async function staticSite(dir: string, api: string, photo: Uint8Array): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const file = path.join(dir, path.normalize(url.pathname));
    if (url.pathname === '/photo.jpg') return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
    if (file.startsWith(dir) && existsSync(file) && statSync(file).isFile()) {
      return void res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(readFileSync(file));
    }
    const upstream = await fetch(`${api}${url.pathname}${url.search}`);
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
    res.end(new Uint8Array(await upstream.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

