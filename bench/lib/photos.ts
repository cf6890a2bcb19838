import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './case.ts';

export interface PhotoSet {
  /** Where the photos came from, for the report. */
  source: string;
  files: string[];
}

/**
 * Real photos when the checkout has ../shared/data (ImageNet validation samples, ~500×375 JPEG);
 * otherwise the repository's own fixtures (the tiny-clip eval JPEGs and CLIP.png), so that the
 * bench runs in a plain clone too. Every peer gets the same files.
 */
export function benchPhotos(count: number): PhotoSet {
  const shared = path.resolve(ROOT, '../shared/data/images/imagenet-sample-every10th');
  if (existsSync(shared)) {
    const files = readdirSync(shared).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, count);
    return { source: 'ImageNet validation samples (../shared/data/images/imagenet-sample-every10th)', files: files.map((f) => path.join(shared, f)) };
  }
  const evalDir = path.join(ROOT, 'test/fixtures/tiny-clip-eval/images');
  const files = [path.join(ROOT, 'test/fixtures/images/CLIP.png'), ...readdirSync(evalDir).sort().filter((_, i) => i % 7 === 0).map((f) => path.join(evalDir, f))].slice(0, count);
  return { source: 'repository fixtures (CLIP.png and tiny-clip-eval JPEGs; ../shared/data absent)', files };
}

export const readPhotos = (files: readonly string[]): Uint8Array[] => files.map((f) => new Uint8Array(readFileSync(f)));

/** The first `k` ImageNet class names (openai/CLIP's list), as inline labels. */
export function imagenetLabels(k: number): string[] {
  const { classes } = JSON.parse(readFileSync(path.join(ROOT, 'third_party/zero-shot-prompts/imagenet.json'), 'utf8')) as { classes: (string | string[])[] };
  const names = classes.map((c) => (Array.isArray(c) ? c[0]! : c));
  if (k > names.length) throw new Error(`only ${names.length} ImageNet classes`);
  return names.slice(0, k);
}

/** One prompt template for every peer (transformers.js' pipeline takes one). */
export const TEMPLATE = 'a photo of a {}.';
