import { intAttr, intsAttr } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto } from '../onnx/model.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import type { Graph } from '../graph/graph.ts';
import { NAMES } from '../names.ts';
import type { ActivationQuantizer } from './dynamic.ts';

/** Ops that keep a non-negative input non-negative (and pass it on unchanged in value range). */
const KEEPS_SIGN = new Set(['AveragePool', 'MaxPool', 'GlobalAveragePool', 'GlobalMaxPool', 'Reshape', 'Flatten', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze']);

/** A Pad that adds no negative value: reflect / edge, or constant with no value (0) or a constant one ≥ 0. */
function padKeepsSign(graph: Graph, pad: NodeProto): boolean {
  const value = pad.input[2];
  if (!value) return true;
  const mode = pad.attribute.find((a) => a.name === 'mode')?.s;
  if (mode && new TextDecoder().decode(mode) !== 'constant') return true;
  const t = graph.initializerMap().get(value);
  return t !== undefined && t.data_type === DT.FLOAT && floatValues(t).every((x) => x >= 0);
}

/**
 * Whether a value is non-negative by construction: a Relu's output, or pooled / padded / reshaped
 * from one. (A CNN's Conv inputs after its stem are all of this kind.)
 */
export function isNonNegative(graph: Graph, value: string, producers = graph.producers()): boolean {
  for (let v = value, hops = 0; hops < 64; hops++) {
    const p = producers.get(v);
    if (!p || p.domain) return false;
    if (p.op_type === 'Relu') return true;
    const passes = KEEPS_SIGN.has(p.op_type ?? '') || (p.op_type === 'Pad' && padKeepsSign(graph, p));
    if (!passes || !p.input[0]) return false;
    v = p.input[0];
  }
  return false;
}

/**
 * `ReduceMax` / `ReduceMin` of `value` over `axes`, dims kept: `axes` is [an INT64 initializer
 * holding them, their values]. The axes moved from an attribute to an input at opset 18, so which
 * of the two the node reads depends on the graph's opset.
 */
export function reduceNode(graph: Graph, op: 'ReduceMax' | 'ReduceMin', value: string, axes: readonly [string, readonly number[]], output: string, name: string): NodeProto {
  return (graph.opset() ?? 0) >= 18
    ? { input: [value, axes[0]], output: [output], name, op_type: op, attribute: [intAttr('keepdims', 1)] }
    : { input: [value], output: [output], name, op_type: op, attribute: [intsAttr('axes', [...axes[1]]), intAttr('keepdims', 1)] };
}

/**
 * What the per-image and per-token quantizers share: each activation is quantized once, however
 * many integer ops read it, and its nodes wait in `pending` until splice() puts them right after
 * the activation's producer.
 */
abstract class OncePerValue implements ActivationQuantizer {
  private readonly made = new Map<string, readonly [string, string, string]>();
  readonly pending = new Map<string, NodeProto[]>();

  constructor(protected readonly graph: Graph) {}

  of(value: string): readonly [string, string, string] {
    const done = this.made.get(value);
    if (done) return done;
    const names = this.quantize(value);
    this.made.set(value, names);
    return names;
  }

  /** Makes `value`'s quantization nodes (into `pending`) and names its [quantized, scale, zero point]. */
  protected abstract quantize(value: string): readonly [string, string, string];
}

/**
 * Dynamic uint8 quantization of a non-negative NCHW activation with one scale per image:
 * ReduceMax over C, H, W → scale[n] = max / 255 → QuantizeLinear(axis 0), zero point 0.
 *
 * DynamicQuantizeLinear takes one scale for the whole tensor, i.e. for the whole batch: in a CNN
 * post-ReLU activation ranges differ from image to image, so in a batch the image with the largest
 * activations sets everyone's step, and an image's embedding depends on which other images share
 * its run (RN50 stand-in: int8 cosine to fp32 0.988 alone, 0.776 in batches of 16 mixed photos;
 * docs/models.md). Per image it is batch-independent, and equal to DynamicQuantizeLinear at batch 1
 * (for x ≥ 0 that is max / 255 with zero point 0 too).
 */
export class PerImageQuantizer extends OncePerValue {
  private consts?: { axes: string; eps: string; levels: string; flat: string; zero: string };

  /** Shared constants, made on first use. */
  private constants() {
    if (this.consts) return this.consts;
    const g = this.graph;
    const c = {
      axes: g.uniqueName('clip_edge/per_image/axes'),
      eps: g.uniqueName('clip_edge/per_image/eps'),
      levels: g.uniqueName('clip_edge/per_image/255'),
      flat: g.uniqueName('clip_edge/per_image/flat'),
      zero: g.uniqueName('clip_edge/per_image/zero_point'),
    };
    g.initializers.push(
      tensorProto(c.axes, DT.INT64, [3], bytesOf(BigInt64Array.of(1n, 2n, 3n))),
      // An all-zero image keeps a positive scale (its values quantize to 0, not NaN).
      tensorProto(c.eps, DT.FLOAT, [], bytesOf(Float32Array.of(1e-30))),
      tensorProto(c.levels, DT.FLOAT, [], bytesOf(Float32Array.of(255))),
      tensorProto(c.flat, DT.INT64, [1], bytesOf(BigInt64Array.of(-1n))),
      tensorProto(c.zero, DT.UINT8, [], Uint8Array.of(0)),
    );
    return (this.consts = c);
  }

  /** [quantized uint8, scale [N, 1, 1, 1] (broadcasts over the integer op's NCHW output), zero point 0]. */
  protected quantize(value: string): readonly [string, string, string] {
    const g = this.graph;
    const c = this.constants();
    const v = (step: string) => g.uniqueName(NAMES.quantValue(value, step));
    const nm = (step: string) => g.uniqueName(NAMES.quantNode(value, step));
    const [max, floor, scale, scaleN, q] = [v('ImageMax'), v('ImageMaxFloor'), v('ImageScale'), v('ImageScaleN'), v('quantized')];
    this.pending.set(value, [
      reduceNode(g, 'ReduceMax', value, [c.axes, [1, 2, 3]], max, nm('ImageMax')),
      { input: [max, c.eps], output: [floor], name: nm('ImageMaxFloor'), op_type: 'Max', attribute: [] },
      { input: [floor, c.levels], output: [scale], name: nm('ImageScale'), op_type: 'Div', attribute: [] },
      { input: [scale, c.flat], output: [scaleN], name: nm('ImageScaleN'), op_type: 'Reshape', attribute: [] },
      // No zero point input: uint8 out, zero point 0 (x ≥ 0).
      { input: [value, scaleN], output: [q], name: nm('QuantizeLinear'), op_type: 'QuantizeLinear', attribute: [intAttr('axis', 0)] },
    ]);
    return [q, scale, c.zero] as const;
  }
}

/** Which activations the int8 passes quantize per image (batch-independent) rather than per batch. */
export const ACTIVATION_MODES = ['auto', 'per-image', 'per-batch'] as const;
export type ActivationMode = (typeof ACTIVATION_MODES)[number];

/**
 * A CNN tower: some Conv reads a ReLU output. There the int8 passes quantize activations per image
 * under `auto` (ReLU activation ranges vary from image to image); a ViT keeps per-batch dynamic
 * quantization (its MatMuls read LayerNorm outputs, whose ranges do not: its gates pass at batch 16).
 */
export function isCnn(graph: Graph): boolean {
  const producers = graph.producers();
  return graph.nodes.some((n) => n.op_type === 'Conv' && !n.domain && !!n.input[0] && isNonNegative(graph, n.input[0], producers));
}

/** `auto` resolved for one graph. */
export const perImageFor = (graph: Graph, mode: ActivationMode): boolean => mode === 'per-image' || (mode === 'auto' && isCnn(graph));

/**
 * Dynamic quantization with one range per token (per row of the last axis), whatever the layout:
 * lo, hi = min, max over the last axis, scale = (hi − lo) / 255, q = round((x − lo) / scale) in
 * uint8 with zero point 0 — so x ≈ scale · q + lo, and x·W = scale · (q·W) + lo · colsum(W): the
 * matmul pass adds that last term (MatMulInteger takes one zero point per tensor, so the per-token
 * offset goes there). Elementwise ops (QuantizeLinear before opset 21 has no per-row scales over a
 * 3-D tensor). Batch-independent, and finer than one range per tensor: the standard for
 * transformer activations with outlier tokens. For the ResNets' attention pool, whose input is
 * [HW + 1, N, C] (the batch on axis 1) and mostly positive (ReLU output + position embedding).
 */
export class PerTokenQuantizer extends OncePerValue {
  /** Each quantized activation's per-token offset `lo` ([..., 1]). */
  readonly offsets = new Map<string, string>();
  private consts?: { axes: string; eps: string; levels: string; lo: string; one: string; zero: string };

  /**
   * `axes`: the axes one range spans — the last (per token) by default; [1, 2, 3] gives one range per
   * image of an NCHW tensor (a ViT's patch Conv). `zeroExact`: each range widened to hold 0 and `lo`
   * put on the grid (a multiple of the step), so 0 is a level, as DynamicQuantizeLinear has it — per
   * range that is DynamicQuantizeLinear's rounding exactly. The ViT passes take it: with `lo` off the
   * grid the pixels' levels fell against the patch Conv's grid unluckily for a flat image (tiny-clip:
   * cosine to fp32 0.99917 vs 0.99974; bench/results/int8-vit-activations.md).
   */
  constructor(graph: Graph, private readonly axes: readonly number[] = [-1], private readonly zeroExact = false) {
    super(graph);
  }

  private constants() {
    if (this.consts) return this.consts;
    const g = this.graph;
    const n = (s: string) => g.uniqueName(`clip_edge/per_token/${s}`);
    const c = { axes: n('axes'), eps: n('eps'), levels: n('255'), lo: n('0'), one: n('1'), zero: n('zero_point') };
    const f = (name: string, v: number) => tensorProto(name, DT.FLOAT, [], bytesOf(Float32Array.of(v)));
    g.initializers.push(
      tensorProto(c.axes, DT.INT64, [this.axes.length], bytesOf(BigInt64Array.from(this.axes, BigInt))),
      f(c.eps, 1e-30), f(c.levels, 255), f(c.lo, 0), f(c.one, 1),
      tensorProto(c.zero, DT.UINT8, [], Uint8Array.of(0)),
    );
    return (this.consts = c);
  }

  /** [quantized uint8, scale [..., 1] (broadcasts over the integer op's output), zero point 0]; the offset is in `offsets`. */
  protected quantize(value: string): readonly [string, string, string] {
    const g = this.graph;
    const c = this.constants();
    const v = (step: string) => g.uniqueName(NAMES.quantValue(value, step));
    const nm = (op: string) => g.uniqueName(NAMES.quantNode(value, op));
    const node = (op: string, input: string[], output: string, attribute: NodeProto['attribute'] = []): NodeProto => ({ input, output: [output], name: nm(op), op_type: op, attribute });
    const [min, max, range, floor, scale, shifted, ratio, q] = ['TokenMin', 'TokenMax', 'TokenRange', 'TokenRangeFloor', 'TokenScale', 'Shift', 'Ratio', 'quantized'].map(v) as [string, string, string, string, string, string, string, string];
    const [lo, hi, loSteps, loRounded, loGrid] = this.zeroExact ? ['TokenLo', 'TokenHi', 'TokenLoSteps', 'TokenLoRounded', 'TokenLoGrid'].map(v) as [string, string, string, string, string] : [min, max, '', '', min];
    this.pending.set(value, [
      reduceNode(g, 'ReduceMin', value, [c.axes, this.axes], min, nm('ReduceMin')),
      reduceNode(g, 'ReduceMax', value, [c.axes, this.axes], max, nm('ReduceMax')),
      ...(this.zeroExact ? [node('Min', [min, c.lo], lo), node('Max', [max, c.lo], hi)] : []),
      node('Sub', [hi, lo], range),
      node('Max', [range, c.eps], floor),
      node('Div', [floor, c.levels], scale),
      ...(this.zeroExact ? [node('Div', [lo, scale], loSteps), node('Round', [loSteps], loRounded), node('Mul', [loRounded, scale], loGrid)] : []),
      node('Sub', [value, loGrid], shifted),
      node('Div', [shifted, scale], ratio),
      // Round half to even, saturate to 0..255 and cast in one op (Round + Clip + Cast did it in three passes).
      node('QuantizeLinear', [ratio, c.one, c.zero], q),
    ]);
    this.offsets.set(value, loGrid);
    return [q, scale, c.zero] as const;
  }
}
