import path from 'node:path';
import { defineCommand } from 'citty';
import { ClipEdgeError } from '../core/errors.ts';
import { isPrecision, type Precision, PRECISIONS, type Tower } from '../core/precision.ts';
import { removeInFlight } from '../../quantize/onnx/io.ts';
import { nodeImageCodecs } from '../runtime/fs/codecs.ts';
import { fsModelSource } from '../runtime/fs/model-source.ts';
import { quantizeModelFolder } from '../../quantize/folder.ts';
import { splitVisionTower } from '../../quantize/split/folder.ts';
import { isQuantVariant, QUANT_VARIANTS, type QuantVariant } from '../../quantize/pipeline.ts';
import { ACTIVATION_MODES, type ActivationMode } from '../../quantize/quant/per-image.ts';
import { verificationTable } from '../../quantize/report.ts';
import { parseGates } from '../../quantize/verify/gates.ts';
import { fail, guard, parseIntArg } from './common.ts';

const list = (s: string | undefined) => s?.split(',').map((x) => x.trim()).filter(Boolean);

/** `clip-edge quantize <model-dir> --variants fp16,int8[,q4]`: see quantize/ and docs/quantization.md. */
export const quantize = defineCommand({
  meta: { name: 'quantize', description: `Write ${QUANT_VARIANTS.join('/')} variants of a model folder, each verified against fp32` },
  args: {
    dir: { type: 'positional', description: 'Model folder (with onnx/vision_model.onnx, onnx/text_model.onnx)', required: true },
    variants: { type: 'string', description: `Comma-separated: ${QUANT_VARIANTS.join(', ')}`, default: 'fp16,int8' },
    towers: { type: 'string', description: 'vision,text (default: both)' },
    ort: { type: 'string', description: 'Variants also written in ORT format (…_int8.ort), weights used in place on Workers, e.g. int8 (needs onnxruntime-node)' },
    force: { type: 'boolean', description: 'Write variants that miss their gate (with a warning)' },
    verify: { type: 'boolean', description: 'Print the verification table (verification always runs)' },
    gates: { type: 'string', description: 'Gate overrides, e.g. int8.cosineMin=0.95,fp16.cosineMean=0.999 (0 turns one off)' },
    'fp16-keep': { type: 'string', description: 'Operators kept in fp32 (replaces the default list: LayerNormalization, Softmax, ...)' },
    exclude: { type: 'string', description: 'Node names (or * patterns) left in fp32 by int8/q4' },
    conv: { type: 'string', description: 'Patch-embedding Conv in int8: int8 (ConvInteger, uint8 weights) | fp32', default: 'int8' },
    activations: { type: 'string', description: 'int8 activation ranges: auto (per image in a CNN, per batch otherwise) | per-image (per image / per token: an embedding independent of its batch-mates) | per-batch', default: 'auto' },
    'dynamic-text': { type: 'boolean', description: 'Give text variants a dynamic sequence axis: prompts run at their real length (exact; ~3-8x faster)' },
    'max-images': { type: 'string', description: 'Verification images (default: all; 32 for towers over 50 MB)' },
    'max-templates': { type: 'string', description: 'Templates per class (default: all; 1 for towers over 50 MB)' },
    'latency-runs': { type: 'string', description: 'Timed batch-1 runs per model (default 20; 5 for towers over 50 MB)' },
    split: { type: 'string', description: 'Cut this variant\'s vision tower (e.g. int8) into consecutive parts at block boundaries, one Worker each (.onnx + .ort per part, recorded in manifest.json); nothing else is made' },
    parts: { type: 'string', description: 'With --split: number of parts (default: the fewest that fit --part-budget-mb)' },
    'part-budget-mb': { type: 'string', description: 'With --split: MiB one part\'s Worker may use, weights + ORT + JS heap + activations (default 116, under 128 MB)' },
    'activation-mb': { type: 'string', description: 'With --split: MiB of activations allowed per part within the budget (default 16)' },
    'cut-at': { type: 'string', description: 'With --split: tensors to cut at first, comma-separated (e.g. inside a CNN\'s stem, whose activations outweigh its weights); the rest is split by weight' },
    // `--no-shared-data` is citty's negation of this flag (see `serve --no-text`).
    'shared-data': { type: 'boolean', default: true, description: 'Add ../shared/data images to the verification set when present', negativeDescription: 'Leave ../shared/data images out of the verification set' },
  },
  run: ({ args }) =>
    guard(async () => {
      if (args.split) return splitCommand(args);
      const ort = list(args.ort) ?? [];
      if (ort.some((v) => !isPrecision(v))) fail(`--ort takes variant names: ${PRECISIONS.join(', ')}`);
      // With --ort alone (existing variants converted), --variants '' makes nothing new.
      const variants = list(args.variants) ?? [];
      if ((!variants.length && !ort.length) || variants.some((v) => !isQuantVariant(v))) fail(`--variants takes ${QUANT_VARIANTS.join(', ')}`);
      const towers = list(args.towers);
      if (towers?.some((t) => t !== 'vision' && t !== 'text')) fail('--towers takes vision and/or text');
      if (args.conv !== 'int8' && args.conv !== 'fp32') fail('--conv takes int8 or fp32');
      if (!ACTIVATION_MODES.includes(args.activations as ActivationMode)) fail(`--activations takes ${ACTIVATION_MODES.join(', ')}`);
      const exclude = list(args.exclude);
      const keep = list(args['fp16-keep']);
      const onSignal = () => void removeInFlight().then(() => process.exit(130));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const t0 = performance.now();
      try {
        const result = await quantizeModelFolder(args.dir, {
          io: { source: fsModelSource(args.dir), imageCodecs: nodeImageCodecs() },
          variants: [...new Set(variants)] as QuantVariant[],
          ...(ort.length ? { ort: [...new Set(ort)] as Precision[] } : {}),
          ...(towers ? { towers: [...new Set(towers)] as Tower[] } : {}),
          force: !!args.force,
          gates: parseGates(args.gates),
          passes: {
            ...(keep ? { fp16: { keepOps: keep } } : {}),
            int8: { conv: args.conv, ...(args.activations !== 'auto' ? { activations: args.activations as ActivationMode } : {}), ...(exclude ? { matmul: { exclude }, convSelection: { exclude }, gather: { exclude } } : {}) },
            ...(exclude ? { q4: { exclude } } : {}),
            ...(args['dynamic-text'] ? { dynamicText: true } : {}),
          },
          budget: {
            maxImages: parseIntArg('max-images', args['max-images']),
            maxTemplates: parseIntArg('max-templates', args['max-templates']),
            latencyRuns: parseIntArg('latency-runs', args['latency-runs']),
          },
          ...(args['shared-data'] === false ? { sharedDataDir: null } : {}),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        if (args.verify) process.stdout.write(`${verificationTable(result.reports)}\n`);
        for (const r of [...result.reports, ...result.ortReports]) if (r.written) process.stderr.write(`wrote ${path.join(args.dir, r.file)} (${r.bytes} bytes)\n`);
        process.stderr.write(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        if (result.failures.length) {
          if (args.force) process.stderr.write(`warning: written despite failed gates (--force):\n  ${result.failures.join('\n  ')}\n`);
          else throw new ClipEdgeError('MODEL_INVALID', `not written, gate failed:\n  ${result.failures.join('\n  ')}\n(--force writes it anyway; --gates changes a threshold)`);
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
});

/** `clip-edge quantize <dir> --split int8 [--parts N | --part-budget-mb MiB]`: see quantize/split/ and docs/workers.md. */
async function splitCommand(args: { dir: string; split?: string; parts?: string; 'part-budget-mb'?: string; 'activation-mb'?: string; 'cut-at'?: string; force?: boolean }): Promise<void> {
  const variant = args.split!;
  if (!isPrecision(variant)) fail('--split takes a variant name such as int8');
  const budget = args['part-budget-mb'] === undefined ? undefined : Number(args['part-budget-mb']);
  if (budget !== undefined && !(budget > 0 && budget <= 4096)) fail('--part-budget-mb takes a number of MiB in (0, 4096]');
  const activation = args['activation-mb'] === undefined ? undefined : Number(args['activation-mb']);
  if (activation !== undefined && !(activation >= 0 && activation <= 1024)) fail('--activation-mb takes a number of MiB in [0, 1024]');
  const parts = parseIntArg('parts', args.parts, 2);
  const onSignal = () => void removeInFlight().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await splitVisionTower(args.dir, {
      variant,
      ...(parts !== undefined ? { parts } : {}),
      ...(budget !== undefined ? { budgetMiB: budget } : {}),
      ...(activation !== undefined ? { activationMiB: activation } : {}),
      ...(args['cut-at'] ? { cutAt: list(args['cut-at']) } : {}),
      io: { source: fsModelSource(args.dir) },
      force: !!args.force,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    for (const p of r.parts) process.stderr.write(`wrote ${path.join(args.dir, p.file)} and ${path.basename(p.ort.file)} (${p.ort.bytes} bytes)\n`);
    process.stdout.write(`${JSON.stringify({ variant: r.variant, parts: r.parts.length, largestPartMiB: Number(r.largestPartMiB.toFixed(1)), check: r.check })}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
