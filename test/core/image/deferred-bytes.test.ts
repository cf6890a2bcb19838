// An image handed over as a function that reads its bytes (a request body) is read only when its
// decode's turn comes on a decoder whose decodes take turns (Workers), so bodies waiting behind
// another decode are not held; elsewhere it is read at once. Either way the bytes are freed once
// decoded, and the crop is the one the bytes themselves give.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeBytes } from '../../../src/core/bytes.ts';
import { DecodeMemory } from '../../../src/core/image/decode-memory.ts';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';

const read = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));
type Transfer = (this: ArrayBuffer, length?: number) => ArrayBuffer;
const proto = ArrayBuffer.prototype as ArrayBuffer & { transfer?: Transfer };

/**
 * Runs `fn` noting which buffers are transferred away: through the runtime's own
 * ArrayBuffer.prototype.transfer where it has one (Node ≥ 21), else (Node 20) a stand-in that
 * only notes them, so that what freeBytes frees is checked on every Node.
 */
async function transfers(fn: () => Promise<void> | void): Promise<ArrayBuffer[]> {
  const own = proto.transfer;
  const seen: ArrayBuffer[] = [];
  proto.transfer = function (this: ArrayBuffer, length?: number) {
    seen.push(this);
    return own ? own.call(this, length) : new ArrayBuffer(length ?? 0);
  };
  try {
    await fn();
  } finally {
    if (own) proto.transfer = own;
    else delete proto.transfer;
  }
  return seen;
}

describe('DecodeMemory.turn', () => {
  it('holds the whole budget: nothing else is admitted beside it, and the next turn starts when it ends', async () => {
    const m = new DecodeMemory(() => 100);
    expect(m.takesTurns()).toBe(true);
    let end!: () => void;
    const order: string[] = [];
    const first = m.turn(undefined, async (within) => {
      order.push('first read');
      await within(10, null, () => new Promise<void>((r) => (end = r)));
      order.push('first done');
    });
    const second = m.turn(undefined, async () => void order.push('second read'));
    const small = m.reserved(1, undefined, async () => void order.push('small'));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['first read']); // a 10-byte decode leaves 90, yet neither waiter got in
    expect(m.usage()).toEqual({ reservedBytes: 100, waiting: 2 });
    end();
    await Promise.all([first, second, small]);
    expect(order).toEqual(['first read', 'first done', 'second read', 'small']);
    expect(m.usage()).toEqual({ reservedBytes: 0, waiting: 0 });
  });

  it('a fixed budget does not take turns (decodes there share it by their estimates)', () => {
    expect(new DecodeMemory(100).takesTurns()).toBe(false);
    expect(new DecodeMemory(Infinity).takesTurns()).toBe(false);
    expect(new DecodeMemory(() => Infinity).takesTurns()).toBe(false);
  });

  it('a waiting turn whose signal aborts leaves the queue without reading', async () => {
    const m = new DecodeMemory(() => 100);
    let end!: () => void;
    const first = m.turn(undefined, () => new Promise<void>((r) => (end = r)));
    const ac = new AbortController();
    let ran = false;
    const second = m.turn(ac.signal, async () => void (ran = true));
    ac.abort(new Error('gone'));
    await expect(second).rejects.toMatchObject({ code: 'CANCELLED' });
    end();
    await first;
    expect(ran).toBe(false);
    expect(m.usage()).toEqual({ reservedBytes: 0, waiting: 0 });
  });
});

describe('a decoder given bytes to read later', () => {
  const jpeg = read('baseline-420.jpg');
  const png = read('rgb8.png');

  it('with a budget that follows the model: reads each image only when its turn comes', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: () => 64 << 20, pollGrants: true });
    const reads: string[] = [];
    const later = (name: string, bytes: Uint8Array) => async () => {
      reads.push(`${name} (${d.memory().reservedBytes > 0 ? 'in its turn' : 'outside a turn'}, ${d.memory().waiting} waiting)`);
      return bytes.slice();
    };
    const [a, b, c] = await Promise.all([d.decodeForClip(later('a', jpeg), CLIP_PREPROCESS), d.decodeForClip(later('b', png), CLIP_PREPROCESS), d.decodeForClip(later('c', jpeg), CLIP_PREPROCESS)]);
    // Each read happened in its own turn, with the later images still waiting unread.
    expect(reads).toEqual(['a (in its turn, 2 waiting)', 'b (in its turn, 1 waiting)', 'c (in its turn, 0 waiting)']);
    const direct = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }) });
    expect(Buffer.from(a.crop.data).equals(Buffer.from((await direct.decodeForClip(jpeg, CLIP_PREPROCESS)).crop.data))).toBe(true);
    expect(Buffer.from(b.crop.data).equals(Buffer.from((await direct.decodeForClip(png, CLIP_PREPROCESS)).crop.data))).toBe(true);
    expect(Buffer.from(c.crop.data).equals(Buffer.from(a.crop.data))).toBe(true);
  });

  it('a body still arriving after turnReadMs gives its turn up: the decodes behind it go on, and it is decoded once its bytes are in', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: () => 64 << 20, pollGrants: true, turnReadMs: 50 });
    const order: string[] = [];
    let arrive!: () => void;
    const arrived = new Promise<void>((r) => (arrive = r));
    const slow = d.decodeForClip(async () => (await arrived, order.push('slow body in'), jpeg.slice()), CLIP_PREPROCESS).then((r) => (order.push('slow decoded'), r));
    const fast = d.decodeForClip(async () => png.slice(), CLIP_PREPROCESS).then((r) => (order.push('fast decoded'), r));
    await fast; // it would wait for the slow body for ever if the slow one kept its turn
    arrive();
    const r = await slow;
    expect(order).toEqual(['fast decoded', 'slow body in', 'slow decoded']);
    const direct = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }) });
    expect(Buffer.from(r.crop.data).equals(Buffer.from((await direct.decodeForClip(jpeg, CLIP_PREPROCESS)).crop.data))).toBe(true);
    expect(d.memory()).toEqual({ reservedBytes: 0, waiting: 0 });
  });

  it('a request cancelled while its body is still arriving outside its turn ends CANCELLED, holding nothing', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: () => 64 << 20, pollGrants: true, turnReadMs: 20 });
    const ac = new AbortController();
    let fail!: (e: Error) => void;
    const never = d.decodeForClip(() => new Promise<Uint8Array>((_, reject) => (fail = reject)), CLIP_PREPROCESS, ac.signal);
    await new Promise((r) => setTimeout(r, 60));
    expect(d.memory()).toEqual({ reservedBytes: 0, waiting: 0 }); // the turn was given up while the body arrives
    ac.abort(new Error('client gone'));
    await expect(never).rejects.toMatchObject({ code: 'CANCELLED' });
    fail(new Error('connection reset')); // the body's read failing afterwards is not an unhandled rejection
    await new Promise((r) => setTimeout(r, 10));
  });

  it('a request cancelled while its body arrives in its turn gives the turn up at once, not after turnReadMs', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: () => 64 << 20, pollGrants: true, turnReadMs: 600_000 });
    const ac = new AbortController();
    let started!: () => void;
    const reading = new Promise<void>((r) => (started = r));
    const stuck = d.decodeForClip(() => (started(), new Promise<Uint8Array>(() => {})), CLIP_PREPROCESS, ac.signal);
    await reading;
    expect(d.memory().reservedBytes).toBeGreaterThan(0); // it holds the turn while its body arrives
    ac.abort(new Error('client gone'));
    await expect(stuck).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(d.memory()).toEqual({ reservedBytes: 0, waiting: 0 });
    expect((await d.decodeForClip(png.slice(), CLIP_PREPROCESS)).crop.data.length).toBe(224 * 224 * 3);
  });

  it('frees the bytes it was handed once decoded, also when the decode fails; bytes passed directly are left alone', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: () => 64 << 20 });
    const handed = jpeg.slice();
    const bad = jpeg.slice(0, 600);
    const kept = jpeg.slice();
    const freed = await transfers(async () => {
      await d.decodeForClip(async () => handed, CLIP_PREPROCESS);
      await expect(d.decodeForClip(async () => bad, CLIP_PREPROCESS)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
      await d.decodeForClip(kept, CLIP_PREPROCESS);
    });
    expect(freed.filter((b) => b === handed.buffer || b === bad.buffer || b === kept.buffer)).toEqual([handed.buffer, bad.buffer]);
  });

  it('without a budget function: reads at once (no turns), and refuses an over-budget image after reading it', async () => {
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: 1024 });
    let reads = 0;
    await expect(d.decodeForClip(async () => (reads++, jpeg.slice()), CLIP_PREPROCESS)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(reads).toBe(1);
    expect(d.memory()).toEqual({ reservedBytes: 0, waiting: 0 });
  });
});

describe('freeBytes', () => {
  it('detaches a buffer the bytes cover whole, and leaves a view of a larger buffer alone', async () => {
    const whole = new Uint8Array(16);
    const part = new Uint8Array(new ArrayBuffer(16), 4, 8);
    const freed = await transfers(() => {
      freeBytes(part);
      freeBytes(whole);
    });
    expect(freed).toEqual([whole.buffer]);
    expect(part.byteLength).toBe(8);
    if (typeof proto.transfer === 'function') {
      expect(whole.byteLength).toBe(0); // detached: its memory is gone now, not at the next GC
      freeBytes(whole); // already detached: left alone
    }
  });
});
