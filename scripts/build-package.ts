// npm run build (and `npm pack`, through prepack): the published package's dist/.
//   dist/src/**, dist/quantize/** — JavaScript and .d.ts emitted file by file by tsc
//     (tsconfig.build.json), .ts imports rewritten to .js, so every path relative to
//     import.meta.url (model folder, wasm files, label sets) stays valid;
//   dist/src/core/image/libjpeg-turbo.wasm — the JPEG decoder built by codecs/libjpeg-turbo/build.sh;
//   dist/src/web-page/ — the mobile-web page, built once here with esbuild, so an installed
//     package serves it without esbuild (a build tool, kept in devDependencies).
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb, writeWebBuild } from '../src/page-server/build.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');

rmSync(DIST, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: tsc failed');
  process.exit(1);
}
// The codec wasm this package builds (codecs/libjpeg-turbo) sits beside the image core, where the
// runtime adapters find it relative to their own modules, in src/ and in dist/src/ alike.
for (const wasm of ['libjpeg-turbo.wasm', 'libwebp.wasm']) copyFileSync(path.join(ROOT, 'src/core/image', wasm), path.join(DIST, 'src/core/image', wasm));
// From src/ (no prebuilt page there) this builds with esbuild; dist/src/web-page/ is where
// page-server/build.ts's PREBUILT_WEB_DIR points once emitted to dist/src/page-server/.
const page = await buildWeb();
await writeWebBuild(page, path.join(DIST, 'src', 'web-page'));
console.error(`build: dist/ written (page JS ${(page.jsBytes.raw / 1024).toFixed(1)} KiB)`);
