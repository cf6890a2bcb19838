import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/core/bytes.ts';
import { readImageInput } from '../../src/core/image/input.ts';

const streamOf = (...parts: number[][]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(new Uint8Array(p));
      c.close();
    },
  });

describe('concatBytes', () => {
  it('joins chunks in order, returns a single chunk as is, and an empty list as no bytes', () => {
    expect([...concatBytes([new Uint8Array([1, 2]), new Uint8Array([]), new Uint8Array([3])])]).toEqual([1, 2, 3]);
    const one = new Uint8Array([9]);
    expect(concatBytes([one])).toBe(one);
    expect(concatBytes([]).byteLength).toBe(0);
  });
});

describe('readImageInput', () => {
  it('reads every form an image comes in to the same bytes', async () => {
    const want = [1, 2, 3, 4, 5];
    const buf = new Uint8Array(want).buffer;
    for (const input of [new Uint8Array(want), buf, new DataView(buf), new Blob([new Uint8Array(want)]), streamOf([1, 2], [3], [4, 5]), new Response(new Uint8Array(want))]) {
      expect([...(await readImageInput(input))]).toEqual(want);
    }
  });

  it('refuses a stream as soon as it passes maxBytes, and other oversized inputs before reading', async () => {
    await expect(readImageInput(streamOf([1, 2, 3], [4, 5, 6]), { maxBytes: 4 })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(readImageInput(new Uint8Array(5), { maxBytes: 4 })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(readImageInput(new Blob([new Uint8Array(5)]), { maxBytes: 4 })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('says what it takes for a path without a runtime reader, a failed response and a non-image', async () => {
    await expect(readImageInput('photo.jpg')).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/Node, Deno and Bun/) });
    await expect(readImageInput(new Response('x', { status: 404 }))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/404/) });
    await expect(readImageInput(42 as never)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
