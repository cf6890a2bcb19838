import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './model.ts';

/** Builders for small ONNX models: the tests' hand-built graphs and the micro-benchmarks use them. */
export interface ValueSpec {
  name: string;
  elemType: number;
  /** Numbers are fixed sizes, strings symbolic ones (e.g. 'batch'). */
  shape?: readonly (number | string)[];
}

export function valueInfo(v: ValueSpec): ValueInfoProto {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        ...(v.shape ? { shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } : {}),
      },
    },
  };
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: AttributeProto[];
}

export const node = (spec: NodeSpec): NodeProto => ({
  input: spec.inputs,
  output: spec.outputs,
  name: spec.name ?? `${spec.op}_${spec.outputs[0]}`,
  op_type: spec.op,
  ...(spec.domain ? { domain: spec.domain } : {}),
  attribute: spec.attrs ?? [],
});

export interface ModelSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeProto[];
  initializers?: TensorProto[];
  valueInfo?: ValueSpec[];
  /** Default opset of ai.onnx. @defaultValue 17 */
  opset?: number;
  /** Extra domains, e.g. `{ 'com.microsoft': 1 }`. */
  domains?: Record<string, number>;
  irVersion?: number;
}

export function buildModel(spec: ModelSpec): ModelProto {
  return {
    ir_version: spec.irVersion ?? 8,
    opset_import: [{ version: spec.opset ?? 17 }, ...Object.entries(spec.domains ?? {}).map(([domain, version]) => ({ domain, version }))],
    producer_name: 'clip-edge-test',
    metadata_props: [],
    functions: [],
    graph: {
      name: 'g',
      node: spec.nodes,
      initializer: spec.initializers ?? [],
      sparse_initializer: [],
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      value_info: (spec.valueInfo ?? []).map(valueInfo),
    },
  };
}
