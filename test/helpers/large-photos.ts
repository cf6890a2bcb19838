// Photo-sized test images and PIL's CLIP crop of each (test/fixtures/pil/large_photos.py), made once
// and shared by the tests that use them (test/core/image/parity-large.test.ts and
// test/web/decode-stream.test.ts): drawing and encoding them takes PIL tens of seconds.
// Kept in .cache/large-photos/<hash of the two scripts>/ (git-ignored), so an edit to either script
// makes them again; each case's files are written to a scratch folder and renamed into place, so
// two test files asking at once at worst both draw a case, and never read half of one.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './shared-data.ts';

export const PYTHON = '/usr/bin/python3';

/** One case of large_photos.py's index (its JSON on stdout), with `file` and `crop` made absolute. */
export interface LargePhoto {
  name: string;
  file: string;
  format: string;
  width: number;
  height: number;
  orientation: number;
  upright: [number, number];
  crop: string;
}

const SCRIPTS = ['large_photos.py', 'make_refs.py'].map((f) => path.join(repoRoot, 'test/fixtures/pil', f));

function cacheDir(): string {
  const h = createHash('sha256');
  for (const f of SCRIPTS) h.update(readFileSync(f));
  const base = path.join(repoRoot, '.cache/large-photos');
  const dir = path.join(base, h.digest('hex').slice(0, 16));
  // Photos of older script versions are never read again.
  if (existsSync(base)) for (const old of readdirSync(base)) if (path.join(base, old) !== dir) rmSync(path.join(base, old), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The named cases (large_photos.py's names), drawn by PIL where this checkout has not drawn them yet. */
export function largePhotos(names: readonly string[]): LargePhoto[] {
  const dir = cacheDir();
  const indexOf = (name: string) => path.join(dir, `${name}.json`);
  const missing = names.filter((n) => !existsSync(indexOf(n)));
  if (missing.length > 0) {
    const scratch = mkdtempSync(path.join(dir, '.drawing-'));
    try {
      const out = execFileSync(PYTHON, [SCRIPTS[0]!, scratch, ...missing], { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const c of JSON.parse(out) as LargePhoto[]) {
        renameSync(path.join(scratch, c.file), path.join(dir, c.file));
        renameSync(path.join(scratch, c.crop), path.join(dir, c.crop));
        // The index entry last: its presence says the case is whole.
        writeFileSync(path.join(scratch, 'index.json'), JSON.stringify(c));
        renameSync(path.join(scratch, 'index.json'), indexOf(c.name));
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return names.map((n) => {
    const c = JSON.parse(readFileSync(indexOf(n), 'utf8')) as LargePhoto;
    return { ...c, file: path.join(dir, c.file), crop: path.join(dir, c.crop) };
  });
}
