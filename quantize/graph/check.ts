import { ClipEdgeError } from '../../src/core/errors.ts';
import { dtName } from '../onnx/model.ts';
import { inferTypes, nodeLabel } from './dtypes.ts';
import { declaredType, type Graph } from './graph.ts';

/**
 * The structural check run after every pass: names are defined once; every node input is an
 * initializer, a graph input or an earlier node's output; graph outputs are produced; element
 * types agree (see dtypes.ts). Returns the inferred element types.
 * Subgraphs (If/Loop bodies) are not entered: CLIP encoders have none, and a pass never edits one.
 */
export function checkGraph(graph: Graph, where: string): Map<string, number> {
  const bad = (msg: string): never => {
    throw new ClipEdgeError('MODEL_INVALID', `${where}: ${msg}`);
  };
  const defined = new Set<string>();
  for (const t of graph.initializers) {
    if (!t.name) bad('an initializer has no name');
    if (defined.has(t.name!)) bad(`initializer ${t.name} is defined twice`);
    defined.add(t.name!);
  }
  for (const i of graph.inputs) {
    if (!i.name) bad('a graph input has no name');
    defined.add(i.name!);
  }
  for (const node of graph.nodes) {
    for (const i of node.input) {
      if (i && !defined.has(i)) bad(`node ${nodeLabel(node)} reads ${i}, which no initializer, graph input or earlier node defines`);
    }
    for (const o of node.output) {
      if (!o) continue;
      if (defined.has(o)) bad(`${o} is defined twice (second time by node ${nodeLabel(node)})`);
      defined.add(o);
    }
  }
  for (const o of graph.outputs) if (!defined.has(o.name ?? '')) bad(`graph output ${o.name} is never produced`);
  const types = inferTypes(graph, where);
  for (const o of graph.outputs) {
    const d = declaredType(o);
    const t = types.get(o.name ?? '');
    if (d !== undefined && t !== undefined && d !== t) bad(`graph output ${o.name} is declared ${dtName(d)} but computed as ${dtName(t)}`);
  }
  return types;
}
