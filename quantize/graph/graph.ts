import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/model.ts';

/**
 * A thin index over a ModelProto's main graph. The proto stays the one source of truth: passes
 * edit `graph.nodes`, `graph.initializers`, ... directly, and the lookups below are computed on
 * demand (graphs here have a few thousand nodes at most, so rebuilding a map is cheap and never stale).
 */
export class Graph {
  readonly model: ModelProto;
  private used?: Set<string>;

  constructor(model: ModelProto) {
    this.model = model;
  }

  get proto(): GraphProto {
    return this.model.graph!;
  }

  get nodes(): NodeProto[] {
    return this.proto.node;
  }

  set nodes(nodes: NodeProto[]) {
    this.proto.node = nodes;
  }

  get initializers(): TensorProto[] {
    return this.proto.initializer;
  }

  get inputs(): ValueInfoProto[] {
    return this.proto.input;
  }

  get outputs(): ValueInfoProto[] {
    return this.proto.output;
  }

  initializerMap(): Map<string, TensorProto> {
    return new Map(this.initializers.map((t) => [t.name ?? '', t]));
  }

  /** Graph inputs that are real inputs (not initializers listed as inputs, as IR < 4 required). */
  realInputs(): ValueInfoProto[] {
    const inits = this.initializerMap();
    return this.inputs.filter((i) => !inits.has(i.name ?? ''));
  }

  /** value name → the nodes reading it (in node order). */
  consumers(): Map<string, NodeProto[]> {
    const m = new Map<string, NodeProto[]>();
    for (const n of this.nodes) {
      for (const i of n.input) {
        if (!i) continue;
        const list = m.get(i);
        if (list) {
          if (!list.includes(n)) list.push(n);
        } else m.set(i, [n]);
      }
    }
    return m;
  }

  /** value name → the node producing it. */
  producers(): Map<string, NodeProto> {
    const m = new Map<string, NodeProto>();
    for (const n of this.nodes) for (const o of n.output) if (o) m.set(o, n);
    return m;
  }

  /** The opset version imported for a domain ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    return this.model.opset_import.find((o) => (o.domain ?? '') === d)?.version;
  }

  /** Imports a domain (at least at `version`). */
  requireOpset(domain: string, version: number): void {
    const entry = this.model.opset_import.find((o) => (o.domain ?? '') === domain);
    if (!entry) this.model.opset_import.push(domain ? { domain, version } : { version });
    else if ((entry.version ?? 0) < version) entry.version = version;
  }

  /** A value or node name not yet used anywhere in the graph, derived from `base`. */
  uniqueName(base: string): string {
    const used = (this.used ??= this.allNames());
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  }

  private allNames(): Set<string> {
    const s = new Set<string>();
    for (const t of this.initializers) s.add(t.name ?? '');
    for (const v of [...this.inputs, ...this.outputs, ...this.proto.value_info]) s.add(v.name ?? '');
    for (const n of this.nodes) {
      if (n.name) s.add(n.name);
      for (const o of n.output) s.add(o);
      for (const i of n.input) s.add(i);
    }
    return s;
  }

  /** Drops initializers nothing reads any more (weights a pass replaced), and their value_info. */
  removeUnused(): number {
    const read = new Set<string>(this.nodes.flatMap((n) => n.input));
    for (const o of this.outputs) read.add(o.name ?? '');
    const dropped = new Set(this.initializers.filter((t) => !read.has(t.name ?? '')).map((t) => t.name ?? ''));
    if (!dropped.size) return 0;
    this.proto.initializer = this.initializers.filter((t) => !dropped.has(t.name ?? ''));
    this.proto.input = this.inputs.filter((i) => !dropped.has(i.name ?? ''));
    this.proto.value_info = this.proto.value_info.filter((v) => !dropped.has(v.name ?? ''));
    this.used = undefined;
    return dropped.size;
  }
}

/** Element type declared by a ValueInfoProto (undefined when not a tensor or not given). */
export const declaredType = (v: ValueInfoProto | undefined): number | undefined => v?.type?.tensor_type?.elem_type;

export function setDeclaredType(v: ValueInfoProto, elemType: number): void {
  v.type ??= {};
  v.type.tensor_type ??= {};
  v.type.tensor_type.elem_type = elemType;
}
