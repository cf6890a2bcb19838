// The fault-and-recovery suite (issue 18): each fault is thrown at a running server over raw
// sockets, then the server must be back to full capacity — the in-flight gauge at 0 (every
// admission released), `limit` concurrent normal classify requests all answered 200, /healthz
// answering fast, and the server's memory within bounds. Shared by `test/e2e/recovery.test.ts`
// (small, in `npm test`, Node and workerd) and `npm run bench:load` (larger, figures for
// bench/results/reliability.md).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { deflateSync, gzipSync } from 'node:zlib';
import { blankPng, claimingWebp, fragmentedPng, noisyPng, pngChunk, repeatedScanJpeg } from './hostile-images.ts';
import { chunkFrame, rawExchange, type RawExchangeResult, requestHead } from './socket.ts';
import { rssOf, type Target } from './targets.ts';

export interface FaultContext {
  target: Target;
  /** The server's CLIP_EDGE_MAX_IN_FLIGHT. */
  limit: number;
  /** The server's CLIP_EDGE_REQUEST_TIMEOUT_MS. */
  deadlineMs: number;
  /** 1 in `npm test`; the bench uses more (clients per fault, sizes). */
  scale: number;
  /** A valid image to classify. */
  image: { type: string; bytes: Uint8Array };
}

/** What the clients of a fault got: "<status> <code>" → count (status 0: no answer, the client left). */
export type Outcomes = Record<string, number>;

export interface Fault {
  name: string;
  /** What is sent, for the report. */
  what: (c: FaultContext) => string;
  /** Answers that are right for this fault (by "<status> <code>" prefix); anything else is a failure. */
  allowed: string[];
  /** More answers that are right on one server only (with the reason in a comment where it is set). */
  allowedOn?: Partial<Record<Target['name'], string[]>>;
  /** Builds what the fault sends, before it starts (and before /healthz is polled). */
  prepare?: () => void;
  run(c: FaultContext): Promise<Outcomes>;
}

const CLASSIFY = '/v1/classify?labelSet=tiny-clip-shapes&topK=1';
const codeOf = (r: RawExchangeResult) => /"code":"([A-Z_]+)"/.exec(r.body)?.[1];
/** "<status> <code>"; an answer the client cut off by leaving (its head came, not all its body) is "cut off <status>". */
const outcomeOf = (r: RawExchangeResult) => (r.status && !r.complete && !codeOf(r) ? `cut off ${r.status}` : `${r.status}${codeOf(r) ? ` ${codeOf(r)}` : ''}`);
const tally = (rs: RawExchangeResult[]): Outcomes => {
  const out: Outcomes = {};
  for (const r of rs) out[outcomeOf(r)] = (out[outcomeOf(r)] ?? 0) + 1;
  return out;
};
const times = <T>(n: number, f: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => f(i)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A normal classify over its own connection. */
export const normalClassify = (c: FaultContext) =>
  rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, [`Content-Type: ${c.image.type}`, `Content-Length: ${c.image.bytes.length}`, 'Connection: close']), c.image.bytes], timeoutMs: 60_000 });

/** A 64×64 RGB PNG whose IDAT inflates to `inflatedBytes` of zeros (the image needs 12,352): a zlib bomb. */
export function zlibBombPng(inflatedBytes: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(64, 0);
  ihdr.writeUInt32BE(64, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(inflatedBytes), { level: 9 })), pngChunk('IEND', new Uint8Array(0))]);
}

/** A PNG header that claims 100,000 × 100,000 pixels. */
export function headerBombPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(1000)))]);
}

const emptyFilePart = (boundary: string) => `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n\r\n`;
const manyParts = (parts: number, boundary: string) => Buffer.from(`${emptyFilePart(boundary).repeat(parts)}--${boundary}--\r\n`, 'latin1');

/** Bodies that take a while to build, made once (before a fault's clock starts, see `prepare`). */
const memo = <T>(make: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= make());
};
const floodBody = memo(() => manyParts(140_000, 'flood'));

/** Parts of the flood that {@link floodPrefix} sends: past the server's cap of 512, a sliver of the 140,000 declared. */
const PREFIX_PARTS = 600;

/**
 * The parser's bound, seen from outside without a clock: one client declares the whole flood body
 * (Content-Length 9.5 MB) but sends only its first 600 parts, then stalls. A parser that parses as
 * the body streams in stops at part 513 and answers 413 with the rest never sent; one that reads the
 * whole body before parsing it (Request.formData(), which then held the event loop ~6 s) waits for
 * bytes that never come, and the client gets the deadline's 503 TIMEOUT or no answer. (The answer
 * comes after the drain of unread-body.ts gives up on the stalled body: 2 s without bytes.)
 */
export async function floodPrefix(url: string): Promise<RawExchangeResult & { declared: number }> {
  const body = floodBody();
  const prefix = body.subarray(0, PREFIX_PARTS * emptyFilePart('flood').length);
  const head = requestHead('POST', CLASSIFY, ['Content-Type: multipart/form-data; boundary=flood', `Content-Length: ${body.length}`]);
  return { ...(await rawExchange(url, { pieces: [head, prefix], then: 'wait', timeoutMs: 60_000 })), declared: body.length };
}

const bombBodies = memo((): [string, Buffer, string[]][] => [
  ['image/png', headerBombPng(), []],
  ['image/png', zlibBombPng(64 * 1024 * 1024), []],
  ['image/png', gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }), ['Content-Encoding: gzip']],
]);

/** Issue 23's probes, each an image whose decode would cost far more than its bytes: [probe, content type, body, copies at once]. */
const hostileBodies = memo((): [string, string, Buffer, number][] => [
  ['scans', 'image/jpeg', repeatedScanJpeg(readFileSync(new URL('../../test/fixtures/pil/inputs/progressive.jpg', import.meta.url)), 2000), 1],
  ['webp', 'image/webp', claimingWebp(6324, 6324), 16],
  ['chunks', 'image/png', fragmentedPng(noisyPng(300, 300), 1), 1],
  ['png16', 'image/png', blankPng(1000, 1000, { depth: 16, colorType: 6 }), 1],
  ['tall', 'image/png', blankPng(1, 1_000_000), 1],
]);

export const FAULTS: Fault[] = [
  {
    name: 'stalled bodies',
    what: (c) => `${c.limit + 2 * c.scale} clients send 5 of 100 bytes (Content-Length: 100) and stall`,
    allowed: ['503 TIMEOUT', '503 OVERLOADED'],
    run: async (c) =>
      tally(await times(c.limit + 2 * c.scale, () => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, ['Content-Type: image/jpeg', 'Content-Length: 100']), 'abcde'], untilClose: true, timeoutMs: c.deadlineMs + 20_000 }))),
  },
  {
    name: 'lying Content-Length',
    what: (c) => `${2 * c.scale} clients claim 5,000 bytes, send 10 and half-close; ${2 * c.scale} claim 10 and send a whole JPEG`,
    // Fewer bytes than claimed: the upload broke off (400), or the deadline came first (503), or the
    // connection closed unanswered (0). More: the first 10 bytes are not an image (4xx), and the rest
    // is not a request either (Node's parser answers 400 on its own).
    allowed: ['400', '413', '415', '503 TIMEOUT', '0'],
    run: async (c) => {
      const short = times(2 * c.scale, () => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, ['Content-Type: image/jpeg', 'Content-Length: 5000']), 'abcdefghij'], then: 'end', timeoutMs: c.deadlineMs + 20_000 }));
      const long = times(2 * c.scale, () => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, [`Content-Type: ${c.image.type}`, 'Content-Length: 10']), c.image.bytes], timeoutMs: c.deadlineMs + 20_000 }));
      return tally([...(await short), ...(await long)]);
    },
  },
  {
    name: 'client aborts mid-upload',
    what: (c) => `${c.limit + c.scale} clients claim 1 MiB, send 64 KiB and drop the connection 50 ms later`,
    allowed: ['0', '503 OVERLOADED', 'cut off'],
    run: async (c) =>
      tally(await times(c.limit + c.scale, () => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, ['Content-Type: image/jpeg', 'Content-Length: 1048576']), new Uint8Array(65_536).fill(0xff)], then: 50 }))),
  },
  {
    name: 'client aborts mid-inference',
    what: (c) => `${c.limit + c.scale} clients send a whole JPEG and drop the connection 5 ms later`,
    allowed: ['0', '200', '503 OVERLOADED', 'cut off'],
    run: async (c) =>
      tally(await times(c.limit + c.scale, () => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, [`Content-Type: ${c.image.type}`, `Content-Length: ${c.image.bytes.length}`]), c.image.bytes], then: 5 }))),
  },
  {
    name: 'oversized multipart',
    what: (c) => `${2 * c.scale} chunked multipart uploads of 16 MiB each (body limit 10 MiB)`,
    // TIMEOUT when the machine is so loaded that 10 MiB do not arrive within the deadline.
    allowed: ['413 PAYLOAD_TOO_LARGE', '503 OVERLOADED', '503 TIMEOUT'],
    // As for the many-part flood below: workerd's local server now and then drops the connection of
    // an upload the Worker refused mid-body, without the 413 (seen once, at load ~10, in a clean-clone
    // CI run; not reproduced in quiet reruns). recovery.test.ts requires at least one 413.
    allowedOn: { workerd: ['0'] },
    run: async (c) => {
      const head = `--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
      const chunk = chunkFrame(new Uint8Array(256 * 1024).fill(0xab));
      return tally(await times(2 * c.scale, () => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, ['Content-Type: multipart/form-data; boundary=b', 'Transfer-Encoding: chunked']), chunkFrame(Buffer.from(head)), ...Array<Buffer>(64).fill(chunk), '0\r\n\r\n'] })));
    },
  },
  {
    name: 'many-part multipart',
    what: (c) => `${2 * c.scale} bodies of 140,000 empty file parts at once (9.5 MB each, under the 10 MiB limit), and one that stalls after its first ${PREFIX_PARTS} parts`,
    // "prefix": floodPrefix's client, which must get its 413 with the body's rest unsent
    // (recovery.test.ts); OVERLOADED only where the bench sends more floods than the limit.
    allowed: ['413 PAYLOAD_TOO_LARGE', '503 OVERLOADED', 'prefix 413 PAYLOAD_TOO_LARGE', 'prefix 503 OVERLOADED'],
    // workerd's local server now and then reports the connection of a flood body lost before the
    // Worker reads it ("Network connection lost" at its first read; ~1 in 6 runs of test/e2e beside
    // test/http on a 2-core machine), and closes it without the 413. The attacker loses the answer;
    // the fault's point (no parsing of 140,000 parts, full capacity after) is asserted either way,
    // and recovery.test.ts requires at least one 413 and checks honest clients' refusals separately.
    // The stalled client may lose its answer the same way; it must never time out.
    allowedOn: { workerd: ['0', 'prefix 0'] },
    prepare: floodBody,
    run: async (c) => {
      const body = floodBody();
      const head = requestHead('POST', CLASSIFY, ['Content-Type: multipart/form-data; boundary=flood', `Content-Length: ${body.length}`]);
      const [floods, prefix] = await Promise.all([times(2 * c.scale, () => rawExchange(c.target.url, { pieces: [head, body] })), floodPrefix(c.target.url)]);
      const out = tally(floods);
      out[`prefix ${outcomeOf(prefix)}`] = 1;
      return out;
    },
  },
  {
    name: 'decompression bombs',
    what: (c) => `${c.scale} each: a PNG header claiming 100,000 × 100,000 pixels; a 64 × 64 PNG whose IDAT inflates to 64 MiB; a body of 64 MiB of zeros gzipped (Content-Encoding: gzip, 64 KiB on the wire)`,
    // The 64 × 64 bomb: classify streams the PNG row by row and stops inflating once its 64 rows
    // (12 KB) are read, ignoring the rest as PIL does: 200, having inflated ~12 KB; the whole-image
    // path refuses it as CORRUPT_IMAGE when the stream runs past its bound. Either way the 64 MiB is
    // never inflated (the RSS check in recovery.test.ts).
    allowed: ['413 IMAGE_TOO_LARGE', '400 CORRUPT_IMAGE', '200', '415', '503 OVERLOADED'],
    prepare: bombBodies,
    run: async (c) => {
      const bodies = bombBodies();
      const rs = await times(c.scale, () =>
        Promise.all(bodies.map(([type, body, extra]) => rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, [`Content-Type: ${type}`, `Content-Length: ${body.length}`, ...extra]), body] }))),
      );
      return tally(rs.flat());
    },
  },
  {
    name: 'hostile images',
    what: (c) =>
      `${c.scale} each, one kind after another: a progressive JPEG repeating a scan 2,000 times (3.4 MB); 16 at once of a 38-byte WebP claiming 6324×6324; ` +
      'a PNG cut into ~280,000 one-byte IDAT chunks (3.5 MB); a blank 16-bit RGBA PNG of 1000×1000; a 1×1,000,000 PNG (4 KB; its resize would be 224×224,000,000)',
    // Each probe has its answers: refused from the header / markers / chunk walk (4xx), or decoded
    // (the 16-bit PNG is an honest image: 200, or 503 TIMEOUT on a machine too loaded for the
    // deadline); OVERLOADED only where 16 arrive at once.
    allowed: ['scans 415 UNSUPPORTED_IMAGE', 'webp 413 IMAGE_TOO_LARGE', 'webp 503 OVERLOADED', 'chunks 415 UNSUPPORTED_IMAGE', 'png16 200', 'png16 503 TIMEOUT', 'tall 413 IMAGE_TOO_LARGE'],
    prepare: hostileBodies,
    run: async (c) => {
      const out: Outcomes = {};
      for (const [probe, type, body, copies] of hostileBodies()) {
        const rs = await times(copies * c.scale, () =>
          rawExchange(c.target.url, { pieces: [requestHead('POST', CLASSIFY, [`Content-Type: ${type}`, `Content-Length: ${body.length}`]), body], timeoutMs: c.deadlineMs + 30_000 }),
        );
        for (const [k, n] of Object.entries(tally(rs))) out[`${probe} ${k}`] = n;
      }
      return out;
    },
  },
  {
    name: 'slowloris headers',
    what: (c) => `${2 * c.limit * c.scale} clients send request headers a byte every 100 ms and never finish them; ${c.limit} normal requests meanwhile`,
    allowed: ['0', '408', 'normal 200'],
    run: async (c) => {
      const head = requestHead('POST', CLASSIFY, ['Content-Type: image/jpeg', 'Content-Length: 100', 'X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']);
      const dripped = times(2 * c.limit * c.scale, () => rawExchange(c.target.url, { pieces: [...head.slice(0, -2)], gapMs: 100, timeoutMs: 1_500 + c.deadlineMs }));
      await sleep(300);
      const normal = await times(c.limit, () => normalClassify(c));
      const out = tally(await dripped);
      for (const r of normal) out[`normal ${outcomeOf(r)}`] = (out[`normal ${outcomeOf(r)}`] ?? 0) + 1;
      return out;
    },
  },
  {
    name: 'burst past the in-flight limit',
    what: (c) => `${3 * c.limit * c.scale} normal classify requests at once (limit ${c.limit})`,
    allowed: ['200', '503 OVERLOADED'],
    run: async (c) => tally(await times(3 * c.limit * c.scale, () => normalClassify(c))),
  },
];

export interface Recovery {
  /** From the fault's last answer until the gauge read 0, in ms. */
  settleMs: number;
  gauge: { inFlight: number; admitted: number; released: number; abandoned: number };
  /** `limit` concurrent normal classify requests. */
  statuses: number[];
  /** Worst of 5 sequential /healthz round trips, in ms. */
  healthzMs: number;
  rssMiB: number;
}

type Gauge = Recovery['gauge'];

/**
 * A GET on its own connection (`Connection: close`): a kept-alive connection that workerd closes as
 * the client reuses it would otherwise read as a server failure (see reliability.md).
 */
const get = (url: string, p: string) => rawExchange(url, { pieces: [requestHead('GET', p, ['Connection: close'])], timeoutMs: 60_000 });
const gaugeOf = async (url: string): Promise<Gauge> => {
  const r = await get(url, '/v1/load');
  if (r.status !== 200) throw new Error(`GET /v1/load: ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as Gauge;
};
/** One /healthz round trip in ms (a failed one counts as the whole wait, and throws). */
const healthzMs = async (url: string): Promise<number> => {
  const r = await get(url, '/healthz');
  if (r.status !== 200) throw new Error(`GET /healthz: ${r.status} ${r.body.slice(0, 200)}`);
  return r.ms;
};

/** Waits (bounded) for every slot to come back, then checks full capacity. */
export async function recovery(c: FaultContext): Promise<Recovery> {
  const t0 = performance.now();
  let gauge = await gaugeOf(c.target.url);
  while (gauge.inFlight !== 0 && performance.now() - t0 < c.deadlineMs + 15_000) {
    await sleep(50);
    gauge = await gaugeOf(c.target.url);
  }
  const settleMs = performance.now() - t0;
  const statuses = (await times(c.limit, () => normalClassify(c))).map((r) => r.status);
  let worst = 0;
  for (let i = 0; i < 5; i++) worst = Math.max(worst, await healthzMs(c.target.url));
  return { settleMs: Math.round(settleMs), gauge: await gaugeOf(c.target.url), statuses, healthzMs: Math.round(worst), rssMiB: +(rssOf(c.target.pid) / 2 ** 20).toFixed(1) };
}

/** The answers a fault got that its `allowed` list does not cover. */
export const unexpected = (f: Fault, o: Outcomes, target?: Target['name']): string[] => {
  const allowed = [...f.allowed, ...((target && f.allowedOn?.[target]) ?? [])];
  return Object.keys(o).filter((k) => !allowed.some((a) => k === a || k.startsWith(`${a} `)));
};

export interface FaultResult {
  fault: string;
  what: string;
  outcomes: Outcomes;
  unexpected: string[];
  recovery: Recovery;
  /** Server RSS: before the fault, the most seen during it, in MiB. */
  rssMiB: { before: number; peak: number };
  /** /healthz polled every 25 ms while the fault ran. */
  healthzDuring: HealthzDuring;
}

// The /healthz poller runs in a worker thread of its own, so that what the attacking clients do in
// this thread (building and writing megabytes) is not counted as the server's delay.
const POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
let stop = false;
parentPort.on('message', () => (stop = true));
const once = () => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const req = http.get(workerData.url + '/healthz', { agent: false }, (r) => {
    r.resume();
    r.on('end', () => (r.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error('GET /healthz: ' + r.statusCode))));
  });
  req.on('error', reject);
});
(async () => {
  const ms = [];
  const answeredAt = [];
  while (!stop) {
    ms.push(await once());
    answeredAt.push(performance.timeOrigin + performance.now());
    if (ms.length === 1) parentPort.postMessage({ ready: true });
    await new Promise((r) => setTimeout(r, 25));
  }
  const samples = ms.map((x) => +x.toFixed(1));
  ms.sort((a, b) => a - b);
  const rank = (q) => ms.length ? +ms[Math.max(0, Math.ceil(ms.length * q) - 1)].toFixed(1) : 0;
  parentPort.postMessage({ worstMs: Math.round(ms.at(-1) ?? 0), polls: ms.length, p50Ms: rank(0.5), p99Ms: rank(0.99), samples, answeredAt });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

/** What the /healthz poller saw while a fault ran. */
export interface HealthzDuring {
  /** The slowest round trip, in ms (a figure for bench/, never a test's assertion: it moves with the machine's load). */
  worstMs: number;
  polls: number;
  p50Ms: number;
  p99Ms: number;
  /** Round trips in ms, in the order they were made. */
  samples: number[];
  /**
   * /healthz answers (each 200) that arrived before the fault's last answer, i.e. while some of its
   * requests were still in flight: an ordering of events, not a time, so tests can assert on it.
   */
  answeredDuring: number;
}

/**
 * A /healthz poller (every 25 ms, from a worker thread): `ready` once it has had its first answer
 * (start the attack then, so that a short attack is not over before the poller's thread is up);
 * `until(done)` stops it once `done` settles and reports what it saw. `answeredDuring` counts the
 * answers between `ready` and `done`.
 */
export function healthzPoller(url: string): { ready: Promise<void>; until(done: Promise<unknown>): Promise<HealthzDuring> } {
  const w = new Worker(POLLER, { eval: true, workerData: { url } });
  type Report = Omit<HealthzDuring, 'answeredDuring'> & { answeredAt: number[]; error?: string };
  let startAt = 0;
  const ready = new Promise<void>((resolve) => w.once('message', () => resolve()));
  const result = new Promise<Report>((resolve, reject) => {
    w.on('message', (m: Report | { ready: true }) => ('ready' in m ? undefined : resolve(m)));
    w.once('error', reject);
  });
  result.catch(() => {}); // awaited in until(); a poller that fails before is reported there
  return {
    ready: Promise.race([ready, result.then((r) => Promise.reject(new Error(`/healthz poller: ${r.error ?? 'stopped'}`)))]).then(() => void (startAt = performance.timeOrigin + performance.now())),
    async until(done) {
      try {
        await done.catch(() => {});
        const doneAt = performance.timeOrigin + performance.now();
        w.postMessage('stop');
        const r = await result;
        if (r.error) throw new Error(`/healthz poller: ${r.error}`);
        const answeredDuring = r.answeredAt.filter((t) => t > startAt && t < doneAt).length;
        return { worstMs: r.worstMs, polls: r.polls, p50Ms: r.p50Ms, p99Ms: r.p99Ms, samples: r.samples, answeredDuring };
      } finally {
        await w.terminate();
      }
    },
  };
}

/** Polls /healthz (every 25 ms, from a worker thread) until `done` settles; the worst round trip is how long the server kept others waiting. */
export const healthzWhile = (url: string, done: Promise<unknown>): Promise<HealthzDuring> => healthzPoller(url).until(done);

/** Runs one fault, sampling the server's RSS, then its recovery check. */
export async function runFault(f: Fault, c: FaultContext): Promise<FaultResult> {
  f.prepare?.();
  const before = rssOf(c.target.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(c.target.pid))), 50);
  let outcomes: Outcomes;
  let healthzDuring: FaultResult['healthzDuring'];
  try {
    const poller = healthzPoller(c.target.url);
    await poller.ready;
    const running = f.run(c);
    [outcomes, healthzDuring] = await Promise.all([running, poller.until(running)]);
  } finally {
    clearInterval(sampler);
  }
  const mib = (x: number) => +(x / 2 ** 20).toFixed(1);
  return { fault: f.name, what: f.what(c), outcomes, unexpected: unexpected(f, outcomes, c.target.name), recovery: await recovery(c), rssMiB: { before: mib(before), peak: mib(peak) }, healthzDuring };
}
