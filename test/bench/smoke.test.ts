import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/lib/report.ts';
import { headline } from '../../bench/lib/report.ts';
import { README_END, README_START, readmeSection, updateReadme } from '../../bench/lib/readme.ts';
import { REPO_ROOT } from '../helpers/clip.ts';

// Runs every benchmark once on the bundled model with tiny iteration counts (`--smoke`) into a
// temporary folder and checks the report's structure and sanity. No timing is asserted.
describe('npm run bench -- --smoke', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  let result: BenchResult;
  let files: string[];

  it('runs every case without an error and writes JSON, markdown and two SVG charts', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out, '--no-readme'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 280_000 });
    expect(r.status, `${r.stderr.slice(-4000)}`).toBe(0);
    files = readdirSync(out).sort();
    const json = files.find((f) => /-bench-tiny-clip\.json$/.test(f));
    expect(json).toBeDefined();
    result = JSON.parse(readFileSync(path.join(out, json!), 'utf8')) as BenchResult;
    expect(result.errors).toEqual([]);
    expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(2);
    expect(files.some((f) => f.endsWith('-bench-tiny-clip.md'))).toBe(true);
  }, 300_000);

  it('records versions, CPU, threads and the exact command', () => {
    expect(result.command).toBe(`npm run bench -- --smoke --out ${out} --no-readme`);
    expect(result.machine).toMatchObject({ cpu: expect.any(String), cores: expect.any(Number) });
    for (const k of ['node', 'onnxruntime-web', 'onnxruntime-node', '@huggingface/transformers', 'transformers.js onnxruntime-web', 'deno', 'bun', 'workerd']) {
      expect(result.versions[k], k).toMatch(/\d+\.\d+/);
    }
    expect(result.threads).toEqual([1]);
  });

  it('has both peers for every classify row, on the same photos, agreeing on most top-1 labels', () => {
    expect(result.classify.map((c) => c.backend).sort()).toEqual(['node', 'wasm']);
    for (const c of result.classify) {
      for (const impl of [c.clipEdge, c.peer]) {
        expect(impl.steady.medianMs).toBeGreaterThan(0);
        expect(impl.steady.p90Ms).toBeGreaterThanOrEqual(impl.steady.medianMs);
        expect(impl.top1).toHaveLength(result.photos.count);
      }
      expect(c.top1Agreement).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('has vision figures per variant on WASM, onnxruntime-node and workerd, with memory', () => {
    for (const backend of ['wasm', 'node', 'workerd']) {
      for (const variant of ['fp32', 'int8']) {
        const v = result.vision.find((x) => x.backend === backend && x.variant === variant);
        expect(v?.forward?.medianMs, `${backend} ${variant}`).toBeGreaterThan(0);
      }
    }
    const wasm = result.vision.find((x) => x.backend === 'wasm' && x.variant === 'fp32')!;
    expect(wasm.rssMiB).toBeGreaterThan(0);
    expect(wasm.wasmHeapMiB).toBeGreaterThanOrEqual(16);
  });

  it('cross-checks embeddings: text equal, images equal on the same pixels', () => {
    expect(result.crosscheck!.text.min).toBeGreaterThan(0.9999);
    expect(result.crosscheck!.imageSamePixels.min).toBeGreaterThan(0.9999);
    expect(result.crosscheck!.image.mean).toBeGreaterThan(0.95);
    expect(result.preprocess!.clipEdge.medianMs).toBeGreaterThan(0);
    expect(result.preprocess!.diffLevels.mean).toBeLessThan(20);
  });

  it('has throughput levels and cold starts on Node, Deno, Bun and workerd', () => {
    const t = result.throughput[0]!;
    expect(t.levels.map((l) => l.concurrency)).toEqual([1, 4]);
    for (const l of t.levels) expect(l.requestsPerSecond).toBeGreaterThan(0);
    expect(result.coldStart.map((c) => c.runtime).sort()).toEqual(['bun', 'deno', 'node', 'workerd']);
    for (const c of result.coldStart) expect(c.firstAnswerMs).toBeGreaterThan(0);
  });

  it('writes the summary with ratio columns and charts with one bar per measured value', () => {
    const md = readFileSync(path.join(out, files.find((f) => f.endsWith('.md'))!), 'utf8');
    expect(md).toContain('| measure | clip-edge | peer | peer median (p90) | clip-edge / peer | target |');
    const rows = headline(result);
    expect(rows.filter((r) => r.ratio !== undefined).length).toBeGreaterThanOrEqual(4);
    for (const r of rows.filter((x) => x.ratio !== undefined)) expect(md).toContain(`**${r.ratio!.toFixed(2)}×**`);
    const classifySvg = readFileSync(path.join(out, files.find((f) => f.endsWith('-classify.svg'))!), 'utf8');
    expect(classifySvg.startsWith('<svg')).toBe(true);
    expect(classifySvg.match(/class="bar"/g)).toHaveLength(result.classify.length * 2);
  });

  it('regenerates the docs/benchmarks.md section between its markers, and refuses a page without them', () => {
    const readme = path.join(out, 'benchmarks.md');
    copyFileSync(path.join(REPO_ROOT, 'docs/benchmarks.md'), readme);
    updateReadme(readme, out);
    const text = readFileSync(readme, 'utf8');
    const block = text.slice(text.indexOf(README_START), text.indexOf(README_END));
    expect(block).toBe(`${README_START}\n\n${readmeSection(out, out).trimEnd()}\n\n`);
    expect(block).toContain('| measure | clip-edge |');
    writeFileSync(readme, '# no markers\n');
    expect(() => updateReadme(readme, out)).toThrow(/no benchmark markers/);
  });
});
