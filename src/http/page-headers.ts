/**
 * Headers for the page and everything it loads: cross-origin isolation (COOP + COEP) so that
 * ORT's WASM threads get SharedArrayBuffer; the page loads same-origin resources only.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
});
