/// <reference lib="webworker" />
// The page's service worker: the app shell (HTML, JS, icons, ORT's loaders, the decoders' wasm) is
// cached on install and served cache-first, so a second visit starts offline. Model files, prompt
// caches and ORT's wasm are cached by the inference worker itself (with a progress bar).
export {};
declare const self: ServiceWorkerGlobalScope;
/** Paths relative to the scope, and the cache name (with the build's hash), filled in at build time. */
declare const __SHELL__: string[];
declare const __SHELL_CACHE__: string;

const scope = () => new URL(self.registration.scope);
const shellUrls = () => __SHELL__.map((p) => new URL(p, scope()).href);

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(__SHELL_CACHE__);
      await cache.addAll(shellUrls());
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('clip-edge-shell-') && name !== __SHELL_CACHE__) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // The page itself: with or without a query string (`/?backend=wasm`).
  const key = url.href === scope().href || url.pathname === scope().pathname ? scope().href : url.origin + url.pathname;
  if (!shellUrls().includes(key)) return; // API calls, model files: straight to the network
  event.respondWith(
    (async () => {
      const cache = await caches.open(__SHELL_CACHE__);
      const hit = await cache.match(key);
      if (hit) return hit;
      const res = await fetch(req);
      if (res.ok) await cache.put(key, res.clone());
      return res;
    })(),
  );
});
