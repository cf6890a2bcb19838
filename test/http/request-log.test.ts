import { describe, expect, it } from 'vitest';
import { createClipApp } from '../../src/http/app.ts';
import { configFromEnv } from '../../src/http/config.ts';
import { sharedClip } from '../helpers/clip.ts';

describe('request log', () => {
  it('writes one line per request once the body is sent: method, path (no query), status, ms, bytes', async () => {
    const lines: string[] = [];
    const app = createClipApp({ clip: await sharedClip(), requestLog: (l) => lines.push(l), apiKey: 'k' });
    const ok = await app.request('/v1/label-sets?secret=label', { headers: { authorization: 'Bearer k' } });
    const okBytes = (await ok.arrayBuffer()).byteLength;
    const denied = await app.request('/v1/models');
    const deniedBytes = (await denied.arrayBuffer()).byteLength;
    const missing = await app.request('/nope', { method: 'POST', headers: { authorization: 'Bearer k' } });
    const missingBytes = (await missing.arrayBuffer()).byteLength;
    expect(lines).toHaveLength(3);
    const re = /^(GET|POST) (\S+) (\d{3}) (\d+\.\d)ms (\d+)B$/;
    const parsed = lines.map((l) => re.exec(l)?.slice(1));
    expect(parsed.map((p) => p && [p[0], p[1], p[2], Number(p[4])])).toEqual([
      ['GET', '/v1/label-sets', '200', okBytes],
      ['GET', '/v1/models', '401', deniedBytes],
      ['POST', '/nope', '404', missingBytes],
    ]);
    expect(okBytes).toBeGreaterThan(10);
    expect(lines.join('\n')).not.toContain('secret');
  });

  it('is off unless asked for in the library, on in the servers unless CLIP_EDGE_REQUEST_LOG=0', async () => {
    const lines: string[] = [];
    const original = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      await (await createClipApp({ clip: await sharedClip() }).request('/healthz')).text();
      expect(lines).toEqual([]);
      await (await createClipApp({ clip: await sharedClip(), requestLog: true }).request('/healthz')).text();
      expect(lines).toEqual([expect.stringMatching(/^GET \/healthz 200 [\d.]+ms 15B$/)]);
    } finally {
      console.log = original;
    }
    expect(configFromEnv({ CLIP_EDGE_REQUEST_LOG: '0' }).requestLog).toBe(false);
    expect(configFromEnv({}).requestLog).toBeUndefined();
    expect(() => configFromEnv({ CLIP_EDGE_REQUEST_LOG: 'loud' })).toThrow(/CLIP_EDGE_REQUEST_LOG must be true or false/);
  });
});
