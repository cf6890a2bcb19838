import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { ClipEdgeError } from '../core/errors.ts';

/**
 * Bearer authentication for every route it is mounted on. Each presented token is compared with
 * every configured key in constant time (hono's timingSafeEqual compares SHA-256 digests), and all
 * keys are always compared, so neither the length of a key nor which key matched shows in timing.
 * OPTIONS (CORS preflight) passes: browsers send preflights without credentials.
 */
export function bearerAuth(keys: string | readonly string[]): MiddlewareHandler {
  const list = (typeof keys === 'string' ? [keys] : [...keys]).filter((k) => k.length > 0);
  if (!list.length) throw new ClipEdgeError('BAD_INPUT', 'bearerAuth needs at least one non-empty key');
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return next();
    const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
    const token = m?.[1]?.trim() ?? '';
    let ok = false;
    for (const key of list) ok = (await timingSafeEqual(token, key)) || ok;
    if (!m || !ok) {
      c.header('WWW-Authenticate', 'Bearer realm="clip-edge"');
      throw new ClipEdgeError('UNAUTHORIZED', m ? 'invalid API key' : 'missing bearer token: send Authorization: Bearer <key>');
    }
    return next();
  };
}

/** API keys from a setting: one key, or several separated by commas (one per client, each rate-limited on its own). */
export const parseApiKeys = (v: string): string[] => v.split(',').map((k) => k.trim()).filter(Boolean);
