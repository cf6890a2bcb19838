import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORT_BUILDS } from '../runtime/browser/ort.ts';
import { CODEC_WASM_FILES } from '../runtime/browser/codecs.ts';

const WEB_DIR = fileURLToPath(new URL('../web', import.meta.url));
/**
 * The page as the published package ships it (`npm run build` writes it to dist/src/web-page/),
 * so an installed package serves it without esbuild; a clone has none there and builds in memory.
 */
export const PREBUILT_WEB_DIR = fileURLToPath(new URL('../web-page', import.meta.url));
const PREBUILT_INDEX = 'web-build.json';
const require = createRequire(import.meta.url);

/** One file of the built page, in memory. */
export interface WebFile {
  bytes: Uint8Array;
  type: string;
}

/** Files the page loads from node_modules as they are (served or copied, never bundled). */
export interface ExternalFile {
  /** Absolute path on disk. */
  file: string;
  type: string;
  /** Part of the app shell the service worker precaches (ORT's small loaders, the decoders' wasm). */
  shell: boolean;
}

export interface WebBuild {
  /** Page-relative path (`app/app.js`, `sw.js`, `index.html`, …) → contents. `index.html` has a `%MODEL_URL%` placeholder. */
  files: Map<string, WebFile>;
  /** `ort/<file>` and `codecs/<file>` → file on disk. */
  external: Map<string, ExternalFile>;
  /** Bytes of the page's own JavaScript (app, worker, chunks, service worker): raw and gzip. */
  jsBytes: { raw: number; gzip: number };
  /** onnxruntime-web's version (ORT files are cached under it). */
  ortVersion: string;
  /** Content hash of the shell (names the service worker's cache). */
  hash: string;
}

export interface BuildWebOptions {
  /** @defaultValue true */
  minify?: boolean;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};
export const typeOf = (p: string): string => TYPES[path.extname(p)] ?? 'application/octet-stream';

/** ORT's and the decoders' files the page fetches, by page-relative path. */
function externalFiles(): Map<string, ExternalFile> {
  const ortDist = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  const out = new Map<string, ExternalFile>();
  for (const b of Object.values(ORT_BUILDS)) {
    out.set(`ort/${b.loader}`, { file: path.join(ortDist, b.loader), type: typeOf(b.loader), shell: true });
    out.set(`ort/${b.glue}`, { file: path.join(ortDist, b.glue), type: typeOf(b.glue), shell: true });
    // The wasm (14–27 MB) is cached by the inference worker with a progress bar, not precached.
    out.set(`ort/${b.wasm}`, { file: path.join(ortDist, b.wasm), type: typeOf(b.wasm), shell: false });
  }
  // The streamed decoders are this package's builds, beside the image core (src/, or dist/src/ when installed).
  for (const f of [CODEC_WASM_FILES.jpegTurbo, CODEC_WASM_FILES.webpStream]) {
    out.set(`codecs/${f}`, { file: fileURLToPath(new URL(`../core/image/${f}`, import.meta.url)), type: 'application/wasm', shell: true });
  }
  out.set(`codecs/${CODEC_WASM_FILES.webp}`, { file: require.resolve(`@jsquash/webp/codec/dec/${CODEC_WASM_FILES.webp}`), type: 'application/wasm', shell: true });
  return out;
}

/**
 * Builds the browser page with esbuild, in memory (~1 s): `app/app.js` (UI) and `app/worker.js`
 * (inference: the same core as the server) with shared chunks, and `sw.js`.
 */
export async function buildWeb(options: BuildWebOptions = {}): Promise<WebBuild> {
  if (options.minify !== false && existsSync(path.join(PREBUILT_WEB_DIR, PREBUILT_INDEX))) return readWebBuild(PREBUILT_WEB_DIR);
  // esbuild is a build tool (a dev dependency): only a clone, which has no prebuilt page, gets here.
  const esbuild = await import('esbuild');
  const { gzipSync } = await import('node:zlib');
  const minify = options.minify ?? true;
  const ortDist = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  const ortVersion = (JSON.parse(await readFile(path.join(ortDist, '../package.json'), 'utf8')) as { version: string }).version;
  const ortCache = `clip-edge-ort-${ortVersion}`;
  const common = { bundle: true, minify, write: false, target: 'es2022', platform: 'browser', logLevel: 'silent', legalComments: 'none' } as const;
  const app = await esbuild.build({
    ...common,
    entryPoints: { app: path.join(WEB_DIR, 'app.ts'), worker: path.join(WEB_DIR, 'worker.ts') },
    outdir: '/app',
    format: 'esm',
    splitting: true,
    chunkNames: 'chunk-[hash]',
    define: { __ORT_CACHE__: JSON.stringify(ortCache) },
  });
  const files = new Map<string, WebFile>();
  for (const f of app.outputFiles) files.set(`app/${path.basename(f.path)}`, { bytes: f.contents, type: typeOf(f.path) });
  for (const name of ['index.html', 'manifest.webmanifest', 'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png']) {
    files.set(name, { bytes: new Uint8Array(await readFile(path.join(WEB_DIR, name))), type: typeOf(name) });
  }
  const external = externalFiles();
  const shell = ['./', ...[...files.keys()].filter((p) => p !== 'index.html'), ...[...external].filter(([, f]) => f.shell).map(([p]) => p)];
  const h = createHash('sha256').update(ortVersion);
  for (const [p, f] of files) h.update(p).update(f.bytes);
  const hash = h.digest('hex').slice(0, 16);
  const sw = await esbuild.build({
    ...common,
    entryPoints: [path.join(WEB_DIR, 'sw.ts')],
    format: 'iife',
    define: { __SHELL__: JSON.stringify(shell), __SHELL_CACHE__: JSON.stringify(`clip-edge-shell-${hash}`) },
  });
  files.set('sw.js', { bytes: sw.outputFiles[0]!.contents, type: typeOf('sw.js') });
  const js = [...files].filter(([p]) => p.endsWith('.js')).map(([, f]) => f.bytes);
  return {
    files,
    external,
    ortVersion,
    hash,
    jsBytes: { raw: js.reduce((n, b) => n + b.byteLength, 0), gzip: js.reduce((n, b) => n + gzipSync(b, { level: 9 }).byteLength, 0) },
  };
}

interface PrebuiltIndex {
  ortVersion: string;
  hash: string;
  jsBytes: WebBuild['jsBytes'];
  files: string[];
}

/** Writes a build's own files (not ORT's or the decoders', which stay in node_modules) to `dir`. */
export async function writeWebBuild(build: WebBuild, dir: string): Promise<void> {
  for (const [rel, f] of build.files) {
    const to = path.join(dir, ...rel.split('/'));
    await mkdir(path.dirname(to), { recursive: true });
    await writeFile(to, f.bytes);
  }
  const index: PrebuiltIndex = { ortVersion: build.ortVersion, hash: build.hash, jsBytes: build.jsBytes, files: [...build.files.keys()] };
  await writeFile(path.join(dir, PREBUILT_INDEX), `${JSON.stringify(index, null, 1)}\n`);
}

/** The build `writeWebBuild` wrote; ORT's and the decoders' files are looked up in node_modules as usual. */
export async function readWebBuild(dir: string): Promise<WebBuild> {
  const index = JSON.parse(await readFile(path.join(dir, PREBUILT_INDEX), 'utf8')) as PrebuiltIndex;
  const files = new Map<string, WebFile>();
  for (const rel of index.files) files.set(rel, { bytes: new Uint8Array(await readFile(path.join(dir, ...rel.split('/')))), type: typeOf(rel) });
  return { files, external: externalFiles(), ortVersion: index.ortVersion, hash: index.hash, jsBytes: index.jsBytes };
}
