import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from './dev-server';
import { startLocalSystem, type LocalSystem } from './local-system';

/**
 * A person's first minutes, in a real browser (Debian's Chromium, installed by .ci/run): open the
 * broker, click "Log in with Twitch", pick a test user on the stand-in's consent page, land back
 * logged in, click "Get my access token". Skipped, loudly, on a machine without Chromium
 * (`apt-get install chromium`); CI always has it.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`SKIPPING the real-browser test: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
let system: LocalSystem;
let broker: DevServer;
let twitch: LocalSystem['twitch'];
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  system = await startLocalSystem('browser', { allowedOrigins: '' });
  ({ broker, twitch } = system);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

describe.skipIf(!hasChromium)('the login flow in a real browser', () => {
  it('logs in through the stand-in and shows a working access token', async () => {
    const page = await browser.newPage();
    await page.goto(`${broker.url}/`);
    await page.getByText('Log in with Twitch').click();
    await page.waitForURL(`${twitch.url}/oauth2/authorize?**`);
    await expect(page.getByText('LOCAL TWITCH STAND-IN').first().isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Authorize as streamer_alice' }).click();

    await page.waitForURL(`${broker.url}/`);
    await page.getByText('Logged in as user 100001').waitFor();
    const curlLine = await page.locator('#out').textContent();
    expect(curlLine).toMatch(/curl -H "Authorization: Bearer ey[\w.-]+" http:\/\/127\.0\.0\.1:\d+\/token/);

    await page.getByRole('button', { name: 'Get my access token' }).click();
    await page.getByText('"access_token"').waitFor();
    const token = JSON.parse((await page.locator('#out').textContent())!);
    expect(token).toMatchObject({ user_id: '100001', login: 'streamer_alice', token_type: 'bearer' });

    // The bearer line the page printed works from a shell, too.
    const sessionToken = curlLine!.match(/Bearer (ey[\w.-]+)/)![1];
    const fromShell = await fetch(`${broker.url}/token`, { headers: { Authorization: `Bearer ${sessionToken}` } });
    expect(fromShell.status).toBe(200);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('"logged_out": true').waitFor();
    expect((await fetch(`${broker.url}/token`, { headers: { Authorization: `Bearer ${sessionToken}` } })).status).toBe(401);
  });
});
