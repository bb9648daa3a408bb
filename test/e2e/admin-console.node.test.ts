import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser as Chromium, ConsoleMessage } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './chromium';
import { Browser, startLocalSystem, type LocalSystem } from './local-system';
import { logInAs } from './log-in';

/**
 * The admin console in a real browser (Debian's Chromium, as in real-browser.node.test.ts) against
 * `wrangler dev`: sign in with the admin key, find a user by login, open them, force a refresh and
 * see it happen at the stand-in; under the console's CSP, with no console error or CSP violation,
 * and the API key nowhere in the page, the URL or the browser's storage.
 */

const hasChromium = chromiumAvailable('the admin console browser test');
/** Screenshots for a person to look at; git-ignored. */
const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));

let system: LocalSystem;
let browser: Chromium;

beforeAll(async () => {
  if (!hasChromium) return;
  system = await startLocalSystem('console');
  // Two users with grants, logged in through the stand-in like anyone would.
  await logInAs(new Browser(), system, '100001', ['user:read:email']);
  await logInAs(new Browser(), system, '100002', ['user:read:email']);
  // A forced sweep, so the overview has an app token, a batch and its chart to show.
  const sweep = await fetch(`${system.broker.url}/admin/sweep`, { method: 'POST', headers: { Authorization: `Bearer ${system.apiKey}` } });
  expect(sweep.status).toBe(200);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await system?.stop();
});

const refreshCount = async (): Promise<number> => {
  const response = await fetch(`${system.twitch.url}/_standin/calls`);
  const { counts } = (await response.json()) as { counts: { token: { refresh_token: number } } };
  return counts.token.refresh_token;
};

describe.skipIf(!hasChromium)('the admin console in a real browser', () => {
  it('signs in with the admin key, finds a user by login, forces a refresh, and never shows the key', async () => {
    const broker = system.broker.url;
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    // A CSP violation shows up as a console error ("Refused to …").
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
    });
    const pageUrls: string[] = [];
    page.on('framenavigated', (frame) => pageUrls.push(frame.url()));

    const signInPage = await page.goto(`${broker}/admin`);
    expect(signInPage!.status()).toBe(200);
    const csp = signInPage!.headers()['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('script-src');
    expect(await page.locator('#api_key').getAttribute('type')).toBe('password');

    await page.locator('#api_key').fill(system.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(page.url()).toBe(`${broker}/admin`);
    // The stylesheet applied: the header is the console's dark bar, so style-src 'self' let it in.
    expect(await page.locator('header').evaluate((header) => getComputedStyle(header).backgroundColor)).toBe('rgb(31, 31, 35)');
    const [cookie] = (await context.cookies(broker)).filter((entry) => entry.name === 'ttb_admin');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await page.getByText('Last sweep batches').waitFor();
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0);
    expect(await page.locator('.panel').first().textContent()).toContain('Expires');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}overview.png`, fullPage: true });

    await page.locator('#q').fill('STREAMER');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(`${broker}/admin/console/users?q=STREAMER`);
    await page.getByRole('link', { name: 'streamer_alice' }).click();
    await page.waitForURL(`${broker}/admin/console/users/100001`);
    await page.getByText('Audit trail').waitFor();
    expect(await page.locator('table').first().textContent()).toContain('logged_in');

    const before = await refreshCount();
    await page.getByRole('button', { name: 'Force refresh' }).click();
    await page.waitForURL(`${broker}/admin/console/users/100001?done=refreshed`);
    await page.getByText('Refreshed: Twitch issued a new token pair').waitFor();
    expect(await refreshCount()).toBe(before + 1);
    expect(await page.content()).toContain('refresh_forced');
    await page.screenshot({ path: `${SCREENSHOTS}user.png`, fullPage: true });

    // The key went out once, in a POST body: never in a page, a URL or the browser's storage.
    for (const html of [await page.content(), await (await page.goto(`${broker}/admin`))!.text()]) expect(html).not.toContain(system.apiKey);
    expect(pageUrls.filter((url) => url.includes(system.apiKey))).toEqual([]);
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length])).toEqual([0, 0]);
    expect((await context.cookies()).some((entry) => entry.value.includes(system.apiKey))).toBe(false);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // No script error, no CSP violation, no failed request on any page so far.
    expect(problems).toEqual([]);
    // Signed out: the pages answer with the sign-in form again.
    expect((await page.goto(`${broker}/admin/console/users`))!.status()).toBe(401);
    await context.close();
  });
});
