import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './chromium';
import type { DevServer } from './dev-server';
import { startLocalSystem, type LocalSystem } from './local-system';

/**
 * A person's first minutes, in a real browser (Debian's Chromium, installed by .ci/run): open the
 * broker, click "Log in with Twitch", pick a test user on the stand-in's consent page, land back
 * logged in, click "Get my access token". Skipped, loudly, on a machine without Chromium
 * (`apt-get install chromium`); CI always has it.
 */

const hasChromium = chromiumAvailable('the real-browser test');
let system: LocalSystem;
let broker: DevServer;
let twitch: LocalSystem['twitch'];
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  system = await startLocalSystem('browser', { allowedOrigins: '' });
  ({ broker, twitch } = system);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

describe.skipIf(!hasChromium)('the login flow in a real browser', () => {
  it('logs in through the stand-in and shows a working access token', async () => {
    const page = await browser.newPage();
    const scriptErrors: string[] = [];
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    await page.goto(`${broker.url}/`);
    await page.getByText('Not logged in.').waitFor();
    await page.getByText('Log in with Twitch').click();
    await page.waitForURL(`${twitch.url}/oauth2/authorize?**`);
    await expect(page.getByText('LOCAL TWITCH STAND-IN').first().isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Authorize as streamer_alice' }).click();

    await page.waitForURL(`${broker.url}/`);
    await page.getByText('Logged in as streamer_alice (Twitch user 100001).').waitFor();
    await page.getByText('From a shell').waitFor();
    // The session code is spent and gone from the address bar.
    expect(page.url()).toBe(`${broker.url}/`);
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

    // A reload still knows who is logged in (the session cookie), without showing any token.
    await page.reload();
    await page.getByText('Logged in as streamer_alice (Twitch user 100001).').waitFor();
    expect(await page.locator('#out').textContent()).toBe('Not asked yet.');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('"logged_out": true').waitFor();
    await page.getByText('Not logged in.').waitFor();
    expect((await fetch(`${broker.url}/token`, { headers: { Authorization: `Bearer ${sessionToken}` } })).status).toBe(401);
    expect(scriptErrors).toEqual([]);
  });

  it('shows a refused login once, then drops the error from the address bar', async () => {
    const page = await browser.newPage();
    await page.goto(`${broker.url}/authorize`);
    await page.waitForURL(`${twitch.url}/oauth2/authorize?**`);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('"error": "access_denied"').waitFor();
    expect(page.url()).toBe(`${broker.url}/`);
    await page.getByText('Not logged in.').waitFor();
    await page.reload();
    await page.getByText('Not logged in.').waitFor();
    expect(await page.locator('#out').textContent()).toBe('Not asked yet.');
  });
});
