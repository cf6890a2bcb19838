import { checkGraph } from '../graph/check.ts';
import { Graph } from '../graph/graph.ts';
import { DT, type ModelProto, type ValueInfoProto } from '../onnx/model.ts';
import { blockOf, constantNodes, type Cut } from './cuts.ts';

/** One consecutive part of a tower: its graph, and the tensors it takes and gives. */
export interface TowerPart {
  index: number;
  model: ModelProto;
  input: string;
  output: string;
  /** The blocks it holds, as the node names say (`blocks.0`–`blocks.5`), for reports. */
  blocks?: string;
}

const floatInput = (name: string, like: ValueInfoProto | undefined): ValueInfoProto =>
  like ? structuredClone(like) : { name, type: { tensor_type: { elem_type: DT.FLOAT } } };

/**
 * Cuts a tower's graph at `cuts` (from chooseCuts, in order) into consecutive parts. Part k holds
 * the computing nodes between cut k-1 and cut k, a copy of every constant node and initializer
 * they read, and takes the tensor crossing cut k-1 as its only input (the first part: the tower's
 * inputs), giving the tensor crossing cut k as its only output (the last part: the tower's outputs).
 * Every part is checked like the output of any pass (checkGraph).
 */
export function extractParts(model: ModelProto, cuts: readonly Cut[], where: string): TowerPart[] {
  const graph = new Graph(model);
  const free = constantNodes(graph);
  const valueInfo = new Map(graph.proto.value_info.map((v) => [v.name ?? '', v]));
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  const bounds = [-1, ...cuts.map((c) => c.after), graph.nodes.length - 1];
  return bounds.slice(1).map((end, k) => {
    const start = bounds[k]! + 1;
    const keep = new Set<number>();
    const need = (i: number): void => {
      if (keep.has(i)) return;
      keep.add(i);
      // A constant node may read other constant nodes' outputs: take those too.
      for (const x of graph.nodes[i]!.input) {
        const p = producer.get(x);
        if (p !== undefined && free.has(p)) need(p);
      }
    };
    for (let i = start; i <= end; i++) if (!free.has(i)) need(i);
    const nodes = graph.nodes.filter((_, i) => keep.has(i));
    const read = new Set(nodes.flatMap((n) => n.input));
    const input = k === 0 ? undefined : cuts[k - 1]!.tensor;
    const output = k === cuts.length ? undefined : cuts[k]!.tensor;
    const part: ModelProto = {
      ...model,
      graph: {
        ...graph.proto,
        name: `${graph.proto.name ?? 'tower'}_part${k + 1}of${cuts.length + 1}`,
        // Nodes and initializers are shared with the whole graph, not copied (a Constant's tensor is a
        // view into the file's bytes: structuredClone would copy the whole file per node): parts are
        // encoded one at a time and never edited.
        node: nodes,
        initializer: graph.initializers.filter((t) => read.has(t.name ?? '')),
        input: input === undefined ? graph.realInputs().map((v) => structuredClone(v)) : [floatInput(input, valueInfo.get(input))],
        output: output === undefined ? graph.outputs.map((v) => structuredClone(v)) : [floatInput(output, valueInfo.get(output))],
        value_info: graph.proto.value_info.filter((v) => read.has(v.name ?? '') && v.name !== input && v.name !== output),
      },
    };
    checkGraph(new Graph(part), `${where} part ${k + 1} of ${cuts.length + 1}`);
    const blocks = [...new Set(nodes.filter((n) => n.op_type !== 'Constant').map((n) => blockOf(n)).filter((b) => b !== undefined))].sort(
      (a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()),
    );
    return {
      index: k,
      model: part,
      input: input ?? graph.realInputs()[0]!.name!,
      output: output ?? graph.outputs[0]!.name!,
      ...(blocks.length ? { blocks: blocks.length === 1 ? blocks[0]! : `${blocks[0]}–${blocks.at(-1)}` } : {}),
    };
  });
}
