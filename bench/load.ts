// npm run bench:load [-- --requests 1000 --concurrency 32 --targets node,workerd --phases load,recovery --scale 4 --limit 16]
//
// Load on loopback (127.0.0.1 only, bounded counts): for each target —
//   node:    `node bin/clip-edge.js serve` (the `npm start` path, default backend and variant),
//   workerd: `wrangler dev --local` on wrangler.toml's Worker (vision only, R2/KV filled by
//            `npm run workers:upload -- --local` into a private state folder),
// 1. `--requests` POST /v1/classify (labelSet=tiny-clip-shapes, the bundled eval images in turn) at
//    `--concurrency`: p50/p99 latency, statuses and error codes, the server process's RSS after every
//    answer (first vs last 200);
// 2. ten chunked uploads of 64 MiB at once (limit 10 MiB): statuses, bytes the client got out before
//    the answer, server RSS before / peak / after;
// 3. 32 clients that send 1 KiB of a 1 MiB body and stall, while 64 normal requests run: statuses,
//    RSS. The servers run with CLIP_EDGE_REQUEST_TIMEOUT_MS=5000 so that this phase stays short.
// Writes bench/results/reliability-load.{json,md}.
// 4. (phase `recovery`, a fresh server per target with CLIP_EDGE_MAX_IN_FLIGHT=`--limit` and a 5 s
//    deadline) every fault of bench/lib/faults.ts at `--scale`, each followed by the full-capacity
//    check: writes bench/results/reliability-recovery.{json,md}.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FAULTS, type FaultResult, runFault } from './lib/faults.ts';
import { chunkFrame, writeWithBackpressure } from './lib/socket.ts';
import { rssOf, startNode, startWorkerd, type Target } from './lib/targets.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    targets: { type: 'string' },
    phases: { type: 'string' },
    scale: { type: 'string' },
    limit: { type: 'string' },
  },
});
const arg = (name: keyof typeof args, fallback: string): string => args[name] ?? fallback;
const REQUESTS = Number(arg('requests', '1000'));
const CONCURRENCY = Number(arg('concurrency', '32'));
const TARGETS = arg('targets', 'node,workerd').split(',');
const PHASES = arg('phases', 'load,recovery').split(',');
const SCALE = Number(arg('scale', '4'));
const LIMIT = Number(arg('limit', '16'));
const TIMEOUT_MS = 5000;
const MiB = 2 ** 20;

const evalDir = path.join(ROOT, 'test/fixtures/tiny-clip-eval');
const evalSet = JSON.parse(readFileSync(path.join(evalDir, 'labels.json'), 'utf8')) as { images: { file: string }[] };
const images = evalSet.images.map((i) => ({ type: i.file.endsWith('.png') ? 'image/png' : 'image/jpeg', bytes: readFileSync(path.join(evalDir, i.file)) }));

type Server = Target;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * One POST on its own connection (`Connection: close`), so that a keep-alive race (the server closing
 * an idle connection as the client reuses it) cannot be mistaken for a server failure.
 */
function post(url: string, type: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': type, 'content-length': body.length, connection: 'close' }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** Bodies that were not the app's JSON, and transport failures (first few kept for the report). */
const nonJson: string[] = [];

async function classify(url: string, i: number): Promise<{ status: number; code?: string; ms: number }> {
  const img = images[i % images.length]!;
  const t0 = performance.now();
  try {
    const r = await post(`${url}/v1/classify?labelSet=tiny-clip-shapes&topK=3`, img.type, img.bytes);
    const text = r.text;
    const ms = performance.now() - t0;
    let body: { results?: unknown[]; error?: { code: string } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      nonJson.push(`${r.status} ${text.slice(0, 200)}`);
      return { status: r.status, code: 'NOT_JSON', ms };
    }
    if (r.status === 200 && body.results?.length !== 3) return { status: -1, code: 'BAD_BODY', ms };
    return { status: r.status, ...(body.error ? { code: body.error.code } : {}), ms };
  } catch (e) {
    nonJson.push(`fetch failed after ${Math.round(performance.now() - t0)} ms: ${e instanceof Error ? `${e.message} ${String((e as { cause?: unknown }).cause ?? '')}` : String(e)}`);
    return { status: 0, code: e instanceof Error ? e.name : 'ERROR', ms: performance.now() - t0 };
  }
}

async function loadPhase(s: Server) {
  for (let i = 0; i < 20; i++) await classify(s.url, i); // warm-up, not counted
  const results: { status: number; code?: string; ms: number; rss: number }[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const r = await classify(s.url, next++);
        results.push({ ...r, rss: rssOf(s.pid) });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const breakdown: Record<string, number> = {};
  for (const r of results) breakdown[r.code ? `${r.status} ${r.code}` : String(r.status)] = (breakdown[`${r.code ? `${r.status} ${r.code}` : String(r.status)}`] ?? 0) + 1;
  const unexpected = results.filter((r) => ![200, 429, 503].includes(r.status)).length;
  const first = mean(results.slice(0, 200).map((r) => r.rss));
  const last = mean(results.slice(-200).map((r) => r.rss));
  const ok = results.filter((r) => r.status === 200).map((r) => r.ms);
  return {
    requests: results.length,
    concurrency: CONCURRENCY,
    seconds: +seconds.toFixed(1),
    requestsPerSecond: +(results.length / seconds).toFixed(1),
    statuses: breakdown,
    unexpectedErrors: unexpected,
    latencyMs: { p50: +quantile(ok, 0.5).toFixed(1), p90: +quantile(ok, 0.9).toFixed(1), p99: +quantile(ok, 0.99).toFixed(1), max: +Math.max(...ok).toFixed(1) },
    rss: {
      first200MiB: +(first / MiB).toFixed(1),
      last200MiB: +(last / MiB).toFixed(1),
      growth: +(last / first - 1).toFixed(4),
      curveMiB: results.filter((_, i) => i % 50 === 49).map((r) => +(r.rss / MiB).toFixed(1)),
    },
  };
}

/** A raw HTTP/1.1 POST: headers, then a body written chunked or stalled; resolves with the status and bytes sent. */
function raw(url: string, o: { chunked?: { chunk: Buffer; count: number }; stall?: { length: number; send: number } }): Promise<{ status: number; code?: string; sent: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), hostname);
    let sent = 0;
    let response = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
      const code = /"code":"([A-Z_]+)"/.exec(response)?.[1];
      resolve({ status: m ? Number(m[1]) : 0, ...(code ? { code } : {}), sent });
      s.destroy();
    };
    s.on('error', finish);
    s.on('close', finish);
    s.on('data', (d) => {
      response += d.toString('latin1');
      const end = response.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /content-length:\s*(\d+)/i.exec(response.slice(0, end))?.[1];
      if (length !== undefined ? response.length - end - 4 >= Number(length) : response.endsWith('0\r\n\r\n')) finish();
    });
    s.setTimeout(60_000, finish);
    s.on('connect', async () => {
      const type = o.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${o.stall!.length}`;
      s.write(`POST /v1/classify?labelSet=tiny-clip-shapes HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: image/jpeg\r\n${type}\r\n\r\n`);
      if (o.stall) {
        s.write(Buffer.alloc(o.stall.send, 0xff));
        sent = o.stall.send;
        return;
      }
      const { chunk, count } = o.chunked!;
      for (let i = 0; i < count && !response && !s.destroyed; i++) {
        sent += chunk.length;
        await writeWithBackpressure(s, chunkFrame(chunk));
      }
      if (!response && !s.destroyed) s.write('0\r\n\r\n');
    });
  });
}

async function sampled<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; before: number; peak: number; after: number }> {
  const before = rssOf(pid);
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
  const result = await work();
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssOf(pid);
  return { result, before, peak: Math.max(peak, after), after };
}

const count = (xs: { status: number; code?: string }[]) => {
  const out: Record<string, number> = {};
  for (const x of xs) out[`${x.status}${x.code ? ` ${x.code}` : ''}`] = (out[`${x.status}${x.code ? ` ${x.code}` : ''}`] ?? 0) + 1;
  return out;
};

async function abusePhases(s: Server) {
  const chunk = Buffer.alloc(64 * 1024, 0xab);
  const oversized = await sampled(s.pid, () => Promise.all(Array.from({ length: 10 }, () => raw(s.url, { chunked: { chunk, count: 1024 } }))));
  const slow = await sampled(s.pid, async () => {
    const stalled = Array.from({ length: 32 }, () => raw(s.url, { stall: { length: MiB, send: 1024 } }));
    await new Promise((r) => setTimeout(r, 200));
    const normal: Awaited<ReturnType<typeof classify>>[] = [];
    let i = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (i < 64) normal.push(await classify(s.url, i++));
    }));
    return { stalled: await Promise.all(stalled), normal };
  });
  const mib = (x: number) => +(x / MiB).toFixed(1);
  return {
    oversized: {
      uploads: 10,
      attemptedMiB: 64,
      limitMiB: 10,
      statuses: count(oversized.result),
      sentBeforeAnswerMiB: { max: mib(Math.max(...oversized.result.map((r) => r.sent))), mean: mib(mean(oversized.result.map((r) => r.sent))) },
      rssMiB: { before: mib(oversized.before), peak: mib(oversized.peak), after: mib(oversized.after) },
    },
    slowBodies: {
      clients: 32,
      deadlineMs: TIMEOUT_MS,
      stalledStatuses: count(slow.result.stalled),
      normalDuringAttack: count(slow.result.normal),
      rssMiB: { before: mib(slow.before), peak: mib(slow.peak), after: mib(slow.after) },
    },
  };
}

const machine = () => `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}`;

async function loadRun(): Promise<void> {
  const out: Record<string, unknown> = {};
  for (const target of TARGETS) {
    console.error(`== ${target}`);
    const env = { CLIP_EDGE_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) };
    const s = target === 'node' ? await startNode(env) : await startWorkerd(env);
    try {
      console.error(`  ${s.describe}; load: ${REQUESTS} requests at concurrency ${CONCURRENCY}`);
      const load = await loadPhase(s);
      console.error(`  p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, statuses ${JSON.stringify(load.statuses)}, RSS growth ${(load.rss.growth * 100).toFixed(1)} %`);
      const abuse = await abusePhases(s);
      console.error(`  oversized ${JSON.stringify(abuse.oversized.statuses)}, slow ${JSON.stringify(abuse.slowBodies.stalledStatuses)}, normal during slow ${JSON.stringify(abuse.slowBodies.normalDuringAttack)}`);
      out[target] = { server: s.describe, load, ...abuse, failures: [...new Set(nonJson.splice(0))].slice(0, 10) };
      if ((out[target] as { failures: string[] }).failures.length) console.error(`  failures: ${(out[target] as { failures: string[] }).failures.join('\n    ')}`);
    } finally {
      await s.stop();
    }
  }
  const result = {
    command: `npm run bench:load -- --requests ${REQUESTS} --concurrency ${CONCURRENCY} --targets ${TARGETS.join(',')} --phases load`,
    date: new Date().toISOString(),
    machine: machine(),
    targets: out,
  };
  writeFileSync(path.join(ROOT, 'bench/results/reliability-load.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/reliability-load.md'), markdown(result));
  console.error('wrote bench/results/reliability-load.{json,md}');
}

async function recoveryRun(): Promise<void> {
  const img = images.find((i) => i.type === 'image/jpeg')!;
  const out: Record<string, { server: string; baselineRssMiB: number; faults: FaultResult[] }> = {};
  for (const target of TARGETS) {
    console.error(`== ${target}: faults and recovery (limit ${LIMIT}, deadline ${TIMEOUT_MS} ms, scale ${SCALE})`);
    const env = { CLIP_EDGE_MAX_IN_FLIGHT: String(LIMIT), CLIP_EDGE_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) };
    const s = target === 'node' ? await startNode(env) : await startWorkerd(env);
    try {
      for (let i = 0; i < 20; i++) await classify(s.url, i); // warm-up
      const baselineRssMiB = +(rssOf(s.pid) / MiB).toFixed(1);
      const faults: FaultResult[] = [];
      for (const f of FAULTS) {
        const r = await runFault(f, { target: s, limit: LIMIT, deadlineMs: TIMEOUT_MS, scale: SCALE, image: { type: img.type, bytes: img.bytes } });
        faults.push(r);
        const rc = r.recovery;
        console.error(`  ${f.name}: ${JSON.stringify(r.outcomes)}${r.unexpected.length ? ` UNEXPECTED ${r.unexpected.join(', ')}` : ''}; settled ${rc.settleMs} ms, gauge ${rc.gauge.inFlight} (${rc.gauge.released}/${rc.gauge.admitted}, abandoned ${rc.gauge.abandoned}), ${rc.statuses.filter((x) => x === 200).length}/${LIMIT} × 200, healthz ${rc.healthzMs} ms (worst during ${r.healthzDuring.worstMs} ms of ${r.healthzDuring.polls}), RSS ${r.rssMiB.before} → peak ${r.rssMiB.peak} → ${rc.rssMiB} MiB`);
      }
      out[target] = { server: s.describe, baselineRssMiB, faults };
    } finally {
      await s.stop();
    }
  }
  const result = {
    command: `npm run bench:load -- --targets ${TARGETS.join(',')} --phases recovery --scale ${SCALE} --limit ${LIMIT}`,
    date: new Date().toISOString(),
    machine: machine(),
    limit: LIMIT,
    deadlineMs: TIMEOUT_MS,
    scale: SCALE,
    targets: out,
  };
  writeFileSync(path.join(ROOT, 'bench/results/reliability-recovery.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/reliability-recovery.md'), recoveryMarkdown(result));
  console.error('wrote bench/results/reliability-recovery.{json,md}');
}

function recoveryMarkdown(r: { command: string; date: string; machine: string; limit: number; deadlineMs: number; targets: Record<string, { server: string; baselineRssMiB: number; faults: FaultResult[] }> }): string {
  const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(', ');
  const lines = [
    '# Faults and recovery (reliability report, part 3)',
    '',
    `\`${r.command}\` — ${r.date.slice(0, 10)}, ${r.machine}. Each fault is sent over raw sockets on 127.0.0.1; then the`,
    `full-capacity check: the in-flight gauge (\`GET /v1/load\`) polled until 0 ("settled"), ${r.limit} concurrent normal`,
    `classify requests (the limit, \`CLIP_EDGE_MAX_IN_FLIGHT=${r.limit}\`), the worst of 5 \`/healthz\` round trips, the server's RSS.`,
    `Request deadline ${r.deadlineMs} ms. The same faults run small in \`npm test\` (\`test/e2e/recovery.test.ts\`, limit 4, deadline 1 s, scale 1).`,
    '',
  ];
  for (const [t, x] of Object.entries(r.targets)) {
    lines.push(`## ${t}`, '', `${x.server}; RSS after warm-up ${x.baselineRssMiB} MiB.`, '');
    lines.push('| fault | what was sent | answers | unexpected | settled ms | gauge (released / admitted, abandoned) | limit × normal | /healthz ms after | /healthz during: worst ms (polls) | RSS before / peak / after (MiB) |');
    lines.push('| --- | --- | --- | --- | ---: | --- | --- | ---: | --- | --- |');
    for (const f of x.faults) {
      const rc = f.recovery;
      lines.push(`| ${f.fault} | ${f.what} | ${fmt(f.outcomes)} | ${f.unexpected.length ? f.unexpected.join(', ') : 'none'} | ${rc.settleMs} | ${rc.gauge.inFlight} (${rc.gauge.released} / ${rc.gauge.admitted}, ${rc.gauge.abandoned}) | ${rc.statuses.filter((s) => s === 200).length} / ${rc.statuses.length} × 200 | ${rc.healthzMs} | ${f.healthzDuring.worstMs} (${f.healthzDuring.polls}) | ${f.rssMiB.before} / ${f.rssMiB.peak} / ${rc.rssMiB} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  if (PHASES.includes('load')) await loadRun();
  if (PHASES.includes('recovery')) await recoveryRun();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function markdown(r: { command: string; date: string; machine: string; targets: Record<string, any> }): string {
  const rows = Object.entries(r.targets);
  const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(', ');
  return [
    '# Load on loopback (reliability report, part 2)',
    '',
    `\`${r.command}\` — ${r.date.slice(0, 10)}, ${r.machine}. Servers on 127.0.0.1 with default limits except a 5 s request deadline.`,
    '',
    ...rows.map(([t, x]) => `- **${t}**: ${x.server}`),
    '',
    `## ${REQUESTS} classify requests at concurrency ${CONCURRENCY}`,
    '',
    '| target | req/s | p50 ms | p90 ms | p99 ms | statuses | unexpected errors | RSS first 200 → last 200 (MiB) | growth |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |',
    ...rows.map(([t, x]) => `| ${t} | ${x.load.requestsPerSecond} | ${x.load.latencyMs.p50} | ${x.load.latencyMs.p90} | ${x.load.latencyMs.p99} | ${fmt(x.load.statuses)} | ${x.load.unexpectedErrors} | ${x.load.rss.first200MiB} → ${x.load.rss.last200MiB} | ${(x.load.rss.growth * 100).toFixed(1)} % |`),
    '',
    'RSS every 50 requests (MiB):',
    '',
    ...rows.map(([t, x]) => `- ${t}: ${x.load.rss.curveMiB.join(' ')}`),
    '',
    '## Oversized bodies: 10 chunked uploads of 64 MiB at once (limit 10 MiB)',
    '',
    '| target | statuses | sent before the answer, max / mean (MiB) | server RSS before / peak / after (MiB) |',
    '| --- | --- | --- | --- |',
    ...rows.map(([t, x]) => `| ${t} | ${fmt(x.oversized.statuses)} | ${x.oversized.sentBeforeAnswerMiB.max} / ${x.oversized.sentBeforeAnswerMiB.mean} | ${x.oversized.rssMiB.before} / ${x.oversized.rssMiB.peak} / ${x.oversized.rssMiB.after} |`),
    '',
    `## Slow bodies: 32 clients send 1 KiB of 1 MiB and stall; 64 normal requests meanwhile (deadline ${TIMEOUT_MS} ms)`,
    '',
    '| target | stalled clients got | normal requests got | server RSS before / peak / after (MiB) |',
    '| --- | --- | --- | --- |',
    ...rows.map(([t, x]) => `| ${t} | ${fmt(x.slowBodies.stalledStatuses)} | ${fmt(x.slowBodies.normalDuringAttack)} | ${x.slowBodies.rssMiB.before} / ${x.slowBodies.rssMiB.peak} / ${x.slowBodies.rssMiB.after} |`),
    '',
  ].join('\n');
}

await main();
