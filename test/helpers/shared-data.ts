import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/shared-data.ts). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `../shared/data` beside the repository (third-party CLIP test data: tokenizer files, ImageNet
 * and CIFAR samples), or null when this checkout has none. Tests use it as
 * `it.skipIf(!sharedData)` and say in the test name what is skipped.
 */
export function sharedDataDir(): string | null {
  const dir = path.resolve(repoRoot, '../shared/data');
  return existsSync(dir) ? dir : null;
}
