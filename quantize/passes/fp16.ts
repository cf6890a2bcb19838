import { ClipEdgeError } from '../../src/core/errors.ts';
import { AT, getAttr, intAttr } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto, type TensorProto } from '../onnx/model.ts';
import { bytesOf, floatValues, toFloat16 } from '../onnx/tensor.ts';
import { inferTypes, nodeLabel, ruleOf, TypeMismatch } from '../graph/dtypes.ts';
import { declaredType, type Graph, setDeclaredType } from '../graph/graph.ts';
import { findFp32Patterns, type Fp32Pattern } from '../graph/patterns.ts';
import { NAMES } from '../names.ts';
import type { Pass, PassReport } from './pass.ts';

/** Operators kept in float32 by default: normalisations and softmax, whose sums overflow or lose precision in float16. */
export const FP16_KEEP_OPS = Object.freeze([
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'Softmax',
  'LogSoftmax',
  'ReduceL2',
  'ReduceSumSquare',
  'LpNormalization',
]);

export interface Fp16Options {
  /** Operator types kept in float32 (`Op` for ai.onnx, `domain.Op` for others). @defaultValue FP16_KEEP_OPS */
  keepOps?: readonly string[];
  /** Node names kept in float32 (besides keepOps). @defaultValue [] */
  keepNodes?: readonly string[];
  /** Subgraphs found by shape and kept in float32. @defaultValue ['layernorm', 'l2norm'] */
  keepPatterns?: readonly Fp32Pattern[];
}

/** Inputs that stay float32 whatever the node runs in (the ONNX spec fixes their type). */
const FP32_ONLY_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [2], Upsample: [1] };

/**
 * float32 → float16: initializers and Constant/ConstantOfShape values become float16 (clamped to
 * ±65504), Casts to float32 become Casts to float16, and every node but the kept ones runs in
 * float16. Casts are inserted wherever a value crosses between the two (one per value and
 * direction); float32 graph inputs and outputs keep their type through a Cast; value_info follows.
 */
export function fp16Pass(options: Fp16Options = {}): Pass {
  const keep: Keep = {
    ops: new Set(options.keepOps ?? FP16_KEEP_OPS),
    nodes: new Set(options.keepNodes ?? []),
    patterns: options.keepPatterns ?? ['layernorm', 'l2norm'],
  };
  return {
    name: 'fp16',
    run(graph, ctx) {
      const sel = selectNodes(graph, ctx.where, keep);
      const report = { keptNodes: 0, fp16Nodes: 0, casts: 0, initializers: 0, clampedValues: 0 };
      const { inits, newTypes } = convertInitializers(graph, sel, report);
      const renamed = renameFloatOutputs(graph, sel, inits);
      const { kept, touchesFloat, isF32, oldTypes } = sel;

      const out: NodeProto[] = [];
      const casts = new Map<string, string>();
      const castTo = (value: string, to: number): string => {
        const tag = to === DT.FLOAT16 ? 'fp16' : 'fp32';
        const key = `${value}\u0000${tag}`;
        let name = casts.get(key);
        if (!name) {
          name = graph.uniqueName(NAMES.castValue(value, tag));
          out.push({ input: [value], output: [name], name: graph.uniqueName(NAMES.castNode(value, tag)), op_type: 'Cast', attribute: [intAttr('to', to)] });
          casts.set(key, name);
          newTypes.set(name, to);
          report.casts++;
        }
        return name;
      };

      for (const n of graph.nodes) {
        if (touchesFloat(n)) {
          const target = kept(n) ? DT.FLOAT : DT.FLOAT16;
          if (kept(n)) report.keptNodes++;
          else report.fp16Nodes++;
          n.input = n.input.map((i, k) => {
            if (!i || !(isF32(i) || newTypes.get(i) === DT.FLOAT16)) return i;
            const want = FP32_ONLY_INPUTS[n.op_type ?? '']?.includes(k) ? DT.FLOAT : target;
            return newTypes.get(i) === want ? i : castTo(i, want);
          });
          if (target === DT.FLOAT16) report.clampedValues += convertAttributes(n);
        }
        out.push(n);
        const rule = ruleOf(n);
        let types: (number | undefined)[];
        try {
          types = rule ? rule(n.input.map((i) => newTypes.get(i)), n) : n.output.map((o) => oldTypes.get(o));
        } catch (e) {
          if (!(e instanceof TypeMismatch)) throw e;
          throw new ClipEdgeError('MODEL_INVALID', `${ctx.where}: node ${nodeLabel(n)}: ${e.message}`);
        }
        n.output.forEach((o, k) => {
          const t = types[k];
          if (o && t !== undefined) newTypes.set(o, t);
        });
      }
      for (const [original, fp16Name] of renamed) {
        out.push({ input: [fp16Name], output: [original], name: graph.uniqueName(NAMES.castNode(original, 'fp32')), op_type: 'Cast', attribute: [intAttr('to', DT.FLOAT)] });
        newTypes.set(original, DT.FLOAT);
        report.casts++;
      }
      graph.nodes = out;
      graph.proto.value_info = graph.proto.value_info.filter((v) => newTypes.has(v.name ?? ''));
      for (const v of graph.proto.value_info) if (declaredType(v) !== undefined) setDeclaredType(v, newTypes.get(v.name!)!);
      const removed = graph.removeUnused();
      return { ...report, ...(removed ? { removedInitializers: removed } : {}) } satisfies PassReport;
    },
  };
}

/** What stays float32: operators, node names, and node patterns (layer norms). */
interface Keep {
  ops: ReadonlySet<string>;
  nodes: ReadonlySet<string>;
  patterns: readonly Fp32Pattern[];
}

/** Which nodes stay float32 and which touch float values; refuses a float node the pass has no rule for. */
function selectNodes(graph: Graph, where: string, keep: Keep) {
  const oldTypes = inferTypes(graph, where);
  const isF32 = (v: string) => !!v && oldTypes.get(v) === DT.FLOAT;
  const patterned = findFp32Patterns(graph, keep.patterns);
  const listed = (n: NodeProto) =>
    keep.ops.has(n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : n.op_type ?? '') || keep.nodes.has(n.name ?? '') || patterned.has(n);
  // A constant read only by float32 nodes stays float32 too (a layer norm's epsilon, say).
  const consumers = graph.consumers();
  const keptConstant = (n: NodeProto) =>
    (n.op_type === 'Constant' || n.op_type === 'ConstantOfShape') && !n.domain &&
    n.output.every((o) => (consumers.get(o) ?? []).every(listed)) && (consumers.get(n.output[0] ?? '') ?? []).length > 0;
  const kept = (n: NodeProto) => listed(n) || keptConstant(n);
  const touchesFloat = (n: NodeProto) =>
    n.input.some(isF32) || n.output.some(isF32) || (n.op_type === 'Cast' && getAttr(n, 'to')?.i === DT.FLOAT);
  for (const n of graph.nodes) {
    if (!kept(n) && touchesFloat(n) && !ruleOf(n)) {
      throw new ClipEdgeError(
        'MODEL_INVALID',
        `${where}: node ${nodeLabel(n)} is an operator the fp16 pass cannot convert; keep it in float32 (fp16 keepOps/keepNodes) if its types are declared in value_info`,
      );
    }
  }
  return { oldTypes, isF32, kept, touchesFloat };
}

type Selection = ReturnType<typeof selectNodes>;

/** What each float32 initializer's readers want: all float16 → convert it; any float32 reader → keep it and cast for the others. */
function convertInitializers(graph: Graph, { isF32, kept }: Selection, report: { initializers: number; clampedValues: number }) {
  const inits = graph.initializerMap();
  const wantsF32 = new Set<string>();
  for (const n of graph.nodes) {
    n.input.forEach((i, k) => {
      if (inits.has(i) && isF32(i) && (kept(n) || FP32_ONLY_INPUTS[n.op_type ?? '']?.includes(k))) wantsF32.add(i);
    });
  }
  for (const o of graph.outputs) if (inits.has(o.name ?? '')) wantsF32.add(o.name ?? '');
  const newTypes = new Map<string, number>();
  for (const t of graph.initializers) {
    if (t.data_type === DT.FLOAT && !wantsF32.has(t.name ?? '')) {
      report.clampedValues += toFp16Tensor(t);
      report.initializers++;
    }
    newTypes.set(t.name ?? '', t.data_type!);
  }
  for (const i of graph.inputs) if (!newTypes.has(i.name ?? '')) newTypes.set(i.name ?? '', declaredType(i) ?? 0);
  return { inits, newTypes };
}

/** Graph outputs made by float16 nodes are renamed; a Cast at the end restores the float32 name. */
function renameFloatOutputs(graph: Graph, { isF32, kept, touchesFloat }: Selection, inits: ReadonlyMap<string, unknown>): Map<string, string> {
  const outputs = new Set(graph.outputs.filter((o) => isF32(o.name ?? '') && !inits.has(o.name ?? '')).map((o) => o.name!));
  const renamed = new Map<string, string>();
  for (const n of graph.nodes) {
    n.output.forEach((o, k) => {
      if (outputs.has(o) && !kept(n) && touchesFloat(n)) renamed.set(o, (n.output[k] = graph.uniqueName(NAMES.fp16Output(o))));
    });
  }
  for (const n of graph.nodes) n.input = n.input.map((i) => renamed.get(i) ?? i);
  return renamed;
}

/** Rewrites a float32 tensor in place as float16; returns how many values were clamped to ±65504. */
function toFp16Tensor(t: TensorProto): number {
  const { bits, clamped } = toFloat16(floatValues(t));
  Object.assign(t, tensorProto(t.name ?? '', DT.FLOAT16, t.dims, bytesOf(bits)), { doc_string: t.doc_string });
  if (t.doc_string === undefined) delete t.doc_string;
  return clamped;
}

/** Float32-typed attributes of a node moving to float16: Cast's `to`, Constant/ConstantOfShape values. */
function convertAttributes(n: NodeProto): number {
  let clamped = 0;
  for (const a of n.attribute) {
    if (n.op_type === 'Cast' && a.name === 'to' && a.i === DT.FLOAT) a.i = DT.FLOAT16;
    if ((n.op_type === 'Constant' || n.op_type === 'ConstantOfShape') && a.name === 'value' && a.t?.data_type === DT.FLOAT) clamped += toFp16Tensor(a.t);
    if (n.op_type === 'Constant' && (a.name === 'value_float' || a.name === 'value_floats')) {
      const values = a.name === 'value_float' ? [a.f ?? 0] : a.floats;
      const { bits, clamped: c } = toFloat16(Float32Array.from(values));
      clamped += c;
      const dims = a.name === 'value_float' ? [] : [values.length];
      Object.assign(a, { name: 'value', type: AT.TENSOR, t: tensorProto('', DT.FLOAT16, dims, bytesOf(bits)), f: undefined, floats: [] });
      delete a.f;
    }
  }
  return clamped;
}
