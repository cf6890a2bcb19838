// Writes the mobile-web classifier as static files, for Cloudflare Workers static assets (or any
// static host that can send COOP/COEP headers):
//   npm run build:web [-- --out src/runtime/workers/public] [-- --model models/tiny-clip] [-- --max-asset-mib 25]
// Output: index.html, app/*.js, sw.js, manifest + icons, ort/* (ORT's loaders and wasm), codecs/*,
// models/<id>/{files.json,…} (the same files and index the Node server serves), and _headers.
// Files over --max-asset-mib are left out with a warning (Workers allow 25 MiB per asset: ORT's
// WebGPU wasm is 26.8 MB, so a Workers deployment runs the page on WASM only).
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createNodeClipEdge, DEFAULT_MODEL_DIR, PACKAGE_ROOT } from '../src/runtime/fs/create.ts';
import { buildWeb } from '../src/page-server/build.ts';
import { MODEL_WEB_INDEX, serveModelFolder } from '../src/page-server/model-index.ts';
import { PAGE_HEADERS } from '../src/http/page-headers.ts';

export async function writeStaticPage(options: { out: string; model?: string; maxAssetBytes?: number }): Promise<{ files: number; skipped: string[] }> {
  const out = path.resolve(options.out);
  const modelDir = path.resolve(options.model ?? DEFAULT_MODEL_DIR);
  const max = options.maxAssetBytes ?? 25 * 1024 * 1024;
  const build = await buildWeb();
  const clip = await createNodeClipEdge({ model: modelDir, backend: 'wasm', text: false });
  const served = await serveModelFolder(modelDir, clip);
  const modelBase = `models/${served.index.id}/`;
  for (const sub of ['app', 'ort', 'codecs', 'icons', 'models']) await rm(path.join(out, sub), { recursive: true, force: true });
  const skipped: string[] = [];
  let files = 0;
  const put = async (rel: string, from: { bytes: Uint8Array } | { file: string }) => {
    const size = 'bytes' in from ? from.bytes.byteLength : statSync(from.file).size;
    if (size > max) {
      skipped.push(`${rel} (${(size / 1048576).toFixed(1)} MiB)`);
      return;
    }
    const to = path.join(out, ...rel.split('/'));
    await mkdir(path.dirname(to), { recursive: true });
    if ('bytes' in from) await writeFile(to, from.bytes);
    else await copyFile(from.file, to);
    files++;
  };
  for (const [rel, f] of build.files) {
    const bytes = rel === 'index.html' ? new TextEncoder().encode(new TextDecoder().decode(f.bytes).replaceAll('%MODEL_URL%', modelBase)) : f.bytes;
    await put(rel, { bytes });
  }
  for (const [rel, f] of build.external) await put(rel, { file: f.file });
  await put(`${modelBase}${MODEL_WEB_INDEX}`, { bytes: new TextEncoder().encode(JSON.stringify(served.index)) });
  for (const [rel, f] of served.files) await put(`${modelBase}${rel}`, f);
  // Cloudflare's (and Netlify's) header rules: cross-origin isolation for WASM threads.
  await put('_headers', { bytes: new TextEncoder().encode(`/*\n${Object.entries(PAGE_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`) });
  return { files, skipped };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(PACKAGE_ROOT, 'scripts/build-web.ts')) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/web' }, model: { type: 'string' }, 'max-asset-mib': { type: 'string', default: '25' } } });
  const r = await writeStaticPage({ out: values.out!, model: values.model, maxAssetBytes: Number(values['max-asset-mib']) * 1024 * 1024 });
  console.log(`wrote ${r.files} files to ${values.out}`);
  for (const s of r.skipped) console.warn(`left out (over --max-asset-mib): ${s}`);
}
