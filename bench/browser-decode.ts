// npm run bench:browser-decode [-- --cases jpeg-12mp,webp-12mp-exif6,...]
// Photo decode + CLIP crop in headless Chromium (Debian's), in a Web Worker as the page's inference
// worker does it, with the browser runtime's codecs before and after this change:
//   "whole":    mozjpeg and jsquash's libwebp, whole images (the browser default before);
//   "streamed": browserImageCodecs (libjpeg-turbo and libwebp row by row; the default now).
// PNG goes row by row through DecompressionStream on both (it needs no wasm).
// Photos: test/fixtures/pil/large_photos.py (python3-pil). Each measurement runs in a fresh browser;
// a small image of the same format is decoded first, so the wasm is fetched and compiled before.
// Figures: the decode's time in the worker; the decoders' wasm memory at its largest
// (codecMemoryPeakBytes: WebAssembly.Memory buffer sizes); the renderer process's peak RSS
// (/proc VmHWM, reset through clear_refs) minus its RSS just before the decode. Writes
// bench/results/browser-decode.md.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { buildWeb } from '../src/page-server/build.ts';
import { serveNode } from '../src/runtime/node/serve.ts';
import { CHROMIUM, chromiumAvailable, launchChromium } from '../test/helpers/chromium.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MiB = 1024 * 1024;
const { values: args } = parseArgs({ options: { cases: { type: 'string', default: 'jpeg-12mp,png-12mp-exif6,webp-12mp-exif6,jpeg-48mp-exif8,webp-48mp' } } });
const chromium = chromiumAvailable();
if (!chromium.ok) throw new Error(`Chromium is not available: ${chromium.reason}`);
const names = args.cases!.split(',');
const WARM: Record<string, string> = { jpeg: 'baseline-420.jpg', png: 'rgb8.png', webp: 'lossy.webp' };

/** Pids of Chromium renderer processes started by this process (browser → zygote → renderer). */
function rendererPids(): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...parent.keys()].filter((pid) => {
    if (!ours(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer');
    } catch {
      return false;
    }
  });
}
const statusKiB = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

async function workerSource(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    stdin: {
      contents: `
        import { createImageDecoder } from './src/core/image/decoder.ts';
        import { CLIP_PREPROCESS } from './src/core/image/preprocess.ts';
        import { browserImageCodecs } from './src/runtime/browser/codecs.ts';
        const compile = (url) => async () => WebAssembly.compile(await (await fetch(url)).arrayBuffer());
        let decoder;
        self.onmessage = async ({ data }) => {
          try {
            decoder ??= createImageDecoder({
              wasm: data.way === 'streamed' ? browserImageCodecs(data.codecBaseUrl) : { jpeg: compile(data.mozjpegUrl), webp: compile(new URL('webp_dec.wasm', data.codecBaseUrl).href) },
              maxPixels: 50_000_000,
            });
            decoder.codecMemoryPeakBytes();
            const t0 = performance.now();
            const r = await decoder.decodeForClip(new Uint8Array(data.bytes), CLIP_PREPROCESS);
            self.postMessage({ ms: performance.now() - t0, decode: r.decode, wasmBytes: decoder.codecMemoryPeakBytes() });
          } catch (e) {
            self.postMessage({ error: String(e) });
          }
        };`,
      resolveDir: ROOT,
      sourcefile: 'bench-decode-worker.ts',
      loader: 'ts',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
  });
  return out.outputFiles[0]!.text;
}

interface Figures {
  ms: number;
  wasmMiB: number;
  rssMiB: number;
}

/** One decode of `file` the `way` given, in a fresh browser; the worker has decoded a small image of the same format first. */
async function measure(hostUrl: string, source: string, dir: string, file: string, way: string): Promise<Figures> {
  const browser = await launchChromium();
  try {
    const page: Page = await browser.newPage();
    await page.route('**/__bench/*', (route) => {
      const name = path.basename(new URL(route.request().url()).pathname);
      // A worker at a real URL: Emscripten's glue (mozjpeg) resolves URLs against import.meta.url, which a blob: URL cannot be.
      if (name === 'decode-worker.js') return route.fulfill({ body: source, headers: { 'content-type': 'text/javascript' } });
      const from = name === 'mozjpeg_dec.wasm' ? path.join(ROOT, 'node_modules/@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm') : name.startsWith('warm-') ? path.join(ROOT, 'test/fixtures/pil/inputs', name.slice(5)) : path.join(dir, name);
      return route.fulfill({ path: from, headers: { 'content-type': 'application/octet-stream' } });
    });
    await page.goto(`${hostUrl}/healthz`);
    const ext = path.extname(file).slice(1);
    // The file is fetched into the page first, then moved to the worker: the RSS figure is the decode's.
    const load = (name: string) =>
      page.evaluate(async (name) => {
        const g = globalThis as unknown as { worker?: Worker; bytes?: ArrayBuffer };
        g.worker ??= new Worker('/__bench/decode-worker.js', { type: 'module' });
        g.bytes = await (await fetch(`/__bench/${name}`)).arrayBuffer();
      }, name);
    const decode = () =>
      page.evaluate(
        async (way) => {
          const g = globalThis as unknown as { worker: Worker; bytes?: ArrayBuffer };
          const bytes = g.bytes!;
          delete g.bytes;
          return new Promise<{ ms: number; wasmBytes: number; decode: string } | { error: string }>((resolve) => {
            g.worker.onmessage = (ev) => resolve(ev.data as { ms: number; wasmBytes: number; decode: string });
            g.worker.postMessage({ bytes, way, codecBaseUrl: new URL('/codecs/', location.href).href, mozjpegUrl: new URL('/__bench/mozjpeg_dec.wasm', location.href).href }, [bytes]);
          });
        },
        way,
      );
    const run = async (name: string) => {
      await load(name);
      return decode();
    };
    const warm = await run(`warm-${WARM[ext === 'jpeg' ? 'jpeg' : ext]!}`);
    if ('error' in warm) throw new Error(warm.error);
    await load(file);
    const pids = rendererPids();
    const before = new Map(pids.map((p) => [p, statusKiB(p, 'VmRSS')]));
    for (const p of pids) writeFileSync(`/proc/${p}/clear_refs`, '5'); // resets VmHWM to the current RSS
    const r = await decode();
    if ('error' in r) throw new Error(`${file} ${way}: ${r.error}`);
    const rss = Math.max(0, ...pids.map((p) => statusKiB(p, 'VmHWM') - before.get(p)!)) / 1024;
    return { ms: r.ms, wasmMiB: r.wasmBytes / MiB, rssMiB: rss };
  } finally {
    await browser.close();
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-browser-decode-'));
try {
  process.stderr.write(`making ${names.join(', ')} with PIL…\n`);
  const index = JSON.parse(execFileSync('/usr/bin/python3', [path.join(ROOT, 'test/fixtures/pil/large_photos.py'), dir, ...names], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as {
    name: string;
    file: string;
    width: number;
    height: number;
    bytes: number;
  }[];
  // The page's server: /codecs/ as the page gets them (its request log goes to stdout; figures to stderr).
  const host = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', text: false }, { pageBuild: await buildWeb() });
  const source = await workerSource();
  const rows: string[] = [];
  try {
    for (const c of index) {
      const f: Record<string, Figures> = {};
      for (const way of ['whole', 'streamed']) {
        f[way] = await measure(host.url, source, dir, c.file, way);
        process.stderr.write(`${c.name} ${way}: ${f[way]!.ms.toFixed(0)} ms, wasm ${f[way]!.wasmMiB.toFixed(1)} MiB, renderer +${f[way]!.rssMiB.toFixed(1)} MiB\n`);
      }
      const [w, s] = [f.whole!, f.streamed!];
      // jsquash's WebP does not expose its heap (HEAPU8), so its wasm memory is not known: n/a.
      const wasm = (x: Figures, way: string) => (x.wasmMiB === 0 && way === 'whole' && c.name.startsWith('webp') ? 'n/a' : `${x.wasmMiB.toFixed(1)} MiB`);
      const cell = (x: Figures, way: string) => `${x.ms.toFixed(0)} ms, wasm ${wasm(x, way)}, RSS +${x.rssMiB.toFixed(1)} MiB`;
      const mp = ((c.width * c.height) / 1e6).toFixed(0);
      rows.push(`| ${c.name} (${mp} MP, ${(c.bytes / 1e6).toFixed(1)} MB) | ${cell(w, 'whole')} | ${cell(s, 'streamed')} | ${(s.ms / w.ms).toFixed(2)}× | ${(s.rssMiB / Math.max(0.1, w.rssMiB)).toFixed(3)}× |`);
    }
  } finally {
    await host.close();
  }
  const version = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const md = [
    '# Photo decode + CLIP crop in Chromium: whole image vs streamed (the page\'s worker)',
    '',
    `\`npm run bench:browser-decode\`, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${version} headless; one run each, each in a fresh browser; 1-minute load average ${os.loadavg()[0]!.toFixed(1)} at the end (times under load: the ratios and memory are the figures to trust).`,
    'Photos from `test/fixtures/pil/large_photos.py` (gradients, shapes and grain; baseline 4:2:0 JPEG q90, PNG level 1, lossy WebP q80). In a module Web Worker: `decodeForClip` to the 224 × 224 crop. "whole": mozjpeg and jsquash\'s libwebp (the browser runtime before); "streamed": `browserImageCodecs` (libjpeg-turbo and libwebp row by row, the default now). PNG is streamed through DecompressionStream in both. wasm: the decoders\' WebAssembly.Memory at its largest (`codecMemoryPeakBytes`); RSS: the renderer process\'s peak RSS (VmHWM) minus its RSS before the decode (the file already fetched into the page, then moved to the worker).',
    '',
    '| photo | whole | streamed | streamed / whole time | streamed / whole RSS |',
    '| --- | --- | --- | ---: | ---: |',
    ...rows,
    '',
  ];
  writeFileSync(path.join(ROOT, 'bench/results/browser-decode.md'), md.join('\n'));
  process.stderr.write('wrote bench/results/browser-decode.md\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
