import { ClipEdgeError } from '../../src/core/errors.ts';
import { attrInt, getAttr } from '../onnx/attrs.ts';
import { DT, DT_NAME, dtName, type NodeProto } from '../onnx/model.ts';
import { declaredType, type Graph } from './graph.ts';

/**
 * Element-type rules of the ONNX (and com.microsoft) operators met in CLIP exports and in what the
 * passes emit. Each rule checks that inputs sharing a type variable agree and returns the output
 * types. An operator missing here is an error unless the graph's value_info declares its outputs.
 */
type Types = readonly (number | undefined)[];
type Rule = (t: Types, node: NodeProto) => (number | undefined)[];

export class TypeMismatch extends Error {}

/** Inputs at `idx` (those present) must share one type; returns it. */
function agree(t: Types, idx: readonly number[] | 'all', node: NodeProto): number | undefined {
  const at = idx === 'all' ? t.map((_, i) => i) : idx;
  let seen: number | undefined;
  for (const i of at) {
    const x = t[i];
    if (x === undefined) continue;
    if (seen === undefined) seen = x;
    else if (x !== seen) {
      throw new TypeMismatch(`inputs ${at.join(', ')} of ${node.op_type} must share one type, got ${at.map((k) => dtName(t[k])).join(', ')}`);
    }
  }
  return seen;
}

function expect(t: Types, i: number, allowed: readonly number[], node: NodeProto): void {
  const x = t[i];
  if (x !== undefined && !allowed.includes(x)) {
    throw new TypeMismatch(`input ${i} of ${node.op_type} must be ${allowed.map(dtName).join(' or ')}, got ${dtName(x)}`);
  }
}

const FLOATS = [DT.FLOAT, DT.FLOAT16, DT.DOUBLE, DT.BFLOAT16];
const asIn0: Rule = (t) => [t[0]];
const allSame: Rule = (t, n) => [agree(t, 'all', n)];
const sameAs = (idx: number[], out = idx[0]!): Rule => (t, n) => {
  agree(t, idx, n);
  return [t[out]];
};
const fixed = (...out: number[]): Rule => () => out;
const compare: Rule = (t, n) => {
  agree(t, [0, 1], n);
  return [DT.BOOL];
};
const attrTensorType = (node: NodeProto, fallback: number): number => {
  const v = getAttr(node, 'value');
  if (v?.t) return v.t.data_type ?? fallback;
  if (getAttr(node, 'value_float') || getAttr(node, 'value_floats')) return DT.FLOAT;
  if (getAttr(node, 'value_int') || getAttr(node, 'value_ints')) return DT.INT64;
  if (getAttr(node, 'value_string') || getAttr(node, 'value_strings')) return DT.STRING;
  return fallback;
};

const ONNX_RULES: Readonly<Record<string, Rule>> = {
  // Elementwise, all inputs one type.
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'Concat', 'Einsum', 'Mod', 'PRelu'].map((op) => [op, allSame])),
  Pow: asIn0,
  // Same type in and out (extra inputs are int64 shapes/axes/indices).
  ...Object.fromEntries(
    [
      'Identity', 'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'Tanh', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal', 'Floor', 'Ceil',
      'Round', 'Sign', 'Softmax', 'LogSoftmax', 'Gelu', 'Elu', 'Selu', 'Softplus', 'Sin', 'Cos', 'Reshape', 'Transpose', 'Unsqueeze', 'Squeeze',
      'Flatten', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Expand', 'Tile', 'Pad', 'Trilu', 'Resize', 'DepthToSpace', 'SpaceToDepth',
      'CumSum', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp',
      'LpNormalization', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool',
    ].map((op) => [op, asIn0]),
  ),
  Split: (t, n) => n.output.map(() => t[0]),
  Dropout: (t) => [t[0], DT.BOOL],
  TopK: (t) => [t[0], DT.INT64],
  Where: (t, n) => {
    expect(t, 0, [DT.BOOL], n);
    return [agree(t, [1, 2], n)];
  },
  MatMul: sameAs([0, 1]),
  Gemm: sameAs([0, 1, 2]),
  Conv: sameAs([0, 1, 2]),
  ConvTranspose: sameAs([0, 1, 2]),
  Clip: sameAs([0, 1, 2]),
  Range: sameAs([0, 1, 2]),
  ScatterND: sameAs([0, 2]),
  ScatterElements: sameAs([0, 2]),
  BatchNormalization: (t, n) => {
    agree(t, [1, 2], n);
    agree(t, [3, 4], n);
    return n.output.map((_, i) => (i === 0 ? t[0] : t[3]));
  },
  InstanceNormalization: sameAs([0, 1, 2]),
  LayerNormalization: (t, n) => {
    const x = agree(t, [0, 1, 2], n);
    return n.output.map((_, i) => (i === 0 ? x : attrInt(n, 'stash_type', DT.FLOAT)));
  },
  Shape: fixed(DT.INT64),
  Size: fixed(DT.INT64),
  NonZero: fixed(DT.INT64),
  ArgMax: fixed(DT.INT64),
  ArgMin: fixed(DT.INT64),
  Equal: compare,
  Less: compare,
  Greater: compare,
  LessOrEqual: compare,
  GreaterOrEqual: compare,
  Not: fixed(DT.BOOL),
  And: fixed(DT.BOOL),
  Or: fixed(DT.BOOL),
  Xor: fixed(DT.BOOL),
  IsNaN: fixed(DT.BOOL),
  IsInf: fixed(DT.BOOL),
  Cast: (_t, n) => [attrInt(n, 'to', 0) || undefined],
  CastLike: (t) => [t[1]],
  Constant: (_t, n) => [attrTensorType(n, DT.FLOAT)],
  ConstantOfShape: (_t, n) => [attrTensorType(n, DT.FLOAT)],
  // Quantization.
  DynamicQuantizeLinear: (t, n) => {
    expect(t, 0, [DT.FLOAT], n);
    return [DT.UINT8, DT.FLOAT, DT.UINT8];
  },
  QuantizeLinear: (t, n) => {
    expect(t, 1, FLOATS, n);
    return [t[2] ?? (attrInt(n, 'output_dtype', 0) || DT.UINT8)];
  },
  DequantizeLinear: (t, n) => {
    expect(t, 1, FLOATS, n);
    agree(t, [0, 2], n);
    return [t[1]];
  },
  MatMulInteger: (t, n) => {
    agree(t, [0, 2], n);
    agree(t, [1, 3], n);
    expect(t, 0, [DT.UINT8, DT.INT8], n);
    expect(t, 1, [DT.UINT8, DT.INT8], n);
    return [DT.INT32];
  },
  ConvInteger: (t, n) => {
    agree(t, [0, 2], n);
    agree(t, [1, 3], n);
    expect(t, 0, [DT.UINT8, DT.INT8], n);
    expect(t, 1, [DT.UINT8, DT.INT8], n);
    return [DT.INT32];
  },
};

const MS_RULES: Readonly<Record<string, Rule>> = {
  MatMulNBits: (t, n) => {
    expect(t, 1, [DT.UINT8], n);
    return [agree(t, [0, 2], n)];
  },
  DynamicQuantizeMatMul: fixed(DT.FLOAT),
  MatMulIntegerToFloat: fixed(DT.FLOAT),
  QuickGelu: asIn0,
  FastGelu: asIn0,
  BiasGelu: sameAs([0, 1]),
  Gelu: asIn0,
  // X, W, B, Z (the sum the convolution accumulates onto): one float type.
  FusedConv: sameAs([0, 1, 2, 3]),
};

/** The rule for a node, or undefined when this table does not know the operator. */
export function ruleOf(node: NodeProto): Rule | undefined {
  const d = node.domain ?? '';
  const op = node.op_type ?? '';
  if (d === '' || d === 'ai.onnx') return Object.hasOwn(ONNX_RULES, op) ? ONNX_RULES[op] : undefined;
  if (d === 'com.microsoft') return Object.hasOwn(MS_RULES, op) ? MS_RULES[op] : undefined;
  return undefined;
}

export const nodeLabel = (n: NodeProto): string => `${n.name || n.output[0] || '?'} (${n.domain ? `${n.domain}.` : ''}${n.op_type})`;

/**
 * Infers the element type of every value in node order, checking each operator's type
 * constraints on the way. Declared types (graph outputs, value_info) must match what is inferred.
 */
export function inferTypes(graph: Graph, where: string): Map<string, number> {
  const types = new Map<string, number>();
  for (const t of graph.initializers) {
    // An initializer's element type is its data: 0 (UNDEFINED) or an unknown code is a broken file.
    if (!t.data_type || !(t.data_type in DT_NAME)) {
      throw new ClipEdgeError('MODEL_INVALID', `${where}: initializer ${t.name} has no valid element type (data_type ${t.data_type ?? 0})`);
    }
    types.set(t.name ?? '', t.data_type);
  }
  for (const i of graph.inputs) {
    const d = declaredType(i);
    if (d !== undefined && !types.has(i.name ?? '')) types.set(i.name ?? '', d);
  }
  const declared = new Map<string, number>();
  for (const v of [...graph.proto.value_info, ...graph.outputs]) {
    const d = declaredType(v);
    if (d) declared.set(v.name ?? '', d);
  }
  for (const node of graph.nodes) {
    const rule = ruleOf(node);
    const inTypes = node.input.map((i) => (i ? types.get(i) : undefined));
    let out: (number | undefined)[];
    if (rule) {
      try {
        out = rule(inTypes, node);
      } catch (e) {
        if (!(e instanceof TypeMismatch)) throw e;
        throw new ClipEdgeError('MODEL_INVALID', `${where}: node ${nodeLabel(node)}: ${e.message}`);
      }
    } else {
      out = node.output.map((o) => declared.get(o));
      if (out.some((t, k) => t === undefined && node.output[k])) {
        throw new ClipEdgeError(
          'MODEL_INVALID',
          `${where}: node ${nodeLabel(node)} is an operator the quantizer does not support (its output types are unknown and not declared in value_info)`,
        );
      }
    }
    node.output.forEach((o, k) => {
      const t = out[k];
      if (!o || t === undefined) return;
      const d = declared.get(o);
      if (d !== undefined && d !== t) {
        throw new ClipEdgeError('MODEL_INVALID', `${where}: ${o} is declared ${dtName(d)} but node ${nodeLabel(node)} makes ${dtName(t)}`);
      }
      types.set(o, t);
    });
  }
  return types;
}

export const isFloat = (t: number | undefined): boolean => t === DT.FLOAT || t === DT.FLOAT16;
