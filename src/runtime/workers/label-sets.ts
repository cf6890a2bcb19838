import { chainLabelSets, type LabelSet, type LabelSetProvider, parseLabelSet, readWithSubset, sourceLabelSets as coreSourceLabelSets, withSubsetName } from '../../core/label-sets.ts';
import type { ModelSource } from '../../core/model/source.ts';
import type { WorkersEnv } from './bindings.ts';
import type { WorkersConfig } from './config.ts';
import birdsnap from '../../../third_party/zero-shot-prompts/birdsnap.json';
import caltech101 from '../../../third_party/zero-shot-prompts/caltech101.json';
import cifar10 from '../../../third_party/zero-shot-prompts/cifar10.json';
import cifar100 from '../../../third_party/zero-shot-prompts/cifar100.json';
import clevrcounts from '../../../third_party/zero-shot-prompts/clevrcounts.json';
import country211 from '../../../third_party/zero-shot-prompts/country211.json';
import describabletextures from '../../../third_party/zero-shot-prompts/describabletextures.json';
import eurosat from '../../../third_party/zero-shot-prompts/eurosat.json';
import facialemotionrecognition2013 from '../../../third_party/zero-shot-prompts/facialemotionrecognition2013.json';
import fgvcaircraft from '../../../third_party/zero-shot-prompts/fgvcaircraft.json';
import flowers102 from '../../../third_party/zero-shot-prompts/flowers102.json';
import food101 from '../../../third_party/zero-shot-prompts/food101.json';
import gtsrb from '../../../third_party/zero-shot-prompts/gtsrb.json';
import hatefulmemes from '../../../third_party/zero-shot-prompts/hatefulmemes.json';
import imagenet from '../../../third_party/zero-shot-prompts/imagenet.json';
import kinetics700 from '../../../third_party/zero-shot-prompts/kinetics700.json';
import kitti from '../../../third_party/zero-shot-prompts/kitti.json';
import mnist from '../../../third_party/zero-shot-prompts/mnist.json';
import oxfordpets from '../../../third_party/zero-shot-prompts/oxfordpets.json';
import pascalvoc2007 from '../../../third_party/zero-shot-prompts/pascalvoc2007.json';
import patchcamelyon from '../../../third_party/zero-shot-prompts/patchcamelyon.json';
import resisc45 from '../../../third_party/zero-shot-prompts/resisc45.json';
import sst2 from '../../../third_party/zero-shot-prompts/sst2.json';
import stanfordcars from '../../../third_party/zero-shot-prompts/stanfordcars.json';
import stl10 from '../../../third_party/zero-shot-prompts/stl10.json';
import sun397 from '../../../third_party/zero-shot-prompts/sun397.json';
import ucf101 from '../../../third_party/zero-shot-prompts/ucf101.json';

/** openai/CLIP's class lists and templates (third_party/zero-shot-prompts), bundled into the Worker (~160 KB). */
const BUILTIN: Readonly<Record<string, unknown>> = Object.freeze({
  birdsnap,
  caltech101,
  cifar10,
  cifar100,
  clevrcounts,
  country211,
  describabletextures,
  eurosat,
  facialemotionrecognition2013,
  fgvcaircraft,
  flowers102,
  food101,
  gtsrb,
  hatefulmemes,
  imagenet,
  kinetics700,
  kitti,
  mnist,
  oxfordpets,
  pascalvoc2007,
  patchcamelyon,
  resisc45,
  sst2,
  stanfordcars,
  stl10,
  sun397,
  ucf101,
});

/** The built-in label sets (`cifar10`, `imagenet`, `imagenet-7`, `food101`, …), parsed on first use. */
export function builtinLabelSets(): LabelSetProvider {
  const parsed = new Map<string, LabelSet>();
  const names = Object.keys(BUILTIN).flatMap((n) => withSubsetName(n, BUILTIN[n] as Record<string, unknown>));
  return {
    list: async () => [...names].sort(),
    async get(name) {
      const hit = parsed.get(name);
      if (hit) return hit;
      const json = await readWithSubset(async (n) => (Object.hasOwn(BUILTIN, n) ? (BUILTIN[n] as Record<string, unknown>) : undefined), name);
      if (json === undefined) return undefined;
      const set = parseLabelSet(json, name, { allowDuplicates: true });
      parsed.set(name, set);
      return set;
    },
  };
}

/** The model folder's own label sets, read through its ModelSource (R2 lists them; assets give a fixed list). */
export function sourceLabelSets(source: ModelSource, list?: () => Promise<string[]>): LabelSetProvider {
  return coreSourceLabelSets(source, list, { sort: true });
}

/** The model folder's label sets in R2 (listed under `<model>/label-sets/`), then openai/CLIP's built-in lists. */
export function labelSetsOf(env: WorkersEnv, cfg: WorkersConfig, source: ModelSource): LabelSetProvider {
  const bucket = cfg.modelSource === 'r2' ? env.MODELS : undefined;
  const prefix = `${cfg.model}/label-sets/`;
  const list = async () => {
    if (!bucket) return [];
    const r = await bucket.list({ prefix });
    return r.objects.map((o) => o.key.slice(prefix.length)).filter((k) => k.endsWith('.json')).map((k) => k.slice(0, -5));
  };
  return chainLabelSets(sourceLabelSets(source, list), builtinLabelSets());
}
