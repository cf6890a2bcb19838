import path from 'node:path';
import { defineCommand } from 'citty';
import { ClipEdgeError } from '../core/errors.ts';
import { isPrecision, type Precision, type Tower } from '../core/precision.ts';
import { removeInFlight } from '../../quantize/onnx/io.ts';
import { nodeImageCodecs } from '../runtime/fs/codecs.ts';
import { fsModelSource } from '../runtime/fs/model-source.ts';
import { quantizeModelFolder } from '../../quantize/folder.ts';
import { isQuantVariant, QUANT_VARIANTS, type QuantVariant } from '../../quantize/pipeline.ts';
import { verificationTable } from '../../quantize/report.ts';
import { parseGates } from '../../quantize/verify/gates.ts';
import { fail, guard, parseIntArg } from './common.ts';

const list = (s: string | undefined) => s?.split(',').map((x) => x.trim()).filter(Boolean);

/** `clip-edge quantize <model-dir> --variants fp16,int8[,q4]`: see quantize/ and docs/quantization.md. */
export const quantize = defineCommand({
  meta: { name: 'quantize', description: 'Write fp16/int8/q4 variants of a model folder, each verified against fp32' },
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
    'dynamic-text': { type: 'boolean', description: 'Give text variants a dynamic sequence axis: prompts run at their real length (exact; ~3-8x faster)' },
    'max-images': { type: 'string', description: 'Verification images (default: all; 32 for towers over 50 MB)' },
    'max-templates': { type: 'string', description: 'Templates per class (default: all; 1 for towers over 50 MB)' },
    'latency-runs': { type: 'string', description: 'Timed batch-1 runs per model (default 20; 5 for towers over 50 MB)' },
    // `--no-shared-data` is citty's negation of this flag (see `serve --no-text`).
    'shared-data': { type: 'boolean', default: true, description: 'Add ../shared/data images to the verification set when present', negativeDescription: 'Leave ../shared/data images out of the verification set' },
  },
  run: ({ args }) =>
    guard(async () => {
      const ort = list(args.ort) ?? [];
      if (ort.some((v) => !isPrecision(v))) fail('--ort takes variant names such as int8, q8, q4');
      // With --ort alone (existing variants converted), --variants '' makes nothing new.
      const variants = list(args.variants) ?? [];
      if ((!variants.length && !ort.length) || variants.some((v) => !isQuantVariant(v))) fail(`--variants takes ${QUANT_VARIANTS.join(', ')}`);
      const towers = list(args.towers);
      if (towers?.some((t) => t !== 'vision' && t !== 'text')) fail('--towers takes vision and/or text');
      if (args.conv !== 'int8' && args.conv !== 'fp32') fail('--conv takes int8 or fp32');
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
            int8: { conv: args.conv, ...(exclude ? { matmul: { exclude }, convSelection: { exclude }, gather: { exclude } } : {}) },
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
