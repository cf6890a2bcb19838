// A Chromium page that runs repo code: TypeScript bundled by esbuild and loaded into a blank page
// on a 127.0.0.1 origin (a secure context, so Cache Storage exists). Used by the tests that run a
// store or an index contract inside the browser.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { REPO_ROOT } from './clip.ts';

export interface BundlePage {
  browser: Browser;
  page: Page;
  /** Reloads the page (same origin, so Cache Storage survives) and loads the bundle again. */
  reload(): Promise<void>;
  /** Closes Chromium and the page's server. */
  close(): Promise<void>;
}

/** `entry` is TypeScript whose imports resolve from the repo root; it usually sets globals that page.evaluate calls. */
export async function openBundlePage(entry: string): Promise<BundlePage> {
  const esbuild = await import('esbuild');
  const bundle = await esbuild.build({
    stdin: { contents: entry, resolveDir: REPO_ROOT, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
  });
  const script = bundle.outputFiles[0]!.text;
  const server = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>test</title>'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    server.close();
  };
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.addScriptTag({ content: script });
    const reload = async () => {
      await page.reload();
      await page.addScriptTag({ content: script });
    };
    return { browser, page, reload, close };
  } catch (e) {
    await close();
    throw e;
  }
}
