import { ClipEdgeError } from '../src/core/errors.ts';
import { type Precision, PRECISION_TABLE, QUANTIZED_PRECISIONS, type Tower } from '../src/core/precision.ts';
import { TOWER_IO } from '../src/core/tower.ts';
import { checkGraph } from './graph/check.ts';
import { Graph, declaredType } from './graph/graph.ts';
import { DT, dtName, type ModelProto } from './onnx/model.ts';
import { dynamicSequencePass } from './passes/dynamic-sequence.ts';
import { fp16Pass, type Fp16Options } from './passes/fp16.ts';
import { int8ConvPass } from './passes/int8-conv.ts';
import { fuseResidualPass } from './passes/fuse-residual.ts';
import { int8GatherPass } from './passes/int8-gather.ts';
import { int8MatMulPass } from './passes/int8-matmul.ts';
import type { Pass, PassContext, PassReport } from './passes/pass.ts';
import { q4MatMulPass, type Q4Options } from './passes/q4-matmul.ts';
import type { ActivationMode } from './quant/per-image.ts';
import type { WeightSelection } from './quant/select.ts';

/** The variants this toolchain writes: the rows of the shared precision table with a gate (each needs its case in variantPasses). */
export const QUANT_VARIANTS = QUANTIZED_PRECISIONS as readonly QuantVariant[];
export type QuantVariant = { [P in Precision]: (typeof PRECISION_TABLE)[P] extends { gate: object } ? P : never }[Precision];
export const isQuantVariant = (s: string): s is QuantVariant => (QUANT_VARIANTS as readonly string[]).includes(s);

export interface PassOptions {
  fp16?: Fp16Options;
  int8?: {
    /** MatMul/Gemm weights. */
    matmul?: WeightSelection;
    /**
     * The patch-embedding Conv: `'int8'` → ConvInteger (uint8 weights), `'fp32'` → left as is.
     * @defaultValue 'int8' — at ViT-B/32's size it ran at 0.34× of the float32 Conv (batch 1) and
     * keeps the vision file at 0.25× of float32 (0.27× with a float32 Conv); bench/results.
     */
    conv?: 'int8' | 'fp32';
    convSelection?: WeightSelection;
    /** Embedding tables. */
    gather?: WeightSelection;
    /**
     * How activations are quantized at run time: `per-image` — one scale per image for a Conv
     * reading a ReLU output, per token for MatMuls — so that an image's embedding does not depend
     * on the other images in its batch; `per-batch` — DynamicQuantizeLinear, one scale per tensor.
     * @defaultValue 'auto' — per-image in a CNN tower (a ResNet: the RN50 stand-in's int8 cosine to
     * fp32 was 0.78 in batches of 16 per batch, 0.99 per image), per-batch otherwise (ViTs, whose
     * gates pass per batch and whose files stay as before); quant/per-image.ts.
     */
    activations?: ActivationMode;
    /**
     * In a CNN tower with per-image activations: the leading Convs stay float32 while their
     * weights add up to at most this share of all Conv weights (0: none). @defaultValue 0.015 (CNN_LEADING_FLOAT)
     */
    leadingFloat?: number;
  };
  q4?: Q4Options;
  /**
   * Make text variants' sequence axis dynamic (dynamicSequencePass): prompts then run at their real
   * length, exactly. Off by default for now so that re-quantizing the bundled model reproduces its
   * files byte for byte. @defaultValue false
   */
  dynamicText?: boolean;
}

/** The passes making a variant, in order. */
export function passesFor(variant: QuantVariant, o: PassOptions = {}): Pass[] {
  return [...(o.dynamicText ? [dynamicSequencePass()] : []), ...variantPasses(variant, o)];
}

function variantPasses(variant: QuantVariant, o: PassOptions): Pass[] {
  switch (variant) {
    case 'fp16':
      return [fp16Pass(o.fp16)];
    case 'int8':
      return [
        int8MatMulPass(o.int8?.matmul, o.int8?.activations),
        ...((o.int8?.conv ?? 'int8') === 'int8' ? [int8ConvPass(o.int8?.convSelection, o.int8?.activations, o.int8?.leadingFloat)] : []),
        int8GatherPass(o.int8?.gather),
        // After int8-conv, which reads the Relu outputs' producers (per-image activations) and leaves a CNN's leading Convs float32.
        fuseResidualPass(),
      ];
    case 'q4':
      // 4-bit MatMuls; the embedding table (most of the text tower) as int8, Conv left float32.
      return [q4MatMulPass(o.q4), int8GatherPass(o.int8?.gather)];
  }
}

/** Checks that a graph is a CLIP tower: the Optimum names in, a float32 embedding out. */
export function checkClipSignature(model: ModelProto, tower: Tower, where: string): void {
  const graph = new Graph(model);
  const io = TOWER_IO[tower];
  const inputs = graph.realInputs().map((i) => i.name ?? '');
  const outputs = graph.outputs.map((o) => o.name ?? '');
  const allowed: readonly string[] = [...io.inputs, ...io.optionalInputs];
  const missing = io.inputs.filter((n) => !inputs.includes(n));
  const unknown = inputs.filter((n) => !allowed.includes(n));
  if (missing.length || unknown.length || !outputs.includes(io.output)) {
    throw new ClipEdgeError(
      'MODEL_INVALID',
      `${where} is not a CLIP ${tower} encoder: expected inputs [${allowed.join(', ')}] → output ${io.output}, found [${inputs.join(', ')}] → [${outputs.join(', ')}]`,
    );
  }
  const out = graph.outputs.find((o) => o.name === io.output);
  if (declaredType(out) !== DT.FLOAT) throw new ClipEdgeError('MODEL_INVALID', `${where}: ${io.output} is ${dtName(declaredType(out))}, expected float32`);
}

export interface PipelineResult {
  model: ModelProto;
  reports: { pass: string; report: PassReport; ms: number }[];
}

/**
 * Runs passes over a model (in place), checking the graph before the first and after each
 * (`afterPass` adds a check of its own, e.g. loading the model in onnxruntime-web).
 * The float32 source is checked too, so a broken input is reported as such, not blamed on a pass.
 */
export async function runPasses(
  model: ModelProto,
  passes: readonly Pass[],
  ctx: PassContext,
  afterPass?: (model: ModelProto, where: string) => Promise<void>,
): Promise<PipelineResult> {
  const graph = new Graph(model);
  checkGraph(graph, `${ctx.where} (float32 source)`);
  const reports: PipelineResult['reports'] = [];
  for (const pass of passes) {
    const t0 = performance.now();
    const report = pass.run(graph, ctx);
    checkGraph(graph, `${ctx.where} after pass ${pass.name}`);
    await afterPass?.(model, `${ctx.where} after pass ${pass.name}`);
    reports.push({ pass: pass.name, report, ms: Math.round(performance.now() - t0) });
  }
  const tag = { key: 'clip-edge.quantize', value: passes.map((p) => p.name).join(',') };
  model.metadata_props = [...model.metadata_props.filter((m) => m.key !== tag.key), tag];
  return { model, reports };
}
