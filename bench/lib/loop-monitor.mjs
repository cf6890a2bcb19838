// Preloaded into a server (NODE_OPTIONS=--import=…/loop-monitor.mjs, LOOP_MONITOR_OUT=file.json) by
// bench/event-loop.ts. In the main thread only (worker threads preload it too, and return at once):
// on each SIGUSR2 it writes what it saw since the last one: the event-loop delay histogram
// (perf_hooks monitorEventLoopDelay, 1 ms resolution), every GC pause, and a CPU profile of the
// main thread (node:inspector, 0.5 ms sampling) to LOOP_MONITOR_OUT + '.cpuprofile'.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const out = process.env.LOOP_MONITOR_OUT;
if (isMainThread && out) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const gc = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.push({ kind: e.detail?.kind, ms: +e.duration.toFixed(2) });
  }).observe({ entryTypes: ['gc'] });
  const session = new Session();
  session.connect();
  const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  const profiling = post('Profiler.enable').then(() => post('Profiler.setSamplingInterval', { interval: 500 })).then(() => post('Profiler.start'));
  process.on('SIGUSR2', async () => {
    await profiling;
    const { profile } = await post('Profiler.stop');
    writeFileSync(`${out}.cpuprofile`, JSON.stringify(profile));
    await post('Profiler.start');
    const ms = (ns) => +(ns / 1e6).toFixed(2);
    const pct = Object.fromEntries([50, 90, 99, 99.9, 100].map((p) => [`p${p}`, ms(p === 100 ? h.max : h.percentile(p))]));
    gc.sort((a, b) => b.ms - a.ms);
    writeFileSync(out, JSON.stringify({ delayMs: { ...pct, mean: ms(h.mean), count: h.count }, gc: { count: gc.length, totalMs: +gc.reduce((s, g) => s + g.ms, 0).toFixed(1), worst: gc.slice(0, 8) } }));
    h.reset();
    gc.length = 0;
  });
}
