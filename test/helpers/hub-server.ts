/**
 * A tiny Hugging Face-compatible hub on 127.0.0.1 for tests: serves model folders from disk in
 * the hub's URL scheme, like huggingface.co does it (LFS files answer with a redirect to a "CDN"
 * route that carries `X-Linked-Size` / `X-Linked-ETag`; other files carry a git-sha1 ETag), and
 * can misbehave on demand (cut a body short, flip a byte, stall, fail with a status).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative, sep } from 'node:path';

export interface HubServerOptions {
  /** Repo id (`org/name`) → folder served as its revision(s). */
  repos: Record<string, string>;
  /** Revisions every repo has. @defaultValue `['main']` */
  revisions?: readonly string[];
  /** When set, every hub route wants `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** Serve `/api/models/...`; `false` answers a plain 404, like a static mirror. @defaultValue `true` */
  api?: boolean;
  /** Send `X-Linked-Size` / `X-Linked-ETag` for LFS files. @defaultValue `true` */
  linkedHeaders?: boolean;
}

/** Switches a test flips to make the hub misbehave; read on every request. */
export interface HubFaults {
  /**
   * Close the connection after `afterBytes` of this file's body, `times` times (default 1), once
   * `until` settles: a client drops bytes it has received but not yet read when the connection
   * breaks, so a test that wants an exact resume offset releases the cut once it has them.
   */
  cut?: { path: string; afterBytes: number; times?: number; until?: Promise<unknown> };
  /** Serve this file with one byte flipped; headers still advertise the true size and sha256. */
  corrupt?: string;
  /** Send the headers of this file, then nothing. */
  stall?: string;
  /** Answer every request with this status. */
  status?: number;
}

export interface HubRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface HubServer {
  url: string;
  requests: HubRequest[];
  faults: HubFaults;
  options: HubServerOptions;
  close(): Promise<void>;
}

const isLfs = (path: string) => /\.(onnx|onnx_data|bin|safetensors)$/.test(path);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');

export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const hub: HubServer = { url: '', requests, faults: {}, options, close: async () => {} };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, range: req.headers.range, authorization: req.headers.authorization });
    handle(hub, req, res, url).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => new Promise((ok) => {
    server.closeAllConnections();
    server.close(() => ok());
  });
  return hub;
}

async function handle(hub: HubServer, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { options, faults } = hub;
  if (faults.status) return error(res, faults.status, 'Injected');
  const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);

  if (parts[0] === 'cdn') { // /cdn/<repo>/<rev>/<path>: the "CDN", no auth, like a signed URL
    const [repo = '', rev = '', ...path] = parts.slice(1);
    const data = await fileOf(hub, repo, rev, path.join('/'));
    return data ? send(hub, req, res, path.join('/'), data) : error(res, 404, 'Not Found');
  }
  if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
    return error(res, 401, 'Invalid credentials in Authorization header', 'Unauthorized');
  }
  if (parts[0] === 'api' && parts[1] === 'models') {
    if (options.api === false) return error(res, 404, 'Not Found');
    const at = parts.indexOf('revision');
    const repo = parts.slice(2, at).join('/');
    const rev = parts[at + 1] ?? '';
    const dir = options.repos[repo];
    if (at < 0 || !dir) return error(res, 404, 'Repository not found', 'RepoNotFound');
    if (!(options.revisions ?? ['main']).includes(rev)) return error(res, 404, 'Revision not found', 'RevisionNotFound');
    const siblings = [];
    for (const path of await listFolder(dir)) {
      const data = await readFile(join(dir, path));
      siblings.push({
        rfilename: path, size: data.byteLength, blobId: gitSha1(data),
        ...(isLfs(path) && { lfs: { sha256: sha256(data), size: data.byteLength, pointerSize: 134 } }),
      });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: repo, sha: 'f'.repeat(40), siblings }));
    return;
  }
  const at = parts.indexOf('resolve');
  const repo = parts.slice(0, at).join('/');
  const [rev = '', ...rest] = parts.slice(at + 1);
  const path = rest.join('/');
  if (at < 1 || !options.repos[repo]) return error(res, 404, 'Repository not found', 'RepoNotFound');
  if (!(options.revisions ?? ['main']).includes(rev)) return error(res, 404, 'Revision not found', 'RevisionNotFound');
  const data = await fileOf(hub, repo, rev, path);
  if (!data) return error(res, 404, 'Entry not found', 'EntryNotFound');
  if (isLfs(path)) {
    const linked = options.linkedHeaders === false ? {}
      : { 'x-linked-size': String(data.byteLength), 'x-linked-etag': `"${sha256(data)}"`, etag: `"${sha256(data)}"` };
    const location = `/cdn/${[repo, rev, ...rest].map(encodeURIComponent).join('/')}`;
    res.writeHead(302, { location, ...linked }).end();
    return;
  }
  return send(hub, req, res, path, data, { etag: `"${gitSha1(data)}"` });
}

async function fileOf(hub: HubServer, repo: string, rev: string, path: string): Promise<Uint8Array | undefined> {
  const dir = hub.options.repos[repo];
  if (!dir || !(hub.options.revisions ?? ['main']).includes(rev) || path.split('/').includes('..')) return undefined;
  return readFile(join(dir, path)).catch(() => undefined);
}

function send(hub: HubServer, req: IncomingMessage, res: ServerResponse, path: string, data: Uint8Array, extra: Record<string, string> = {}): void {
  const { faults } = hub;
  let body = Buffer.from(data);
  if (faults.corrupt === path) {
    body = Buffer.from(body);
    body[body.length >> 1]! ^= 0xff;
  }
  const size = body.byteLength;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  let status = 200;
  const headers: Record<string, string> = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...extra };
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    body = body.subarray(start, end + 1);
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['content-length'] = String(body.byteLength);
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();
  if (faults.stall === path) return void res.flushHeaders();
  const cut = faults.cut;
  if (cut?.path === path && (cut.times ?? 1) > 0) {
    cut.times = (cut.times ?? 1) - 1;
    res.write(body.subarray(0, cut.afterBytes));
    void (cut.until ?? new Promise((ok) => setTimeout(ok, 100))).finally(() => res.destroy());
    return;
  }
  res.end(body);
}

function error(res: ServerResponse, status: number, message: string, code?: string): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(code && { 'x-error-code': code }) }).end(JSON.stringify({ error: message }));
}

/** Every file under `dir`, `/`-separated, sorted. */
export async function listFolder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/**
 * Writes a small fake CLIP folder (random bytes where the weights go) with a manifest.json that
 * lists bytes + sha256, plus files a CLIP folder does not need (they must not be pulled).
 */
export async function writeFakeClipFolder(dir: string): Promise<void> {
  const put = async (path: string, data: Uint8Array | string) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  };
  const weights: Record<string, Record<'vision' | 'text', Uint8Array>> = {
    fp32: { vision: randomBytes(96 * 1024), text: randomBytes(64 * 1024) },
    int8: { vision: randomBytes(24 * 1024), text: randomBytes(16 * 1024) },
  };
  const variants: Record<string, Record<string, { file: string; bytes: number; sha256: string }>> = {};
  for (const [precision, towers] of Object.entries(weights)) {
    variants[precision] = {};
    for (const [tower, data] of Object.entries(towers)) {
      const file = `onnx/${tower}_model${precision === 'fp32' ? '' : `_${precision}`}.onnx`;
      await put(file, data);
      variants[precision][tower] = { file, bytes: data.byteLength, sha256: sha256(data) };
    }
  }
  await put('manifest.json', JSON.stringify({ id: 'fake-clip', dims: 512, variants }, null, 2));
  await put('config.json', JSON.stringify({ model_type: 'clip', projection_dim: 512 }));
  await put('preprocessor_config.json', JSON.stringify({ size: 224, image_mean: [0.48, 0.46, 0.41] }));
  await put('tokenizer.json', JSON.stringify({ model: { vocab: { a: 0, b: 1 } }, pad: randomBytes(8).toString('hex') }));
  await put('tokenizer_config.json', JSON.stringify({ model_max_length: 77 }));
  await put('special_tokens_map.json', JSON.stringify({ bos_token: '<|startoftext|>' }));
  await put('prompts/imagenet.bin', randomBytes(4096));
  await put('prompts/imagenet.json', JSON.stringify({ labels: 2, dims: 512 }));
  await addDecoys(dir);
}

/** Files a hub repo often has that a CLIP model folder does not need. */
export async function addDecoys(dir: string): Promise<string[]> {
  const decoys = { 'README.md': '# model card', '.gitattributes': '*.onnx filter=lfs', 'pytorch_model.bin': randomBytes(2048), 'flax/model.msgpack': randomBytes(512) };
  for (const [path, data] of Object.entries(decoys)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  }
  return Object.keys(decoys);
}
