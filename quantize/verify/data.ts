import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { clipPreprocess } from '../../src/core/image/preprocess.ts';
import type { PreprocessConfig } from '../../src/core/model/info.ts';
import type { ImageCodecWasm } from '../../src/core/image/wasm-codec.ts';

/** The repository root (this file is quantize/verify/data.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A zero-shot task: classes × templates, and the images labelled with one of the classes. */
export interface ClassSet {
  name: string;
  classes: string[];
  templates: string[];
}

export interface VerifyImage {
  /** Path relative to its source folder, for messages. */
  id: string;
  source: string;
  pixels: Float32Array;
  /** The class set this image is labelled in, and its class index there. */
  classSet?: string;
  label?: number;
}

export interface VerifyData {
  images: VerifyImage[];
  classSets: ClassSet[];
  /** Where the data came from, for the report. */
  sources: string[];
}

export interface VerifyDataOptions {
  /** Keep at most this many images, spread evenly over every source. @defaultValue all */
  maxImages?: number;
  /** Templates per class set (the first ones). @defaultValue all */
  maxTemplates?: number;
  /** `../shared/data` (third-party CLIP test images); null skips it. @defaultValue beside the repository, when present */
  sharedDataDir?: string | null;
  /** The image codecs' WebAssembly, as the runtime provides it (Node: nodeImageCodecs()). */
  imageCodecs: ImageCodecWasm;
}

interface ImageRef {
  id: string;
  source: string;
  file: string;
  classSet?: string;
  label?: number;
}

/** Every n-th item so that `max` remain, first and last included. */
export function spread<T>(items: readonly T[], max: number | undefined): T[] {
  if (max === undefined || items.length <= max) return [...items];
  if (max <= 0) return [];
  if (max === 1) return [items[0]!];
  return Array.from({ length: max }, (_, i) => items[Math.round((i * (items.length - 1)) / (max - 1))]!);
}

const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T;

/**
 * The verification set: the bundled model's eval set (test/fixtures/tiny-clip-eval, labelled),
 * CLIP.png, and — when ../shared/data is there — the CIFAR-10 sample (labelled, with CIFAR-10's
 * prompts) and the ImageNet sample (for embedding cosine only: 1000 classes × 80 templates is
 * more text than a check should encode). Decoded and preprocessed with the kit's own pipeline.
 */
export async function loadVerifyData(preprocess: PreprocessConfig, options: VerifyDataOptions): Promise<VerifyData> {
  const refs: ImageRef[] = [];
  const classSets: ClassSet[] = [];
  const sources: string[] = [];
  const cut = (templates: string[]) => templates.slice(0, options.maxTemplates ?? templates.length);

  const evalDir = path.join(REPO_ROOT, 'test/fixtures/tiny-clip-eval');
  if (existsSync(path.join(evalDir, 'labels.json'))) {
    const evalSet = await readJson<{ labels: string[]; templates: string[]; images: { file: string; label: string }[] }>(path.join(evalDir, 'labels.json'));
    classSets.push({ name: 'tiny-clip-eval', classes: evalSet.labels, templates: cut(evalSet.templates) });
    for (const img of evalSet.images) {
      refs.push({ id: img.file, source: 'tiny-clip-eval', file: path.join(evalDir, img.file), classSet: 'tiny-clip-eval', label: evalSet.labels.indexOf(img.label) });
    }
    sources.push(`test/fixtures/tiny-clip-eval (${evalSet.images.length} images, ${evalSet.labels.length} classes)`);
  }
  const clipPng = path.join(REPO_ROOT, 'test/fixtures/images/CLIP.png');
  if (existsSync(clipPng)) {
    refs.push({ id: 'CLIP.png', source: 'clip', file: clipPng });
    sources.push('test/fixtures/images/CLIP.png');
  }
  const shared = options.sharedDataDir === undefined ? path.resolve(REPO_ROOT, '../shared/data') : options.sharedDataDir;
  const manifestFile = shared ? path.join(shared, 'images/manifest.json') : '';
  if (shared && existsSync(manifestFile)) {
    const cifar = await readJson<ClassSet & { classes: string[]; templates: string[] }>(path.join(REPO_ROOT, 'third_party/zero-shot-prompts/cifar10.json'));
    classSets.push({ name: 'cifar10', classes: cifar.classes, templates: cut(cifar.templates) });
    const m = await readJson<{ images: { file: string; set: string; label: string }[] }>(manifestFile);
    for (const img of m.images) {
      if (img.set === 'openai-clip') continue; // the same CLIP.png as the fixture
      const labelled = img.set === 'cifar10' ? cifar.classes.indexOf(img.label) : -1;
      refs.push({
        id: img.file,
        source: img.set,
        file: path.join(shared, 'images', img.file),
        ...(labelled >= 0 ? { classSet: 'cifar10', label: labelled } : {}),
      });
    }
    sources.push(`../shared/data/images (${m.images.length - 1} images: CIFAR-10 labelled, ImageNet for cosine)`);
  }

  // Spread the budget over the sources so that each is represented.
  const bySource = new Map<string, ImageRef[]>();
  for (const r of refs) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  let chosen = refs;
  if (options.maxImages !== undefined && refs.length > options.maxImages) {
    // Round-robin quotas: every source gets a share, a small source's leftover goes to the others.
    const lists = [...bySource.values()];
    const quota = lists.map(() => 0);
    for (let left = options.maxImages, gave = true; left > 0 && gave; ) {
      gave = false;
      lists.forEach((list, i) => {
        if (left > 0 && quota[i]! < list.length) {
          quota[i]!++;
          left--;
          gave = true;
        }
      });
    }
    chosen = lists.flatMap((list, i) => spread(list, quota[i]));
  }
  const decoder = createImageDecoder({ wasm: options.imageCodecs });
  const images: VerifyImage[] = [];
  for (const r of chosen) {
    const img = await decoder.decode(new Uint8Array(await readFile(r.file)));
    images.push({
      id: r.id,
      source: r.source,
      pixels: clipPreprocess(img, preprocess),
      ...(r.classSet !== undefined && r.label !== undefined && r.label >= 0 ? { classSet: r.classSet, label: r.label } : {}),
    });
  }
  return { images, classSets, sources };
}

/** Every prompt of the class sets, in order, and for each set the prompt indices of each class. */
export function promptsOf(sets: readonly ClassSet[]): { texts: string[]; groups: Map<string, number[][]> } {
  const texts: string[] = [];
  const groups = new Map<string, number[][]>();
  for (const set of sets) {
    groups.set(
      set.name,
      set.classes.map((c) =>
        set.templates.map((t) => {
          texts.push(t.replaceAll('{}', c));
          return texts.length - 1;
        }),
      ),
    );
  }
  return { texts, groups };
}
