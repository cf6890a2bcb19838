import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVAL_DIR, REPO_ROOT, type EvalSet } from '../helpers/clip.ts';
import { startCliServer } from '../helpers/cli-server.ts';
import { userEnv } from '../helpers/user-env.ts';

const cli = (...args: string[]) => cliEnv({}, ...args);
const cliEnv = (env: Record<string, string>, ...args: string[]) => {
  const r = spawnSync(process.execPath, ['bin/clip-edge.js', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000, env: userEnv(env).env });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const jpgs = evalSet.images.filter((i) => i.file.endsWith('.jpg')).slice(0, 3).map((i) => path.join(EVAL_DIR, i.file));
/** PyTorch's top-1 per eval image (the recipe's fp32 checkpoint, PIL preprocessing, the eval templates). */
const torchTop1 = (JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-reference.json'), 'utf8')) as { torch_top1: Record<string, string> }).torch_top1;
const tmp = mkdtempSync(path.join(tmpdir(), 'clip-edge-cli-'));

describe('clip-edge CLI', () => {
  it('tokenize prints the ids as a JSON array', () => {
    const r = cli('tokenize', 'Hello World!');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual([49406, 3306, 1002, 256, 49407]);
    expect(JSON.parse(cli('tokenize', 'a dog', '--pad').out)).toHaveLength(77);
  });

  it('classify prints one line per image, and JSON Lines with --json', () => {
    const r = cli('classify', ...jpgs, '--labels', evalSet.labels.join(','), '--top-k', '2', '--backend', 'wasm');
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(3);
    const j = cli('classify', jpgs[0]!, '--label-set', 'cifar10', '--json', '--top-k', '1');
    expect(j.code, j.err).toBe(0);
    const row = JSON.parse(j.out) as { file: string; results: { label: string }[]; labelSet: string };
    expect(row.labelSet).toBe('cifar10');
    expect(row.results).toHaveLength(1);
  }, 240_000); // each run starts cold: a user's fresh HOME has no prompt cache

  it('classify answers PyTorch\'s top-1 for an eval image', () => {
    const sure = evalSet.images.find((i) => i.file.endsWith('.jpg') && torchTop1[i.file] === i.label)!;
    const r = cli('classify', path.join(EVAL_DIR, sure.file), '--labels', evalSet.labels.join(','), '--json', '--top-k', '1', '--backend', 'wasm');
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { results: { label: string }[] }).results[0]!.label).toBe(torchTop1[sure.file]);
  });

  it('classify takes a label set file in openai/CLIP prompt form', () => {
    const file = path.join(tmp, 'shapes.json');
    writeFileSync(file, JSON.stringify({ classes: ['red circle', 'blue star'], templates: ['a photo of a {}.'] }));
    const r = cli('classify', jpgs[0]!, '--label-set', file, '--json');
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { results: unknown[] }).results).toHaveLength(2);
  });

  it('embed image and embed text print unit vectors as JSON Lines', () => {
    const img = cli('embed', 'image', jpgs[0]!);
    expect(img.code, img.err).toBe(0);
    const e = (JSON.parse(img.out) as { embedding: number[] }).embedding;
    expect(Math.hypot(...e)).toBeCloseTo(1, 4);
    const txt = cli('embed', 'text', 'a red circle', 'a blue star');
    expect(txt.out.trim().split('\n')).toHaveLength(2);
  });

  it('preprocess writes the model input as a float32 [1,3,224,224] .npy', () => {
    const out = path.join(tmp, 'x.npy');
    const r = cli('preprocess', jpgs[0]!, '--out', out);
    expect(r.code, r.err).toBe(0);
    const npy = readFileSync(out);
    expect(npy.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    const header = npy.subarray(10, 10 + npy.readUInt16LE(8)).toString('latin1');
    expect(header).toContain("'descr': '<f4'");
    expect(header).toContain('(1, 3, 224, 224)');
    expect(npy.byteLength).toBe(10 + npy.readUInt16LE(8) + 4 * 3 * 224 * 224);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it.each([
    ['a missing image file', ['classify', 'no/such.jpg', '--labels', 'a,b'], 2, /cannot read no\/such\.jpg: no such file/],
    ['no labels', ['classify', jpgs[0]!], 2, /--labels/],
    ['an unknown variant', ['classify', jpgs[0]!, '--labels', 'a,b', '--variant', 'int3'], 2, /unknown variant "int3"/],
    ['an unknown label set', ['classify', jpgs[0]!, '--label-set', 'nope'], 2, /UNKNOWN_LABEL_SET: unknown label set "nope"/],
    ['a non-image file', ['classify', path.join(REPO_ROOT, 'package.json'), '--labels', 'a,b'], 2, /UNSUPPORTED_IMAGE/],
    ['a model folder that does not exist', ['classify', jpgs[0]!, '--labels', 'a,b', '--model', '/nonexistent/model'], 1, /MODEL_NOT_FOUND: \/nonexistent\/model is not a CLIP model folder/],
    ['a bad --top-k', ['classify', jpgs[0]!, '--labels', 'a,b', '--top-k', '0'], 2, /--top-k must be an integer ≥ 1/],
  ])('%s: a one-line error and a non-zero exit', (_, args, code, message) => {
    const r = cli(...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('serve --no-text loads the vision tower only: inline labels are refused, a label set answers', async () => {
    const s = await startCliServer({}, ['--no-text']);
    try {
      const post = (query: string) => fetch(`${s.url}/v1/classify?${query}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(jpgs[0]!) });
      const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { models: { active: { text?: unknown } }[] };
      expect(models.models[0]!.active.text).toBeUndefined();
      // Labels no earlier run can have cached: request-time label sets are written back to the
      // on-disk prompt cache, and a cached set answers without the text tower.
      const fresh = `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
      const inline = await post(`labels=zebra ${fresh},giraffe ${fresh}`);
      expect(inline.status).toBe(422);
      expect(((await inline.json()) as { error: { code: string } }).error.code).toBe('TEXT_ENCODER_UNAVAILABLE');
      const set = await post('labelSet=tiny-clip-shapes&topK=1');
      expect(set.status).toBe(200);
      expect(((await set.json()) as { classes: { source: string } }).classes.source).toBe('prompt-cache');
    } finally {
      await s.stop();
    }
  });

  it.each([
    ['CLIP_EDGE_MAX_IN_FLIGHT', '0', /CLIP_EDGE_MAX_IN_FLIGHT must be an integer ≥ 1 \(its value is not shown/],
    ['CLIP_EDGE_REQUEST_TIMEOUT_MS', 'soon', /CLIP_EDGE_REQUEST_TIMEOUT_MS must be an integer ≥ 0 \(its value is not shown/],
    ['CLIP_EDGE_RATE_LIMIT', '-5', /CLIP_EDGE_RATE_LIMIT must be an integer ≥ 1 \(its value is not shown/],
    // Was read by each thread, and a value it could not use ignored: the threads kept their priority.
    ['CLIP_EDGE_THREAD_NICE', 'abc', /CLIP_EDGE_THREAD_NICE must be a whole number in \[0, 19\] \(its value is not shown/],
    ['CLIP_EDGE_THREAD_NICE', '25', /CLIP_EDGE_THREAD_NICE must be a whole number in \[0, 19\] \(its value is not shown/],
  ])('serve refuses %s=%s before loading anything (exit 2, one line)', (k, v, message) => {
    const r = cliEnv({ [k]: v }, 'serve', '--port', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it.skipIf(process.platform !== 'linux')('serve with CLIP_EDGE_THREAD_NICE=10 runs its decode and inference threads 10 nice steps below its event loop', async () => {
    const s = await startCliServer({ CLIP_EDGE_THREAD_NICE: '10', CLIP_EDGE_DECODE_THREADS: '1' });
    try {
      // One image through both kinds of thread (the inference thread runs since warm-up).
      const r = await fetch(`${s.url}/v1/embed/image`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(jpgs[0]!) });
      expect(r.status).toBe(200);
      // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value; the task named like the pid is the main thread.
      const niceOf = (tid: string) => {
        const stat = readFileSync(`/proc/${s.pid}/task/${tid}/stat`, 'utf8');
        return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) };
      };
      const main = niceOf(String(s.pid)).nice;
      const threads = readdirSync(`/proc/${s.pid}/task`).map(niceOf);
      // At least the decode thread and the inference thread (onnxruntime's own threads inherit it); measured: 3 of 17.
      expect(threads.filter((t) => t.nice === Math.min(19, main + 10)).length, JSON.stringify(threads)).toBeGreaterThanOrEqual(2);
    } finally {
      await s.stop();
    }
  }, 120_000);
});
