// npm run bench:hostile-images [-- --baseline <checkout of an earlier commit>] [--out bench/results/hostile-images.md]
//
// Issue 23's five probes at full size against `node bin/clip-edge.js serve` (loopback only, bounded
// counts), each kind after the other on one server: answers, wall time, the worst /healthz round
// trip while the probe ran (polled every 25 ms from a worker thread), and the server's RSS before
// and at its peak (sampled every 50 ms from /proc). With --baseline the same probes run first
// against a server started from that checkout (e.g. `git worktree add /tmp/base <commit>` with
// node_modules linked), so the figures compare in one run on one machine.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { healthzWhile } from './lib/faults.ts';
import { hostileProbes, type Probe } from './lib/hostile-images.ts';
import { rawExchange, requestHead } from './lib/socket.ts';
import { rssOf, startNode, type Target } from './lib/targets.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({ options: { baseline: { type: 'string' }, out: { type: 'string' } } });
const OUT = path.resolve(ROOT, args.out ?? 'bench/results/hostile-images.md');
const CLASSIFY = '/v1/classify?labelSet=tiny-clip-shapes&topK=1';
const MiB = 2 ** 20;

interface Row {
  probe: string;
  answers: string;
  seconds: number;
  healthzWorstMs: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
}

async function run(target: Target, list: Probe[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const p of list) {
    const before = rssOf(target.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(target.pid))), 50);
    const t0 = performance.now();
    const running = Promise.all(
      Array.from({ length: p.copies }, () =>
        rawExchange(target.url, { pieces: [requestHead('POST', CLASSIFY, [`Content-Type: ${p.type}`, `Content-Length: ${p.body.length}`]), p.body], timeoutMs: 600_000 }),
      ),
    );
    const [rs, healthz] = await Promise.all([running, healthzWhile(target.url, running)]);
    clearInterval(sampler);
    const answers: Record<string, number> = {};
    for (const r of rs) {
      const k = `${r.status} ${/"code":"([A-Z_]+)"/.exec(r.body)?.[1] ?? ''}`.trim();
      answers[k] = (answers[k] ?? 0) + 1;
    }
    rows.push({
      probe: p.name,
      answers: Object.entries(answers).map(([k, n]) => `${n}× ${k}`).join(', '),
      seconds: +((performance.now() - t0) / 1000).toFixed(2),
      healthzWorstMs: healthz.worstMs,
      rssBeforeMiB: Math.round(before / MiB),
      rssPeakMiB: Math.round(peak / MiB),
    });
    process.stderr.write(`  ${p.name}: ${rows.at(-1)!.answers} in ${rows.at(-1)!.seconds} s, /healthz worst ${healthz.worstMs} ms, RSS ${rows.at(-1)!.rssBeforeMiB} → ${rows.at(-1)!.rssPeakMiB} MiB\n`);
  }
  return rows;
}

const list = await hostileProbes();
const results: { server: string; rows: Row[] }[] = [];
for (const [label, root] of [...(args.baseline ? [['baseline', path.resolve(args.baseline)]] : []), ['this checkout', ROOT]] as [string, string][]) {
  process.stderr.write(`${label} (${root})\n`);
  const target = await startNode({ CLIP_EDGE_REQUEST_TIMEOUT_MS: '30000' }, root);
  try {
    results.push({ server: `${label}: ${target.describe}`, rows: await run(target, list) });
  } finally {
    await target.stop();
  }
}

const md = [
  '# Hostile images (issue 23)',
  '',
  `\`npm run bench:hostile-images${args.baseline ? ' -- --baseline <checkout>' : ''}\`, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}. ` +
    'One server per checkout, the probes one kind after another, request deadline 30 s.',
  '',
  ...list.map((p) => `- **${p.name}**: ${p.what}`),
  '',
  ...results.flatMap((r) => [
    `## ${r.server}`,
    '',
    '| probe | answers | wall s | /healthz worst ms | RSS before → peak MiB |',
    '| --- | --- | ---: | ---: | ---: |',
    ...r.rows.map((x) => `| ${x.probe} | ${x.answers} | ${x.seconds} | ${x.healthzWorstMs} | ${x.rssBeforeMiB} → ${x.rssPeakMiB} |`),
    '',
  ]),
];
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, md.join('\n'));
writeFileSync(OUT.replace(/\.md$/, '.json'), JSON.stringify({ probes: list.map((p) => ({ name: p.name, what: p.what, bytes: p.body.length })), results }, null, 2));
process.stderr.write(`wrote ${path.relative(ROOT, OUT)}\n`);
