import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../e2e/chromium';
import { startLocalSystem, type LocalSystem } from '../e2e/local-system';

/**
 * README's browser overlay (examples/overlay/index.html) in a real Chromium: the SDK as the browser
 * loads it (ES modules, sessionStorage, Web Crypto, history, CORS), on an origin other than the
 * broker's, logging in through the stand-in and calling the stand-in's Helix with the token.
 * Skipped, loudly, without Chromium, like the other real-browser test.
 */

const hasChromium = chromiumAvailable('the overlay browser test');
const REPO = fileURLToPath(new URL('../..', import.meta.url));

let system: LocalSystem;
let browser: Browser;
let appServer: Server;
let appOrigin: string;
let builtSdk: string;

beforeAll(async () => {
  if (!hasChromium) return;
  // Its own build of the client package, so this test never races `npm pack` over client/dist/.
  builtSdk = mkdtempSync(join(tmpdir(), 'ttb-overlay-sdk-'));
  const build = promisify(execFile)(process.execPath, [
    join(REPO, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(REPO, 'client/tsconfig.json'),
    '--outDir',
    builtSdk,
  ]);
  appServer = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://app').pathname;
    if (path === '/examples/overlay/') {
      // The example as README shows it; ?broker= and ?helix= point it at this run's broker and stand-in.
      const page = readFileSync(join(REPO, 'examples/overlay/index.html'), 'utf8');
      response.writeHead(200, { 'Content-Type': 'text/html' }).end(page);
    } else if (/^\/client\/dist\/[a-z-]+\.js$/.test(path)) {
      response.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(join(builtSdk, path.slice('/client/dist/'.length))));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  // Another site than the broker's 127.0.0.1: the cross-site case, where only PKCE gets a session.
  appOrigin = `http://localhost:${(appServer.address() as AddressInfo).port}`;
  [system] = await Promise.all([startLocalSystem('overlay', { allowedOrigins: appOrigin }), build]);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await system?.stop();
  appServer?.close();
  if (builtSdk) rmSync(builtSdk, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)('the README overlay in a real browser', () => {
  it('logs in with PKCE from another site, keeps the session code out of the address bar, and calls Helix with the token', async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const sessionExchanges: string[] = [];
    page.on('request', (request) => {
      if (request.url() === `${system.broker.url}/session`) sessionExchanges.push(request.postData() ?? '');
    });

    const where = `?${new URLSearchParams({ broker: system.broker.url, helix: `${system.twitch.url}/helix` })}`;
    await page.goto(`${appOrigin}/examples/overlay/${where}`);
    await page.getByText('Not logged in.').waitFor();
    await page.getByRole('button', { name: 'Log in with Twitch' }).click();
    await page.waitForURL(`${system.twitch.url}/oauth2/authorize?**`);
    await page.getByRole('button', { name: 'Authorize as streamer_alice' }).click();

    await page.getByText('Hello, Streamer_Alice!').waitFor();
    // Back where it started, its own ?broker=&helix= kept.
    expect(page.url()).toBe(`${appOrigin}/examples/overlay/${where}`);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(sessionExchanges).toHaveLength(1);
    expect(JSON.parse(sessionExchanges[0]!)).toEqual({ session_code: expect.any(String), code_verifier: expect.stringMatching(/^[\w-]{43}$/) });
    // The history entry the browser came back on no longer holds the code either.
    expect(await page.evaluate(() => location.search)).toBe(where);
    expect(pageErrors).toEqual([]);
  });
});
