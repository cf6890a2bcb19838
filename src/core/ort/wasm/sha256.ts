import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** An incremental sha256: Web Crypto's `digest` takes the whole input at once, which for a model means a second copy of it. */
export interface Sha256Stream {
  update(chunk: Uint8Array): void | Promise<void>;
  /** Lower-case hex. */
  digest(): Promise<string>;
}

/** @noble/hashes' sha256 (pure JS, every runtime); runtimes with a native streaming digest pass their own. */
export function defaultSha256Stream(): Sha256Stream {
  const h = sha256.create();
  return {
    update: (chunk) => void h.update(chunk),
    digest: async () => bytesToHex(h.digest()),
  };
}
