import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Makes PIL's reference pixels for the ImageNet/CIFAR sample photos in ../shared/data (which the
 * repository must not ship) when they are missing and Debian's python3-pil is there. Without
 * either, the parity-shared tests skip and say why.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const shared = path.resolve(root, '../shared/data/images');
  const refs = path.join(root, '.cache/pil-refs/index.json');
  if (!existsSync(shared)) {
    // A user's clone has no ../shared; CI always has it, so there its absence is an error.
    if (process.env.CI) throw new Error(`CI needs ../shared/data beside the repository (looked in ${shared})`);
    return;
  }
  if (existsSync(refs)) return;
  const hasPil = spawnSync('/usr/bin/python3', ['-c', 'import PIL, numpy'], { stdio: 'ignore' }).status === 0;
  if (!hasPil) {
    if (process.env.CI) throw new Error('CI needs Debian python3-pil and python3-numpy for the PIL parity refs (.ci/run installs them)');
    return;
  }
  const t0 = Date.now();
  const r = spawnSync('/usr/bin/python3', ['test/fixtures/pil/make_refs.py', '--shared'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make_refs.py --shared failed:\n${r.stderr}`);
  console.log(`made PIL reference pixels for ../shared/data/images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
