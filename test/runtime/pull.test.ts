import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClipEdgeError, type ClipEdgeErrorCode } from '../../src/core/errors.ts';
import { createPullProgress } from '../../src/hub/progress.ts';
import { modelDirOf, pullModel, resolvePullOptions, type PullEvent, type PullOptions } from '../../src/hub/pull.ts';
import { addDecoys, listFolder, startHubServer, writeFakeClipFolder, type HubServer } from '../helpers/hub-server.ts';

const REPO = 'org/tiny-clip';
const BUNDLED = join(import.meta.dirname, '../../models/tiny-clip');
/** What a CLIP model folder needs, as the brief words it. */
const NEEDED = /^[^/]+\.json$|^merges\.txt$|^onnx\/(vision|text)_model[^/]*\.onnx(_data(_\d+)?)?$|^prompts\//;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let tmp: string;
let src: string;
let cache: string;
let hub: HubServer;

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'clip-edge-pull-'));
  src = join(tmp, 'hub');
  cache = join(tmp, 'cache');
  if (existsSync(join(BUNDLED, 'manifest.json'))) {
    await cp(BUNDLED, src, { recursive: true });
    await addDecoys(src);
  } else {
    await writeFakeClipFolder(src);
  }
  hub = await startHubServer({ repos: { [REPO]: src } });
});

afterEach(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});

const pull = (o: Partial<PullOptions> = {}) =>
  pullModel({ repo: REPO, baseUrl: hub.url, cacheDir: cache, env: {}, retries: 0, ...o });

async function rejection(p: Promise<unknown>, code: ClipEdgeErrorCode): Promise<ClipEdgeError> {
  const e: unknown = await p.then(() => new Error('expected the pull to fail'), (err: unknown) => err);
  expect(e).toBeInstanceOf(ClipEdgeError);
  expect((e as ClipEdgeError).code, (e as Error).message).toBe(code);
  return e as ClipEdgeError;
}

const needed = async (dir = src) => (await listFolder(dir)).filter((p) => NEEDED.test(p));
const towerFiles = async (dir = src) => (await needed(dir)).filter((p) => p.endsWith('.onnx'));
async function largestOnnx(): Promise<{ path: string; size: number }> {
  const sizes = await Promise.all((await towerFiles()).map(async (path) => ({ path, size: (await stat(join(src, path))).size })));
  return sizes.sort((a, b) => b.size - a.size)[0]!;
}
/** Cuts `path` after `afterBytes`, once the pull has received them (see `HubFaults.cut`). */
function cutOnce(path: string, afterBytes: number) {
  let release = () => {};
  hub.faults.cut = { path, afterBytes, until: new Promise<void>((ok) => { release = ok; }) };
  return (e: PullEvent) => {
    if (e.type === 'file-progress' && e.path === path && e.received >= afterBytes) release();
  };
}
const fileGets = () => hub.requests.filter((r) => r.method === 'GET' && !r.path.startsWith('/api/'));

describe('pullModel', () => {
  it('pulls the files a CLIP folder needs into {cacheDir}/{repo}/{revision}, verified by the hub', async () => {
    const events: PullEvent[] = [];
    const r = await pull({ onProgress: (e) => events.push(e) });

    expect(r.dir).toBe(join(cache, 'org', 'tiny-clip', 'main'));
    expect(r.listing).toBe('api');
    expect(r.files.map((f) => f.path).sort()).toEqual(await needed());
    expect(await listFolder(r.dir)).toEqual(await needed()); // no decoys, no .partial left
    for (const f of r.files) {
      const original = await readFile(join(src, f.path));
      // Buffer.equals: toEqual walks 13 MB byte by byte and takes minutes.
      expect((await readFile(join(r.dir, f.path))).equals(original), f.path).toBe(true);
      expect(f).toMatchObject({ bytes: original.byteLength, sha256: sha256(original), status: 'downloaded' });
      if (f.path.endsWith('.onnx')) expect(f.verifiedBy).toBe('hub');
    }
    expect(r.variants).toContain('fp32');

    expect(events[0]?.type).toBe('plan');
    const done = events.filter((e) => e.type === 'file-done');
    expect(done).toHaveLength(r.files.length);
    expect(done.at(-1)?.totalReceived).toBe(done.at(-1)?.totalBytes);
  });

  it('skips every file on a second pull and downloads nothing', async () => {
    await pull();
    hub.requests.length = 0;
    const r = await pull();
    expect(r.files.every((f) => f.status === 'skipped')).toBe(true);
    expect(r.files.map((f) => f.path).sort()).toEqual(await needed());
    expect(fileGets()).toEqual([]);
  });

  it('resumes a download cut off mid-file with a Range request, in the same call', async () => {
    const big = await largestOnnx();
    const half = Math.floor(big.size / 2);
    const r = await pull({ retries: 2, onProgress: cutOnce(big.path, half) });
    const f = r.files.find((x) => x.path === big.path)!;
    expect(f).toMatchObject({ status: 'resumed', verifiedBy: 'hub', sha256: sha256(await readFile(join(src, big.path))) });
    expect(hub.requests.some((q) => q.range === `bytes=${half}-`)).toBe(true);
  });

  it('keeps the .partial of a failed pull and resumes it on the next pull', async () => {
    const big = await largestOnnx();
    const half = Math.floor(big.size / 2);
    const e = await rejection(pull({ onProgress: cutOnce(big.path, half) }), 'NETWORK');
    expect(e.details?.resumable).toBe(true);
    const dir = modelDirOf({ cacheDir: cache, repo: REPO, revision: 'main' });
    expect((await stat(join(dir, `${big.path}.partial`))).size).toBe(half);
    expect(existsSync(join(dir, big.path))).toBe(false);

    const r = await pull();
    expect(r.files.find((x) => x.path === big.path)).toMatchObject({ status: 'resumed', bytes: big.size });
    // the Range header goes to the hub and, through its redirect, to the "CDN" that answers 206
    expect(hub.requests.filter((q) => q.range === `bytes=${half}-` && q.path.startsWith('/cdn/'))).toHaveLength(1);
    expect((await readFile(join(dir, big.path))).equals(await readFile(join(src, big.path)))).toBe(true);
    expect(existsSync(join(dir, `${big.path}.partial`))).toBe(false);
  });

  it('fails with INTEGRITY_MISMATCH on corrupted bytes and leaves no file behind', async () => {
    const big = await largestOnnx();
    hub.faults.corrupt = big.path;
    const e = await rejection(pull(), 'INTEGRITY_MISMATCH');
    const expected = sha256(await readFile(join(src, big.path)));
    expect(e.message).toContain(big.path);
    expect(e.message).toContain(expected);
    expect(e.details).toMatchObject({ file: big.path, what: 'sha256', expected, by: 'hub' });
    expect(e.message).toContain(String(e.details?.actual));
    const dir = modelDirOf({ cacheDir: cache, repo: REPO, revision: 'main' });
    expect(existsSync(join(dir, big.path))).toBe(false);
    expect(existsSync(join(dir, `${big.path}.partial`))).toBe(false);
  });

  it('answers 401 with UNAUTHORIZED that names HF_TOKEN, never the token, and sends HF_TOKEN as bearer', async () => {
    hub.options.token = 'hf_right';
    expect((await rejection(pull(), 'UNAUTHORIZED')).message).toMatch(/HF_TOKEN/);
    const wrong = await rejection(pull({ token: 'hf_wrong_secret' }), 'UNAUTHORIZED');
    expect(wrong.message + JSON.stringify(wrong.details)).not.toContain('hf_wrong_secret');

    hub.requests.length = 0;
    const r = await pull({ env: { HF_TOKEN: 'hf_right' } });
    expect(r.files.length).toBeGreaterThan(0);
    const hubRoutes = hub.requests.filter((q) => !q.path.startsWith('/cdn/'));
    expect(hubRoutes.every((q) => q.authorization === 'Bearer hf_right')).toBe(true);
  });

  it('answers an unknown repo or revision with MODEL_NOT_FOUND naming it', async () => {
    expect((await rejection(pull({ repo: 'org/nope' }), 'MODEL_NOT_FOUND')).message).toContain('org/nope');
    expect((await rejection(pull({ revision: 'v9' }), 'MODEL_NOT_FOUND')).message).toContain('v9');
  });

  it('answers a refused connection, an HTTP 500 and a stalled body with NETWORK', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const refused = await rejection(pull({ baseUrl: `http://127.0.0.1:${port}` }), 'NETWORK');
    expect(refused.message).toContain(`http://127.0.0.1:${port}/`);

    hub.faults.status = 500;
    const failed = await rejection(pull(), 'NETWORK');
    expect(failed.message).toMatch(/HTTP 500 from http:\/\/127\.0\.0\.1:\d+\//);

    // The idle timeout must outlast the response headers on a loaded 2-core machine (0.3 s did
    // not: "no response for 0.3s"), so that it is the stalled body that trips it.
    hub.faults = { stall: (await largestOnnx()).path };
    expect((await rejection(pull({ idleTimeoutMs: 2000 }), 'NETWORK')).message).toMatch(/no data for 2s/);
  });

  it('rejects unsafe repo ids and revisions with BAD_INPUT before any request', async () => {
    let calls = 0;
    const fetch = (() => { calls++; throw new Error('no request expected'); }) as typeof globalThis.fetch;
    for (const repo of ['../etc', 'org/../../x', '/abs/path', 'org/name/extra', 'org/na me', 'org/..', 'C:\\x', '']) {
      await rejection(pull({ repo, fetch }), 'BAD_INPUT');
    }
    for (const revision of ['../main', 'a/../../b', '/main', 'main/', 'ma in']) {
      await rejection(pull({ revision, fetch }), 'BAD_INPUT');
    }
    await rejection(pull({ baseUrl: 'file:///etc', fetch }), 'BAD_INPUT');
    expect(calls).toBe(0);
  });

  it('falls back to manifest.json when the hub has no API, and verifies by the manifest', async () => {
    hub.options.api = false;
    hub.options.linkedHeaders = false; // a plain static mirror: sizes, no sha256
    const r = await pull();
    expect(r.listing).toBe('manifest');
    const onnx = r.files.filter((f) => f.path.endsWith('.onnx'));
    expect(onnx.map((f) => f.path).sort()).toEqual(await towerFiles());
    expect(onnx.every((f) => f.verifiedBy === 'manifest')).toBe(true);
    expect(r.files.map((f) => f.path)).toEqual(expect.arrayContaining(['config.json', 'manifest.json']));

    await rm(r.dir, { recursive: true });
    const big = await largestOnnx();
    hub.faults.corrupt = big.path;
    const e = await rejection(pull(), 'INTEGRITY_MISMATCH');
    expect(e.details).toMatchObject({ file: big.path, by: 'manifest' });
  });

  it('falls back to a fixed list probed with HEAD when there is neither API nor manifest', async () => {
    hub.options.api = false;
    await rm(join(src, 'manifest.json'));
    const r = await pull();
    expect(r.listing).toBe('fixed');
    const known = (await towerFiles()).filter((p) => /_model(|_fp16|_int8|_uint8|_q4|_quantized)\.onnx$/.test(p));
    expect(r.files.filter((f) => f.path.endsWith('.onnx')).map((f) => f.path).sort()).toEqual(known);
    expect(r.files.map((f) => f.path)).toContain('config.json');
  });

  it('pulls only the chosen towers and precisions', async () => {
    const fake = join(tmp, 'fake');
    await writeFakeClipFolder(fake);
    hub.options.repos['org/fake'] = fake;
    const r = await pull({ repo: 'org/fake', towers: ['vision'], variants: ['int8'] });
    expect(r.files.filter((f) => f.path.startsWith('onnx/')).map((f) => f.path)).toEqual(['onnx/vision_model_int8.onnx']);
    expect(r.variants).toEqual(['int8']);
    await rejection(pull({ repo: 'org/fake', variants: ['q4'] }), 'MODEL_NOT_FOUND');
  });

  it('checks ONNX files against manifest.json too, and refuses a manifest pointing outside the folder', async () => {
    const fake = join(tmp, 'fake');
    await writeFakeClipFolder(fake);
    hub.options.repos['org/fake'] = fake;
    const manifest = JSON.parse(await readFile(join(fake, 'manifest.json'), 'utf8'));
    manifest.variants.int8.text.sha256 = 'e'.repeat(64);
    await writeFile(join(fake, 'manifest.json'), JSON.stringify(manifest));
    const e = await rejection(pull({ repo: 'org/fake' }), 'INTEGRITY_MISMATCH');
    expect(e.details).toMatchObject({ file: 'onnx/text_model_int8.onnx', expected: 'e'.repeat(64), by: 'manifest' });

    hub.options.api = false;
    manifest.variants.int8.text.file = '../../escape.onnx';
    await writeFile(join(fake, 'manifest.json'), JSON.stringify(manifest));
    await rejection(pull({ repo: 'org/fake' }), 'MODEL_INVALID');
  });

  it('takes external data along and accepts a combined Optimum onnx/model.onnx with a warning', async () => {
    const optimum = join(tmp, 'optimum');
    await mkdir(join(optimum, 'onnx'), { recursive: true });
    for (const [path, data] of Object.entries({
      'config.json': '{}', 'tokenizer.json': '{}', 'onnx/model.onnx': 'graph', 'onnx/model.onnx_data': 'weights',
    })) await writeFile(join(optimum, path), data);
    hub.options.repos['org/optimum'] = optimum;

    for (const api of [true, false]) {
      hub.options.api = api;
      const r = await pull({ repo: 'org/optimum', cacheDir: join(tmp, `cache-${api}`) });
      expect(r.files.map((f) => f.path).sort()).toEqual(['config.json', 'onnx/model.onnx', 'onnx/model.onnx_data', 'tokenizer.json']);
      expect(r.warnings.join('\n')).toMatch(/onnx\/model\.onnx is a combined vision\+text export/);
      expect(r.variants).toEqual([]);
    }
  });

  it('stops on abort, keeping what it has for the next pull', async () => {
    const ctl = new AbortController();
    const e = await pull({ signal: ctl.signal, onProgress: (ev) => ev.type === 'file-progress' && ctl.abort() })
      .then(() => undefined, (err: unknown) => err);
    expect((e as Error).name).toBe('AbortError');
    const r = await pull();
    expect(r.files.map((f) => f.path).sort()).toEqual(await needed());
  });
});

describe('resolvePullOptions', () => {
  it('reads HF_ENDPOINT, CLIP_EDGE_CACHE and HF_TOKEN, with documented defaults', () => {
    const fromEnv = resolvePullOptions({ repo: 'a/b', env: { HF_ENDPOINT: 'http://mirror.local/hf/', CLIP_EDGE_CACHE: '/tmp/models', HF_TOKEN: 't' } });
    expect(fromEnv).toMatchObject({ baseUrl: 'http://mirror.local/hf', cacheDir: '/tmp/models', token: 't', revision: 'main', variants: undefined, towers: ['vision', 'text'] });
    const defaults = resolvePullOptions({ repo: 'a/b', env: {} });
    expect(defaults).toMatchObject({ baseUrl: 'https://huggingface.co', cacheDir: join(homedir(), '.cache', 'clip-edge', 'models'), token: undefined });
    expect(modelDirOf({ ...defaults, revision: 'refs/pr/1' })).toBe(join(defaults.cacheDir, 'a', 'b', 'refs--pr--1'));
  });
});

describe('createPullProgress', () => {
  it('prints plain lines when not drawing bars, and draws bars without throwing', async () => {
    const events: PullEvent[] = [];
    await pull({ onProgress: (e) => events.push(e) });
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => { text += c.toString(); });
    const plain = createPullProgress({ stream: out, bars: false });
    events.forEach((e) => plain.onProgress(e));
    plain.stop();
    expect(text).toMatch(/^pull org\/tiny-clip@main: \d+ files/);
    expect(text).toMatch(/onnx\/\w+\.onnx .* downloaded \(sha256 verified by hub\)/);

    const bars = createPullProgress({ stream: new PassThrough(), bars: true });
    events.forEach((e) => bars.onProgress(e));
    bars.stop();
  });
});
