import net from 'node:net';

/** One HTTP/1.1 chunked-transfer frame of `data`. */
export const chunkFrame = (data: Uint8Array): Buffer => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);

/** Writes `data`; when the socket's buffer is full, waits until it drains (or closes). */
export async function writeWithBackpressure(s: net.Socket, data: Uint8Array): Promise<void> {
  if (s.write(data)) return;
  await new Promise<void>((r) => {
    const go = () => {
      s.off('drain', go);
      s.off('close', go);
      r();
    };
    s.on('drain', go);
    s.on('close', go);
  });
}

export interface RawExchangeOptions {
  /** What the client writes, in order (request line and headers included), each piece with backpressure. */
  pieces: (string | Uint8Array)[];
  /** Pause between pieces (a slow client: slowloris headers, a drip-fed body). @defaultValue 0 */
  gapMs?: number;
  /**
   * After the last piece: `'wait'` keeps the connection open and waits (a stalled client), `'end'`
   * half-closes it, a number drops the connection that many ms after the last piece (a client that
   * goes away). @defaultValue 'wait'
   */
  then?: 'wait' | 'end' | number;
  /** Wait for the server to close the connection after its answer (else the client closes it once the answer is complete). @defaultValue false */
  untilClose?: boolean;
  /** Give up (and close) after this long. @defaultValue 60_000 */
  timeoutMs?: number;
}

export interface RawExchangeResult {
  /** 0 when no answer came (the client dropped the connection, or the server closed without one). */
  status: number;
  /** The response head (status line and headers) as sent. */
  head: string;
  body: string;
  /** The whole response arrived (per its Content-Length or chunked end), not just a part of it. */
  complete: boolean;
  /** Bytes the client got out before the answer (or the end). */
  sent: number;
  /** The server closed the connection (rather than the client after the answer, on a drop or a timeout). */
  closedByServer: boolean;
  /** From connecting to the answer (or the end), in ms. */
  ms: number;
}

/**
 * One HTTP/1.1 exchange over a raw TCP socket, written exactly as given (so it can lie, stall, drip
 * or vanish, which no HTTP client library will do); resolves with what came back.
 */
export function rawExchange(url: string, o: RawExchangeOptions): Promise<RawExchangeResult> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(Number(port), hostname);
    let sent = 0;
    let response = Buffer.alloc(0);
    let answeredAt: number | undefined;
    let closedByServer = false;
    let weClose = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = response.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: end < 0 ? '' : text.slice(end + 4), complete: answeredAt !== undefined, sent, closedByServer, ms: (answeredAt ?? performance.now()) - t0 });
      s.destroy();
    };
    const close = () => {
      weClose = true;
      finish();
    };
    const timer = setTimeout(close, o.timeoutMs ?? 60_000);
    s.on('error', () => {}); // EPIPE / ECONNRESET when the server gives up on us: expected
    s.on('close', () => {
      if (!weClose) closedByServer = true;
      finish();
    });
    s.on('data', (d: Buffer) => {
      response = Buffer.concat([response, d]);
      const text = response.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1];
      const complete = length !== undefined ? response.length - end - 4 >= Number(length) : text.endsWith('0\r\n\r\n');
      if (complete) {
        answeredAt ??= performance.now();
        if (!o.untilClose) close();
      }
    });
    s.on('connect', async () => {
      for (const [i, p] of o.pieces.entries()) {
        if (s.destroyed || answeredAt !== undefined) return;
        if (i > 0 && o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs));
        const bytes = typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
        await writeWithBackpressure(s, bytes);
        sent += bytes.length;
      }
      const then = o.then ?? 'wait';
      if (then === 'end') s.end();
      else if (typeof then === 'number') setTimeout(close, then);
    });
  });
}

/** The request line and headers of a raw request, ready to be the first piece of {@link rawExchange}. */
export const requestHead = (method: string, path: string, headers: string[], host = '127.0.0.1'): string =>
  `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
