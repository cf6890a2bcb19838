// The model folder transformers.js' zero-shot-image-classification pipeline loads: its CLIPModel
// wants ONE graph, `onnx/model<suffix>.onnx` (inputs input_ids, attention_mask, pixel_values;
// outputs logits_per_image, logits_per_text, text_embeds, image_embeds), while clip-edge's folders
// have the two towers apart. This merges a folder's vision and text graphs into that graph with the
// repo's own ONNX protobuf code (no Python at run time), as Hugging Face's CLIPModel computes it:
// both embeddings L2-normalised, logits_per_text = logit_scale · text · imageᵀ.
// Written into a git-ignored cache folder with links to the folder's tokenizer and config files.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { intAttr, intsAttr } from '../../quantize/onnx/attrs.ts';
import { node, valueInfo } from '../../quantize/onnx/build.ts';
import { readOnnx, writeAtomic } from '../../quantize/onnx/io.ts';
import { DT, encodeModel, type ModelProto, type NodeProto, type TensorProto } from '../../quantize/onnx/model.ts';
import { floatTensor, int64Tensor } from '../../quantize/onnx/tensor.ts';
import { Graph } from '../../quantize/graph/graph.ts';
import { checkGraph } from '../../quantize/graph/check.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { PRECISION_SUFFIX, type Precision } from '../../src/core/precision.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';

/** Files transformers.js reads from a CLIP folder besides the ONNX graph. */
export const PEER_METADATA_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

const MERGE_VERSION = 1; // bump when the graph written below changes

/** Renames every tensor, node and initializer of `model` with `prefix`, except the names in `keep`. */
function prefixed(model: ModelProto, prefix: string, keep: ReadonlyMap<string, string>): { nodes: NodeProto[]; inits: TensorProto[] } {
  const g = model.graph!;
  const rename = (n: string) => (n === '' ? '' : keep.get(n) ?? `${prefix}${n}`);
  for (const n of g.node) {
    if (n.attribute.some((a) => a.g || a.graphs?.length)) throw new Error(`${n.op_type} ${n.name}: graphs with subgraphs are not supported`);
    n.input = n.input.map(rename);
    n.output = n.output.map(rename);
    n.name = `${prefix}${n.name ?? n.op_type}`;
  }
  for (const t of g.initializer) t.name = rename(t.name!);
  return { nodes: g.node, inits: g.initializer };
}

const opsetsOf = (models: ModelProto[]) => {
  const m = new Map<string, number>();
  for (const model of models) for (const o of model.opset_import) m.set(o.domain ?? '', Math.max(m.get(o.domain ?? '') ?? 0, Number(o.version)));
  return [...m].map(([domain, version]) => (domain ? { domain, version } : { version }));
};

const dimsOf = (model: ModelProto, input: string) =>
  model.graph!.input.find((i) => i.name === input)?.type?.tensor_type?.shape?.dim?.map((d) => (d.dim_param ? d.dim_param : Number(d.dim_value))) ?? [];

/**
 * Merges the two towers into Hugging Face's CLIPModel graph. When the text graph has a fixed
 * sequence length (clip-edge's exports use 77) and transformers.js pads to the longest prompt, the
 * merged graph pads input_ids (with `padId`) and attention_mask (with 0) up to that length first —
 * the causal text tower pools at <|endoftext|>, so right padding does not change the embedding.
 */
export function mergeClipTowers(vision: ModelProto, text: ModelProto, opts: { logitScale: number; padId: number }): ModelProto {
  const textInputs = text.graph!.input.map((i) => i.name!);
  const hasMask = textInputs.includes('attention_mask');
  const seq = dimsOf(text, 'input_ids')[1];
  const fixedLen = typeof seq === 'number' && seq > 0 ? seq : undefined;
  const textKeep = new Map<string, string>(textInputs.map((n) => [n, fixedLen ? `t/${n}_padded` : n]));
  const vOut = vision.graph!.output[0]!.name!;
  const tOut = text.graph!.output[0]!.name!;
  const v = prefixed(vision, 'v/', new Map([['pixel_values', 'pixel_values']]));
  const t = prefixed(text, 't/', textKeep);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [...v.inits, ...t.inits];
  if (fixedLen) {
    inits.push(
      int64Tensor('m/seq_full', [1], [fixedLen]),
      int64Tensor('m/one', [1], [1]),
      int64Tensor('m/two', [1], [2]),
      int64Tensor('m/pads_begin', [3], [0, 0, 0]),
      int64Tensor('m/pad_id', [], [opts.padId]),
      int64Tensor('m/pad_zero', [], [0]),
    );
    nodes.push(
      node({ op: 'Shape', inputs: ['input_ids'], outputs: ['m/ids_shape'] }),
      node({ op: 'Slice', inputs: ['m/ids_shape', 'm/one', 'm/two'], outputs: ['m/seq'] }),
      node({ op: 'Sub', inputs: ['m/seq_full', 'm/seq'], outputs: ['m/pad_len'] }),
      node({ op: 'Concat', inputs: ['m/pads_begin', 'm/pad_len'], outputs: ['m/pads'], attrs: [intAttr('axis', 0)] }),
      node({ op: 'Pad', inputs: ['input_ids', 'm/pads', 'm/pad_id'], outputs: ['t/input_ids_padded'] }),
      ...(hasMask ? [node({ op: 'Pad', inputs: ['attention_mask', 'm/pads', 'm/pad_zero'], outputs: ['t/attention_mask_padded'] })] : []),
    );
  }
  nodes.push(...v.nodes, ...t.nodes);
  // L2 norms as Mul + ReduceSum (axes as an input since opset 13) + Sqrt: valid for every opset CLIP exports use.
  inits.push(int64Tensor('m/last_axis', [1], [-1]), floatTensor('m/logit_scale', [], new Float32Array([opts.logitScale])));
  for (const [raw, out] of [[`v/${vOut}`, 'image_embeds'], [`t/${tOut}`, 'text_embeds']] as const) {
    nodes.push(
      node({ op: 'Mul', inputs: [raw, raw], outputs: [`${out}/sq`] }),
      node({ op: 'ReduceSum', inputs: [`${out}/sq`, 'm/last_axis'], outputs: [`${out}/sum`], attrs: [intAttr('keepdims', 1)] }),
      node({ op: 'Sqrt', inputs: [`${out}/sum`], outputs: [`${out}/norm`] }),
      node({ op: 'Div', inputs: [raw, `${out}/norm`], outputs: [out] }),
    );
  }
  nodes.push(
    node({ op: 'Transpose', inputs: ['image_embeds'], outputs: ['m/image_t'], attrs: [intsAttr('perm', [1, 0])] }),
    node({ op: 'MatMul', inputs: ['text_embeds', 'm/image_t'], outputs: ['m/cos_text'] }),
    node({ op: 'Mul', inputs: ['m/cos_text', 'm/logit_scale'], outputs: ['logits_per_text'] }),
    node({ op: 'Transpose', inputs: ['logits_per_text'], outputs: ['logits_per_image'], attrs: [intsAttr('perm', [1, 0])] }),
  );
  const dim = Number(vision.graph!.output[0]!.type?.tensor_type?.shape?.dim?.at(-1)?.dim_value ?? 0) || 'embed_dim';
  const textSpecs = textInputs.map((n) => ({ name: n, elemType: DT.INT64, shape: ['text_batch_size', 'sequence_length'] }));
  const model: ModelProto = {
    ir_version: Math.max(Number(vision.ir_version), Number(text.ir_version)),
    opset_import: opsetsOf([vision, text]),
    producer_name: 'clip-edge bench (merged CLIP towers)',
    metadata_props: [],
    functions: [...(vision.functions ?? []), ...(text.functions ?? [])],
    graph: {
      name: 'clip',
      node: nodes,
      initializer: inits,
      sparse_initializer: [],
      input: [...textSpecs, { name: 'pixel_values', elemType: DT.FLOAT, shape: ['image_batch_size', 3, ...dimsOf(vision, 'pixel_values').slice(2)] }].map(valueInfo),
      output: [
        { name: 'logits_per_image', elemType: DT.FLOAT, shape: ['image_batch_size', 'text_batch_size'] },
        { name: 'logits_per_text', elemType: DT.FLOAT, shape: ['text_batch_size', 'image_batch_size'] },
        { name: 'text_embeds', elemType: DT.FLOAT, shape: ['text_batch_size', dim] },
        { name: 'image_embeds', elemType: DT.FLOAT, shape: ['image_batch_size', dim] },
      ].map(valueInfo),
      value_info: [],
    },
  };
  checkGraph(new Graph(model), 'merged CLIP graph');
  return model;
}

/** A key of the sources: the manifest's sha256 when it lists one, else size and mtime. */
const sourceKey = (dir: string, files: string[], shas: (string | undefined)[]) =>
  createHash('sha256')
    .update(JSON.stringify([MERGE_VERSION, files.map((f, i) => shas[i] ?? `${statSync(path.join(dir, f)).size}:${statSync(path.join(dir, f)).mtimeMs}`)]))
    .digest('hex');

/**
 * `<cacheDir>/<model id>/` in transformers.js' layout for `precisions` (merged once, rebuilt when a
 * source tower changes). Returns the folder.
 */
export async function peerModelFolder(modelDir: string, cacheDir: string, precisions: readonly Precision[]): Promise<string> {
  const info = await readModelInfo(fsModelSource(modelDir));
  const out = path.join(cacheDir, info.id.replace(/[^A-Za-z0-9._-]/g, '_'));
  mkdirSync(path.join(out, 'onnx'), { recursive: true });
  for (const f of PEER_METADATA_FILES) {
    const src = path.resolve(modelDir, f);
    const dst = path.join(out, f);
    if (!existsSync(src)) continue;
    rmSync(dst, { force: true });
    symlinkSync(src, dst);
  }
  const tokCfg = JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')) as { pad_token?: string | { content: string } };
  const tok = JSON.parse(readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8')) as { added_tokens?: { id: number; content: string }[] };
  const padName = typeof tokCfg.pad_token === 'string' ? tokCfg.pad_token : tokCfg.pad_token?.content ?? '<|endoftext|>';
  const padId = tok.added_tokens?.find((a) => a.content === padName)?.id ?? 49407;
  for (const p of precisions) {
    const towers = info.variants[p];
    if (!towers?.vision || !towers.text) throw new Error(`${modelDir} has no ${p} vision + text pair to merge`);
    const files = [towers.vision.file, towers.text.file];
    const key = sourceKey(modelDir, files, [towers.vision.sha256, towers.text.sha256]);
    const target = path.join(out, 'onnx', `model${PRECISION_SUFFIX[p]}.onnx`);
    const stamp = `${target}.source`;
    if (existsSync(target) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) continue;
    const [vision, text] = await Promise.all(files.map(async (f) => (await readOnnx(path.join(modelDir, f))).decode()));
    const merged = mergeClipTowers(vision!, text!, { logitScale: info.logitScale, padId });
    await writeAtomic(target, encodeModel(merged));
    writeFileSync(stamp, key);
  }
  return out;
}
