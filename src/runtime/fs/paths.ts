import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The package's root folder (where models/ and third_party/ live): the nearest folder above this
 * file with a package.json — the clone's root for src/, the installed package's for dist/src/.
 */
export const PACKAGE_ROOT = packageRoot(path.dirname(fileURLToPath(import.meta.url)));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`clip-edge: no package.json above ${from}`);
  }
}

/** The bundled default model: models/tiny-clip. */
export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'tiny-clip');

/** openai/CLIP's class lists and templates (CIFAR-10, ImageNet, Food-101, …), shipped as built-in label sets. */
export const BUILTIN_LABEL_SETS_DIR = path.join(PACKAGE_ROOT, 'third_party', 'zero-shot-prompts');
