import type { RateLimiter } from '../../http/overload.ts';
import type { RateLimitBindingLike } from './bindings.ts';

/**
 * Cloudflare's Rate Limiting binding (`[[ratelimits]]` in wrangler.toml) as the app's rate limiter:
 * counted across Cloudflare's network per location, unlike the built-in token bucket, which counts
 * per isolate. The binding does not say when a key frees up, so `Retry-After` is its period.
 */
export function cloudflareRateLimiter(binding: RateLimitBindingLike, periodSeconds = 60): RateLimiter {
  return {
    async limit(key) {
      const { success } = await binding.limit({ key });
      return success ? { ok: true } : { ok: false, retryAfterSeconds: periodSeconds };
    },
  };
}
