import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { chunkFrame, writeWithBackpressure } from '../../bench/lib/socket.ts';
import { EVAL_DIR, type EvalSet } from '../helpers/clip.ts';

// Limits under attack, over real sockets on 127.0.0.1 against the Node server: oversized bodies
// are refused while streaming (not buffered first), slow bodies are cut off at the request
// deadline, and a burst of concurrent classify requests gets only 200s (or the intended 429/503).
// No timing assertions: the deadline is configuration, the checks are statuses and byte counts.

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const images = evalSet.images.slice(0, 24).map((i) => ({ type: i.file.endsWith('.png') ? 'image/png' : 'image/jpeg', bytes: readFileSync(path.join(EVAL_DIR, i.file)) }));
const MAX_BODY = 1024 * 1024;

let server: RunningServer;
let port: number;
beforeAll(async () => {
  server = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', text: false, maxBodyBytes: MAX_BODY, requestTimeoutMs: 1500 });
  port = Number(new URL(server.url).port);
});
afterAll(() => server?.close());

interface RawResult {
  status: number;
  body: string;
  /** Body bytes the client managed to write before the answer came (or the socket closed). */
  sent: number;
  /** The socket closed (a stalling client never closes it itself: then the server did). */
  closedByServer: boolean;
}

/**
 * One HTTP/1.1 request over a raw socket: headers, then `chunks` body chunks written as fast as the
 * socket takes them (or `stallAfter` bytes and then nothing). Resolves with the response.
 */
function rawRequest(o: { headers: string[]; chunk?: Buffer; chunks?: number; chunked?: boolean; stallAfter?: number }): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let sent = 0;
    let answered = false;
    let response = '';
    let closedByServer = false;
    s.on('error', () => {}); // EPIPE/ECONNRESET once the server gives up on us: expected
    s.on('data', (d) => {
      response += d.toString('latin1');
      answered = true;
    });
    s.on('close', () => {
      closedByServer = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
      if (!m) return reject(new Error(`no HTTP response (sent ${sent} bytes)`));
      resolve({ status: Number(m[1]), body: response.slice(response.indexOf('\r\n\r\n') + 4), sent, closedByServer });
    });
    s.on('connect', async () => {
      s.write(`POST /v1/classify?labelSet=tiny-clip-shapes HTTP/1.1\r\nHost: 127.0.0.1\r\n${o.headers.join('\r\n')}\r\n\r\n`);
      if (o.stallAfter !== undefined) {
        s.write(Buffer.alloc(o.stallAfter, 0xff));
        sent += o.stallAfter;
        return; // and never send the rest
      }
      for (let i = 0; i < (o.chunks ?? 0) && !answered && !s.destroyed; i++) {
        const c = o.chunk!;
        sent += c.length;
        await writeWithBackpressure(s, o.chunked ? chunkFrame(c) : c);
      }
      if (o.chunked && !answered && !s.destroyed) s.write('0\r\n\r\n');
      s.end();
    });
  });
}

const jsonOf = (body: string): { error: { code: string; message: string } } => {
  // The body may be chunk-framed; the JSON object is what lies between the outer braces.
  return JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1));
};

describe('oversized bodies are refused while streaming, not buffered', () => {
  it('a Content-Length over the limit is refused from the header alone (no body sent)', async () => {
    const r = await rawRequest({ headers: ['Content-Type: image/jpeg', `Content-Length: ${1024 ** 3}`], stallAfter: 0 });
    expect(r.status).toBe(413);
    expect(jsonOf(r.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(r.sent).toBe(0);
  });

  it('a chunked upload of 256 MB is cut off soon after the 1 MB limit', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0xab);
    const r = await rawRequest({ headers: ['Content-Type: image/jpeg', 'Transfer-Encoding: chunked'], chunk, chunks: 4096, chunked: true });
    expect(r.status).toBe(413);
    expect(jsonOf(r.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    // What the client got out before the answer: the limit plus socket buffers, far from 256 MB.
    expect(r.sent).toBeLessThan(256 * 1024 * 1024);
    expect(r.sent).toBeGreaterThan(MAX_BODY);
  });

  it('ten such uploads at once, and the server still classifies', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0xcd);
    const rs = await Promise.all(Array.from({ length: 10 }, () => rawRequest({ headers: ['Content-Type: image/png', 'Transfer-Encoding: chunked'], chunk, chunks: 1024, chunked: true })));
    expect(rs.map((r) => r.status)).toEqual(Array(10).fill(413));
    const ok = await fetch(`${server.url}/v1/classify?labelSet=tiny-clip-shapes`, { method: 'POST', headers: { 'content-type': images[0]!.type }, body: images[0]!.bytes });
    expect(ok.status).toBe(200);
  });
});

describe('slow clients do not hold the server', () => {
  it('a body that stalls is answered 503 TIMEOUT at the request deadline and the connection closed', async () => {
    const slow = Array.from({ length: 8 }, () => rawRequest({ headers: ['Content-Type: image/jpeg', 'Content-Length: 500000'], stallAfter: 1000 }));
    // Meanwhile, others are served.
    const ok = await fetch(`${server.url}/v1/classify?labelSet=tiny-clip-shapes`, { method: 'POST', headers: { 'content-type': images[1]!.type }, body: images[1]!.bytes });
    expect(ok.status).toBe(200);
    for (const r of await Promise.all(slow)) {
      expect(r.status).toBe(503);
      const err = jsonOf(r.body).error;
      expect(err.code).toBe('TIMEOUT');
      expect(err.message).toMatch(/within 1500 ms/);
      expect(r.closedByServer).toBe(true);
    }
  });
});

describe('a burst of concurrent classify requests', () => {
  it('200 requests at concurrency 16: every answer is 200 (or an intended 429/503), each with results', async () => {
    const statuses: Record<number, number> = {};
    let next = 0;
    const lane = async () => {
      while (next < 200) {
        const img = images[next++ % images.length]!;
        const r = await fetch(`${server.url}/v1/classify?labelSet=tiny-clip-shapes&topK=2`, { method: 'POST', headers: { 'content-type': img.type }, body: img.bytes });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const body = (await r.json()) as { results?: unknown[]; error?: { code: string } };
        if (r.status === 200) expect(body.results).toHaveLength(2);
        else expect(['OVERLOADED', 'RATE_LIMITED', 'TIMEOUT']).toContain(body.error?.code);
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    const unexpected = Object.entries(statuses).filter(([s]) => !['200', '429', '503'].includes(s));
    expect(unexpected).toEqual([]);
    expect(Object.values(statuses).reduce((a, b) => a + b, 0)).toBe(200);
    expect(statuses[200]).toBeGreaterThan(0);
  });
});
