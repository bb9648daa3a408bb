import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, runDurableObjectAlarm, waitOnExecutionContext } from 'cloudflare:test';
import { decodeJwt, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import worker from '../src/index';
import { CONSOLE_CSP } from '../src/console/console-guard';
import { signAdminSession } from '../src/session/admin-session-token';
import { signSession } from '../src/session/session-token';
import type { Env } from '../src/env';
import { API_KEY, APP_ONLY_API_KEY, APP_ORIGIN, TEST_BINDINGS, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, CookieJar, json, login } from './support/broker';
import { consolePage, postForm, SAME_ORIGIN, signIn } from './support/console';
import { freshStateForEachTest } from './support/reset';
import { vault } from './support/seed';
import { twitch } from './support/twitch';
import { startBurstInOneWindow } from './support/rate-window';

/**
 * The admin console as a browser meets it: sign-in, the session cookie and what ends it, CSRF on
 * every form, the security headers, and that no page ever holds a token or the API key.
 */

freshStateForEachTest();

const ADMIN_ENTRY = TEST_BINDINGS.API_KEYS.split(',')[0]!;
/** The bindings without the key the tests sign in with. */
const withApiKeys = (apiKeys: string): Env => ({ ...env, API_KEYS: apiKeys });

describe('signing in', () => {
  it('shows a sign-in form with a password field, and no script or inline style, under a strict CSP', async () => {
    const response = await broker('/admin');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Security-Policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/script-src|unsafe-inline/);
    expect(response.headers.get('X-Frame-Options')).toBe('DENY');
    expect(response.headers.get('Referrer-Policy')).toBe('same-origin');
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const page = await response.text();
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('type="password"');
    expect(page).toContain('action="/admin/console/sign-in"');
    expect(page).not.toMatch(/<script|\sstyle=|<style/i);
  });

  it('exchanges an admin API key for a 30-minute HttpOnly, SameSite=Strict __Host- cookie that holds no key', async () => {
    const jar = new CookieJar();
    const response = await postForm(jar, '/admin/console/sign-in', { api_key: API_KEY });
    expect(response.status).toBe(303);
    expect(response.headers.get('Location')).toBe('/admin');
    const cookie = response.headers.getSetCookie().find((header) => header.startsWith('__Host-ttb_admin='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=1800/);
    expect(cookie).not.toContain(API_KEY);

    const overview = await consolePage(jar, '/admin');
    expect(overview.status).toBe(200);
    expect(overview.html).toContain('Overview');
    expect(overview.html).toContain('API key “tests”');
    expect(overview.html).not.toContain(API_KEY);
  });

  it('goes back to the page asked for, and never to another site', async () => {
    const jar = new CookieJar();
    const back = await postForm(jar, '/admin/console/sign-in', { api_key: API_KEY, return_to: '/admin/console/users?q=stream' });
    expect(back.headers.get('Location')).toBe('/admin/console/users?q=stream');
    for (const returnTo of ['https://evil.example/admin', '//evil.example/admin', '/admin/../token', '/adminx']) {
      const elsewhere = await postForm(new CookieJar(), '/admin/console/sign-in', { api_key: API_KEY, return_to: returnTo });
      expect(elsewhere.headers.get('Location'), returnTo).toBe('/admin');
    }
  });

  it.each([
    ['an unknown key', 'not-a-configured-key-0123456789'],
    ['a key without the admin scope', APP_ONLY_API_KEY],
    ['a key of scope users', USERS_ONLY_API_KEY],
    ['nothing', ''],
  ])('refuses %s with the sign-in page and sets no cookie', async (_label, apiKey) => {
    const jar = new CookieJar();
    const response = await postForm(jar, '/admin/console/sign-in', { api_key: apiKey });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('That is not an API key of scope admin.');
    expect(jar.cookies.size).toBe(0);
  });

  it.each([
    ['no Origin', { Origin: '' }],
    ['another site', { Origin: 'https://evil.example' }],
    ['an app frontend in ALLOWED_ORIGINS', { Origin: APP_ORIGIN }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
  ])('refuses a sign-in posted from %s', async (_label, headers) => {
    const jar = new CookieJar();
    const sent = new Headers({ ...SAME_ORIGIN, ...headers });
    if (sent.get('Origin') === '') sent.delete('Origin');
    const response = await jar.fetch('/admin/console/sign-in', { method: 'POST', body: new URLSearchParams({ api_key: API_KEY }), headers: sent });
    expect(response.status).toBe(403);
    expect(response.headers.get('Content-Type')).toMatch(/^text\/html/);
    expect(jar.cookies.size).toBe(0);
  });

  it('limits sign-in attempts per address like the logins, so the form is no key-guessing oracle', async () => {
    await startBurstInOneWindow();
    const jar = new CookieJar();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 61; attempt++) {
      statuses.push((await postForm(jar, '/admin/console/sign-in', { api_key: `guess-${attempt}-0123456789abcdef` })).status);
    }
    expect(statuses.slice(0, 60).every((status) => status === 401)).toBe(true);
    const limited = await postForm(jar, '/admin/console/sign-in', { api_key: API_KEY });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(jar.cookies.size).toBe(0);
  });
});

describe('what counts as an admin session', () => {
  it('accepts no API key in the URL, in a header or as a form field on a page', async () => {
    for (const path of [`/admin/console/users?api_key=${API_KEY}`, `/admin/console/users?key=${API_KEY}`]) {
      const response = await broker(path);
      expect(response.status).toBe(401);
      expect(await response.text()).toContain('Sign in');
    }
    expect((await broker('/admin/console/users', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(401);
    const inQuery = await postForm(new CookieJar(), `/admin/console/sign-in?api_key=${API_KEY}`, {});
    expect(inQuery.status).toBe(401);
    expect(inQuery.headers.getSetCookie()).toEqual([]);
    const overview = await broker(`/admin?api_key=${API_KEY}`);
    expect(await overview.text()).not.toContain('Overview</h1>');
  });

  it("refuses a user's session in place of the admin cookie, and the admin cookie in place of a user's session", async () => {
    const { jar: user } = await login({ userId: '100001' });
    const userSession = user.sessionCookie!;
    const asAdmin = new CookieJar();
    asAdmin.cookies.set('__Host-ttb_admin', userSession);
    expect((await asAdmin.fetch('/admin/console/users')).status).toBe(401);
    // Signed with the same SESSION_SECRET, for the same user id: still not an admin session.
    const forged = await signSession(getConfig(env).sessionSecret, 'tests', 1);
    asAdmin.cookies.set('__Host-ttb_admin', forged.token);
    expect((await asAdmin.fetch('/admin/console/users')).status).toBe(401);

    const admin = await signIn();
    const asUser = new CookieJar();
    asUser.cookies.set('__Host-ttb_session', admin.cookies.get('__Host-ttb_admin')!);
    expect((await asUser.fetch('/token')).status).toBe(401);
    expect((await broker('/token', { headers: { Authorization: `Bearer ${admin.cookies.get('__Host-ttb_admin')}` } })).status).toBe(401);
    expect((await broker('/admin/users', { headers: { Authorization: `Bearer ${admin.cookies.get('__Host-ttb_admin')}` } })).status).toBe(401);
  });

  it("refuses a perfect admin session signed with the user sessions' key: the console's key is derived for it alone", async () => {
    const config = getConfig(env);
    const entry = config.apiKeys.find((candidate) => candidate.name === 'tests')!;
    const genuine = await signAdminSession(config.sessionSecret, entry);
    const payload = decodeJwt(genuine.token);
    const userSessionKey = new TextEncoder().encode(config.sessionSecret);
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(userSessionKey);
    const jar = new CookieJar();
    jar.cookies.set('__Host-ttb_admin', genuine.token);
    expect((await jar.fetch('/admin/console/users')).status).toBe(200);
    jar.cookies.set('__Host-ttb_admin', forged);
    expect((await jar.fetch('/admin/console/users')).status).toBe(401);
  });

  it('sends an expired session back to the sign-in page, and clears its cookie', async () => {
    const entry = getConfig(env).apiKeys.find((candidate) => candidate.name === 'tests')!;
    const expired = await signAdminSession(getConfig(env).sessionSecret, entry, Date.now() - 31 * 60_000);
    const jar = new CookieJar();
    jar.cookies.set('__Host-ttb_admin', expired.token);
    const response = await jar.fetch('/admin/console/users?q=alice');
    expect(response.status).toBe(401);
    const page = await response.text();
    expect(page).toContain('Your admin session has ended');
    // Signing in again comes back to where the operator was.
    expect(page).toContain('name="return_to" value="/admin/console/users?q=alice"');
    expect(jar.cookies.has('__Host-ttb_admin')).toBe(false);
  });

  it('ends when its API key is removed from API_KEYS, replaced under the same name, or loses the admin scope', async () => {
    const jar = await signIn();
    expect((await jar.fetch('/admin/console/users')).status).toBe(200);
    const others = TEST_BINDINGS.API_KEYS.split(',').slice(1).join(',');
    const [, , digest] = ADMIN_ENTRY.split(':');
    const replacedDigest = 'ab'.repeat(32);
    for (const apiKeys of [others, `tests:app+users+admin:${replacedDigest},${others}`, `tests:app+users:${digest},${others}`]) {
      const signedIn = new CookieJar();
      signedIn.cookies.set('__Host-ttb_admin', jar.cookies.get('__Host-ttb_admin')!);
      const response = await signedIn.fetch('/admin/console/users', {}, withApiKeys(apiKeys));
      expect(response.status, apiKeys).toBe(401);
      expect(await response.text()).toContain('Sign in');
    }
    // The unchanged configuration still accepts it.
    expect((await jar.fetch('/admin/console/users')).status).toBe(200);
  });

  it('signs out with a CSRF-checked form', async () => {
    const jar = await signIn();
    const { csrf } = await consolePage(jar, '/admin');
    expect((await postForm(jar, '/admin/console/sign-out', { csrf: 'wrong' })).status).toBe(403);
    const out = await postForm(jar, '/admin/console/sign-out', { csrf: csrf! });
    expect(out.status).toBe(303);
    expect(jar.cookies.has('__Host-ttb_admin')).toBe(false);
    expect((await jar.fetch('/admin/console/users')).status).toBe(401);
  });
});

describe('a frontend of the same site', () => {
  it.each(['/admin', '/admin/console/users?q=', '/admin/console/users/100001', '/admin/console/compliance.csv'])(
    "gets no CORS answer for %s, so its scripts cannot read the console with the operator's cookie",
    async (path) => {
      await login({ userId: '100001' });
      const jar = await signIn();
      const response = await jar.fetch(path, { headers: { Origin: APP_ORIGIN, 'Sec-Fetch-Site': 'same-site', 'Sec-Fetch-Mode': 'cors' } });
      // Without Access-Control-Allow-Origin the browser hands the response to no script.
      expect(response.headers.get('Access-Control-Allow-Origin')).toBeNull();
    },
  );

  it('still gets CORS on the token routes it is allowed', async () => {
    const response = await broker('/health', { headers: { Origin: APP_ORIGIN } });
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe(APP_ORIGIN);
  });
});

describe('forms that change something', () => {
  it('answers 400, not 500, to a form body that does not parse', async () => {
    const jar = await signIn();
    const response = await jar.fetch('/admin/console/sign-out', {
      method: 'POST',
      body: 'junk',
      headers: { ...SAME_ORIGIN, 'Content-Type': 'multipart/form-data; boundary=x' },
    });
    expect(response.status).toBe(400);
    const signInForm = await broker('/admin/console/sign-in', {
      method: 'POST',
      body: 'junk',
      headers: { ...SAME_ORIGIN, 'Content-Type': 'multipart/form-data; boundary=x' },
    });
    expect(signInForm.status).toBe(400);
  });

  const refreshPath = '/admin/console/users/100001/refresh';

  it.each([
    ['no CSRF token', () => ({}), {}],
    ['a wrong CSRF token', () => ({ csrf: 'x'.repeat(43) }), {}],
    ['a cross-site Origin', (csrf: string) => ({ csrf }), { Origin: 'https://evil.example' }],
    ["an app frontend's Origin", (csrf: string) => ({ csrf }), { Origin: APP_ORIGIN }],
    ['Sec-Fetch-Site: cross-site', (csrf: string) => ({ csrf }), { 'Sec-Fetch-Site': 'cross-site' }],
  ])('refuses a forced refresh with %s (403) and refreshes nothing', async (_label, fields, headers) => {
    await login({ userId: '100001' });
    const jar = await signIn();
    const { csrf } = await consolePage(jar, '/admin/console/users/100001');
    const before = (await twitch.counts()).token.refresh_token;
    const response = await postForm(jar, refreshPath, fields(csrf!), headers);
    expect(response.status).toBe(403);
    expect(response.headers.get('Content-Security-Policy')).toBe(CONSOLE_CSP);
    expect((await twitch.counts()).token.refresh_token).toBe(before);
  });

  it('refuses the CSRF token of another admin session', async () => {
    await login({ userId: '100001' });
    const mine = await signIn();
    const theirs = await signIn();
    const { csrf: theirCsrf } = await consolePage(theirs, '/admin/console/users/100001');
    expect((await postForm(mine, refreshPath, { csrf: theirCsrf! })).status).toBe(403);
  });

  it('forces a refresh: a new pair from Twitch, the replaced access token revoked there, the result shown after a redirect', async () => {
    await login({ userId: '100001' });
    const before = await json<{ access_token: string }>(await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    const jar = await signIn();
    const { csrf } = await consolePage(jar, '/admin/console/users/100001');
    const refreshesBefore = (await twitch.counts()).token.refresh_token;

    const response = await postForm(jar, refreshPath, { csrf: csrf! });
    expect(response.status).toBe(303);
    expect(response.headers.get('Location')).toBe('/admin/console/users/100001?done=refreshed');
    expect((await twitch.counts()).token.refresh_token).toBe(refreshesBefore + 1);

    const after = await json<{ access_token: string }>(await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(after.access_token).not.toBe(before.access_token);
    await runDurableObjectAlarm(vault('100001'));
    const oldToken = await fetch('https://twitch.test/oauth2/validate', { headers: { Authorization: `OAuth ${before.access_token}` } });
    expect(oldToken.status).toBe(401);

    const page = await consolePage(jar, '/admin/console/users/100001?done=refreshed');
    expect(page.html).toContain('Refreshed: Twitch issued a new token pair');
    expect(page.html).toContain('refresh_forced');
    expect(page.html).toContain('by API key tests');
    for (const secret of await twitch.secrets()) expect(page.html).not.toContain(secret);
  });

  it('drops a user only when the confirmation is ticked', async () => {
    await login({ userId: '100002' });
    const jar = await signIn();
    const { csrf } = await consolePage(jar, '/admin/console/users/100002');
    const unconfirmed = await postForm(jar, '/admin/console/users/100002/drop', { csrf: csrf! });
    expect(unconfirmed.status).toBe(400);
    expect((await broker('/token/users/100002', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);

    const dropped = await postForm(jar, '/admin/console/users/100002/drop', { csrf: csrf!, confirm: 'drop' });
    expect(dropped.status).toBe(303);
    expect((await broker('/token/users/100002', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
    const page = await consolePage(jar, '/admin/console/users/100002?done=dropped');
    expect(page.html).toContain('dropped');
    expect(page.html).not.toContain('Force refresh');
  });
});

describe('the pages', () => {
  it('says why no sweep batch shows right after the hourly run, and when the first one is due', async () => {
    const jar = await signIn();
    expect((await consolePage(jar, '/admin')).html).toContain('no token is in use, so the hourly sweep has no one to validate');

    await login({ userId: '100001' });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '0 * * * *', scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    const status = await json<{ sweep: { in_use: number; next_batch_at: string | null; recent_batches: unknown[] } }>(
      await broker('/admin/status', { headers: { Authorization: `Bearer ${API_KEY}` } }),
    );
    expect(status.sweep).toMatchObject({ in_use: 1, recent_batches: [] });
    expect(Date.parse(status.sweep.next_batch_at!)).toBeGreaterThan(Date.now() - 60_000);
    const overview = await consolePage(jar, '/admin');
    expect(overview.html).toContain('The first batch is due at');
    expect(overview.html).not.toContain('No batch has run yet.</p>');
  });

  it('finds users by login prefix in any case, or by id, and shows no token', async () => {
    await login({ userId: '100001' });
    await login({ userId: '100002' });
    expect((await broker('/admin/sweep', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    const jar = await signIn();
    const overview = await consolePage(jar, '/admin');
    // The sweep's batch, as a table and as an SVG chart drawn with attributes (no style).
    expect(overview.html).toContain('<svg class="chart"');
    expect(overview.html).toMatch(/<rect [^>]*fill="#0a7d32"/);
    const byLogin = await consolePage(jar, '/admin/console/users?q=STREAMER');
    expect(byLogin.status).toBe(200);
    expect(byLogin.html).toContain('streamer_alice');
    expect(byLogin.html).not.toContain('mod_bob');
    const byId = await consolePage(jar, '/admin/console/users?q=100002');
    expect(byId.html).toContain('mod_bob');
    const nonsense = await consolePage(jar, '/admin/console/users?q=%22%3E%3Cscript%3E');
    expect(nonsense.status).toBe(400);
    expect(nonsense.html).not.toContain('<script>');
    for (const { html } of [overview, byLogin, byId, await consolePage(jar, '/admin/console/users/100001')]) {
      for (const secret of [...(await twitch.secrets()), API_KEY]) expect(html).not.toContain(secret);
      expect(html).not.toMatch(/<script|\sstyle=|<style/i);
    }
  });

  it('answers an unknown or malformed user id with a 404 page', async () => {
    const jar = await signIn();
    expect((await jar.fetch('/admin/console/users/999999')).status).toBe(404);
    expect((await jar.fetch('/admin/console/users/not-an-id')).status).toBe(404);
  });

  it('serves its stylesheet from its own origin, as the CSP requires', async () => {
    const response = await broker('/admin/console/style.css');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toMatch(/^text\/css/);
    expect(await response.text()).toContain('body{');
  });

  it('downloads the compliance evidence for the signed-in console only', async () => {
    expect((await broker('/admin/console/compliance.csv')).status).toBe(401);
    const jar = await signIn();
    const csv = await jar.fetch('/admin/console/compliance.csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('Content-Disposition')).toMatch(/^attachment; filename="compliance-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect((await csv.text()).split('\r\n')[0]).toBe(
      '"batch","started_at","finished_at","moments_from","moments_to","visited","validated","refreshed","revoked","failed","skipped","not_validated"',
    );
    const report = await jar.fetch('/admin/console/compliance.json');
    expect(await json(report)).toMatchObject({ tokens_in_use: 0, last_hour: { share_validated: null } });
  });
});
