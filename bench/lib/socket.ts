import type net from 'node:net';

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
