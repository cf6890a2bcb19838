import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { quotedPath } from '../../../http/errors.ts';
import type { ClipEdge } from '../../../core/clip.ts';
import { PAGE_HEADERS } from '../../../web/headers.ts';
import { buildWeb, type WebBuild, typeOf } from './build.ts';
import { MODEL_WEB_INDEX, serveModelFolder } from './model-index.ts';

export interface PageRoutesOptions {
  clip: ClipEdge;
  /** The model folder on disk. */
  modelDir: string;
  /** A build made beforehand (tests, the static build); @defaultValue built now with esbuild */
  build?: WebBuild;
}

/** A response with a strong ETag, 304 for a matching If-None-Match; the body is made only when needed. */
async function send(c: Context, body: () => Promise<Uint8Array | ReadableStream>, length: number, type: string, etag: string, cacheControl: string): Promise<Response> {
  const headers: Record<string, string> = { ...PAGE_HEADERS, 'Content-Type': type, ETag: `"${etag}"`, 'Cache-Control': cacheControl };
  const match = c.req.header('if-none-match');
  if (match && match.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${etag}"`)) return new Response(null, { status: 304, headers });
  headers['Content-Length'] = String(length);
  if (c.req.method === 'HEAD') return new Response(null, { headers });
  return new Response((await body()) as Uint8Array<ArrayBuffer>, { headers });
}

const bytesOf = (b: Uint8Array) => () => Promise.resolve(b);
/** Model files can be hundreds of MB: streamed from disk, never read whole. */
const streamOf = (file: string) => async () => Readable.toWeb(createReadStream(file)) as unknown as ReadableStream;

const notFound = (c: Context, what: string) => c.json({ error: { code: 'NOT_FOUND', message: `no ${what} ${quotedPath(new URL(c.req.url).pathname)}` } }, 404, PAGE_HEADERS);

/** A path segment's decoded form, or undefined when its percent-encoding is malformed (`%ff`, `%E0%A4%A`). */
const decodedPath = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

/**
 * The mobile-web classifier: the page at `/`, its bundle, ORT's and the decoders' files, and the
 * served model folder under `/models/<id>/` (only the files of its index: no other path can be
 * read). Model files carry their sha256 as ETag, and are immutable when asked for by hash.
 */
export { PAGE_HEADERS };

export async function createPageRoutes(options: PageRoutesOptions): Promise<Hono> {
  const [build, served] = await Promise.all([options.build ?? buildWeb(), serveModelFolder(options.modelDir, options.clip)]);
  const modelBase = `models/${encodeURIComponent(served.index.id)}/`;
  const html = new TextEncoder().encode(new TextDecoder().decode(build.files.get('index.html')!.bytes).replaceAll('%MODEL_URL%', modelBase));
  const shellTag = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 32);
  const tags = new Map<string, string>();
  const tagOf = (key: string, bytes: Uint8Array) => {
    let t = tags.get(key);
    if (!t) tags.set(key, (t = shellTag(bytes)));
    return t;
  };
  const indexJson = new TextEncoder().encode(JSON.stringify(served.index));
  const app = new Hono();

  app.get('/', (c) => send(c, bytesOf(html), html.byteLength, 'text/html; charset=utf-8', tagOf('/', html), 'no-cache'));
  for (const [p, f] of build.files) {
    if (p === 'index.html') continue;
    app.get(`/${p}`, (c) => send(c, bytesOf(f.bytes), f.bytes.byteLength, f.type, tagOf(p, f.bytes), 'no-cache'));
  }
  for (const [p, f] of build.external) {
    app.get(`/${p}`, async (c) => {
      const bytes = new Uint8Array(await readFile(f.file));
      return send(c, bytesOf(bytes), bytes.byteLength, f.type, tagOf(p, bytes), 'no-cache');
    });
  }
  app.get(`/models/:id/*`, async (c) => {
    if (c.req.param('id') !== served.index.id) return notFound(c, 'model');
    const rel = decodedPath(new URL(c.req.url).pathname.slice(`/${modelBase}`.length));
    if (rel === undefined) return notFound(c, 'model file');
    if (rel === MODEL_WEB_INDEX) return send(c, bytesOf(indexJson), indexJson.byteLength, 'application/json', tagOf(rel, indexJson), 'no-cache');
    const entry = Object.hasOwn(served.index.files, rel) ? served.index.files[rel]! : undefined;
    const where = served.files.get(rel);
    if (!entry || !where) return notFound(c, 'model file');
    // Asked for by its hash: that URL's content never changes.
    const byHash = c.req.query('sha256') === entry.sha256;
    const body = 'bytes' in where ? bytesOf(where.bytes) : streamOf(where.file);
    return send(c, body, entry.bytes, typeOf(rel), entry.sha256, byHash ? 'public, max-age=31536000, immutable' : 'no-cache');
  });
  return app;
}
