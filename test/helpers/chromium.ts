import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); `CLIP_EDGE_CHROMIUM` points elsewhere. */
export const CHROMIUM = process.env.CLIP_EDGE_CHROMIUM ?? '/usr/bin/chromium';

/** Whether browser tests can run; in CI (`CI` set) a missing Chromium is an error, not a skip. */
export function chromiumAvailable(): { ok: boolean; reason: string } {
  if (existsSync(CHROMIUM)) return { ok: true, reason: '' };
  const reason = `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CLIP_EDGE_CHROMIUM`;
  if (process.env.CI) throw new Error(`${reason} — CI must run the browser tests`);
  return { ok: false, reason };
}

/** Flags that keep headless Chromium offline and quiet (see PLATFORM-NOTES). */
const FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A fake camera (a moving test pattern) and no permission prompt, for getUserMedia.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

/**
 * Launches headless Chromium. `webgpu: true` adds `--enable-unsafe-webgpu`, which gives a WebGPU
 * adapter through SwiftShader (a CPU implementation: correct, but far slower than a GPU) even
 * without a GPU; without it, the page has no adapter and uses WASM.
 */
export async function launchChromium(options: { webgpu?: boolean } = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...FLAGS, ...(options.webgpu ? ['--enable-unsafe-webgpu'] : [])] });
}

/** A phone-sized context (iPhone 14-class viewport). */
export const phoneContext = (browser: Browser): Promise<BrowserContext> =>
  browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
