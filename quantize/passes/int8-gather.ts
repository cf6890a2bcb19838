import { attrInt, intAttr } from '../onnx/attrs.ts';
import { DT, tensorProto, type NodeProto } from '../onnx/model.ts';
import { bytesOf, floatValues } from '../onnx/tensor.ts';
import { NAMES } from '../names.ts';
import { int8PerRow } from '../quant/math.ts';
import { nameMatcher, selectWeight, type WeightSelection } from '../quant/select.ts';
import type { Pass } from './pass.ts';

/**
 * Gather rows (axis 0) of a constant float32 table [V, D] — the text tower's token embedding, most
 * of its bytes — → Gather of an int8 table, then dequantized by the gathered rows' own scales:
 * Cast(int8 → float) · Gather(scale[V, 1]). Only the looked-up rows are ever dequantized.
 * (DequantizeLinear itself cannot be used after the Gather: its scale is per tensor or per axis,
 * not per gathered row; Cast · scale is the same arithmetic.)
 */
export function int8GatherPass(sel: WeightSelection = {}): Pass {
  return {
    name: 'int8-gather',
    run(graph, ctx) {
      const excluded = nameMatcher(sel.exclude ?? []);
      const inits = graph.initializerMap();
      const replaced = new Map<NodeProto, NodeProto[]>();
      const done = new Map<string, { q: string; scale: string }>();
      // Large tables only: positional embeddings and the like stay float32 by size.
      const big = { ...sel, minElements: Math.max(sel.minElements ?? 1024, 65536) };
      for (const node of graph.nodes) {
        if (node.domain || node.op_type !== 'Gather' || attrInt(node, 'axis', 0) !== 0) continue;
        const [tableName, ids] = node.input;
        const table = selectWeight(node, inits.get(tableName ?? ''), 2, big, excluded);
        if (!table || !ids) continue;
        const [V, D] = table.dims as [number, number];
        let t = done.get(tableName!);
        if (!t) {
          const { q, scale } = int8PerRow(floatValues(table), V, D);
          t = { q: graph.uniqueName(NAMES.quantWeight(tableName!, 'int8')), scale: graph.uniqueName(NAMES.weightScale(tableName!)) };
          graph.initializers.push(tensorProto(t.q, DT.INT8, [V, D], bytesOf(q)), tensorProto(t.scale, DT.FLOAT, [V, 1], bytesOf(scale)));
          done.set(tableName!, t);
        }
        const base = node.name || node.output[0]!;
        const v = (s: string) => graph.uniqueName(NAMES.quantValue(base, s));
        const nm = (s: string) => graph.uniqueName(NAMES.quantNode(base, s));
        const [rows, cast, scales] = [v('GatherInt8'), v('Cast'), v('GatherScale')];
        replaced.set(node, [
          { input: [t.q, ids], output: [rows], name: nm('GatherInt8'), op_type: 'Gather', attribute: [intAttr('axis', 0)] },
          { input: [rows], output: [cast], name: nm('Cast'), op_type: 'Cast', attribute: [intAttr('to', DT.FLOAT)] },
          { input: [t.scale, ids], output: [scales], name: nm('GatherScale'), op_type: 'Gather', attribute: [intAttr('axis', 0)] },
          { input: [cast, scales], output: [node.output[0]!], name: nm('Dequantize'), op_type: 'Mul', attribute: [] },
        ]);
      }
      graph.nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? [n]);
      const removed = graph.removeUnused();
      if (replaced.size) ctx.log(`int8-gather: ${replaced.size} embedding Gather → int8 table`);
      return { quantizedNodes: replaced.size, removedInitializers: removed };
    },
  };
}
