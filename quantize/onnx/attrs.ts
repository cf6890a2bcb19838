import type { AttributeProto, NodeProto, TensorProto } from './model.ts';

/** AttributeProto.AttributeType values. */
export const AT = Object.freeze({ FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const);

const base = (name: string, type: number): AttributeProto => ({ name, type, floats: [], ints: [], strings: [], tensors: [], graphs: [] });

export const intAttr = (name: string, i: number): AttributeProto => ({ ...base(name, AT.INT), i });
export const floatAttr = (name: string, f: number): AttributeProto => ({ ...base(name, AT.FLOAT), f });
export const intsAttr = (name: string, ints: number[]): AttributeProto => ({ ...base(name, AT.INTS), ints });
export const tensorAttr = (name: string, t: TensorProto): AttributeProto => ({ ...base(name, AT.TENSOR), t });

export const getAttr = (node: NodeProto, name: string): AttributeProto | undefined => node.attribute.find((a) => a.name === name);

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = getAttr(node, name);
  return a?.i ?? fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = getAttr(node, name);
  return a && a.type === AT.INTS ? a.ints : undefined;
}

export function setAttr(node: NodeProto, attr: AttributeProto): void {
  const i = node.attribute.findIndex((a) => a.name === attr.name);
  if (i >= 0) node.attribute[i] = attr;
  else node.attribute.push(attr);
}

export const stringAttr = (name: string, s: string): AttributeProto => ({ ...base(name, AT.STRING), s: new TextEncoder().encode(s) });
