import { ClipEdgeError } from '../../src/core/errors.ts';
import { modelProtoType } from './schema.ts';

/**
 * ONNX messages as plain objects (protobufjs `toObject` with int64 as numbers and every repeated
 * field an array). Only the fields the passes touch are typed; the rest ride along untouched.
 * `raw_data` stays a view into the bytes the model was decoded from: nothing large is copied.
 */
export interface StringStringEntry {
  key?: string;
  value?: string;
}

export interface TensorProto {
  name?: string;
  dims: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data: number[];
  int32_data: number[];
  int64_data: number[];
  double_data: number[];
  uint64_data: number[];
  string_data: Uint8Array[];
  external_data: StringStringEntry[];
  data_location?: number;
  doc_string?: string;
  [k: string]: unknown;
}

export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  [k: string]: unknown;
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute: AttributeProto[];
  [k: string]: unknown;
}

export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
  denotation?: string;
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim: DimensionProto[] } };
  [k: string]: unknown;
}

export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  [k: string]: unknown;
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparse_initializer: unknown[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
  [k: string]: unknown;
}

export interface OperatorSetId {
  domain?: string;
  version?: number;
}

export interface ModelProto {
  ir_version?: number;
  opset_import: OperatorSetId[];
  producer_name?: string;
  producer_version?: string;
  graph?: GraphProto;
  metadata_props: StringStringEntry[];
  functions: unknown[];
  [k: string]: unknown;
}

/** TensorProto.DataType values used here. */
export const DT = Object.freeze({
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const);

export const DT_NAME: Readonly<Record<number, string>> = Object.freeze({
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
  17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1',
});

export const dtName = (t: number | undefined): string => (t === undefined ? 'unknown' : DT_NAME[t] ?? `type ${t}`);

/** The ONNX magic is missing from protobuf, so a few cheap structural tests tell "not ONNX" apart. */
export function decodeModel(bytes: Uint8Array, where: string): ModelProto {
  const type = modelProtoType();
  let message: ReturnType<typeof type.decode>;
  try {
    message = type.decode(bytes);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new ClipEdgeError('MODEL_INVALID', `${where} is not an ONNX model (protobuf decoding failed: ${why})`, { cause });
  }
  const model = type.toObject(message, { longs: Number, enums: Number, arrays: true, defaults: false }) as ModelProto;
  if (!model.graph || !model.ir_version || !model.opset_import.length) {
    throw new ClipEdgeError('MODEL_INVALID', `${where} is not an ONNX model (no graph, IR version or opset import)`);
  }
  return model;
}

/** Serialises a model; protobufjs writes fields in number order, so equal models give equal bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  return modelProtoType().encode(model as never).finish();
}

/** Number of elements of a tensor from its dims. */
export const numel = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** An empty TensorProto with the given fields (every repeated field present, as `toObject` gives them). */
export function tensorProto(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): TensorProto {
  return {
    name,
    dims: [...dims],
    data_type: dataType,
    raw_data: raw,
    float_data: [],
    int32_data: [],
    int64_data: [],
    double_data: [],
    uint64_data: [],
    string_data: [],
    external_data: [],
  };
}

export function emptyNode(): Pick<NodeProto, 'input' | 'output' | 'attribute'> {
  return { input: [], output: [], attribute: [] };
}
