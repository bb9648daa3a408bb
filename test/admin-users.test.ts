import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { csvCell } from '../src/admin/compliance';
import { API_KEY } from './test-bindings';
import { broker, json, login } from './support/broker';
import { freshStateForEachTest, forgetForcedSweepCooldown } from './support/reset';
import { directory, vault } from './support/seed';
import { twitch } from './support/twitch';

/** The console's data as JSON, for scripts: an API key of scope admin as a bearer, like every admin route. */

freshStateForEachTest();

const admin = { Authorization: `Bearer ${API_KEY}` };
type AdminUser = {
  user_id: string;
  login: string | null;
  status: string;
  sweep: string;
  scopes: string[];
  expires_at: string | null;
  last_validated_at: string | null;
  last_refresh: { at: string; outcome: string } | null;
};
type Page = { users: AdminUser[]; next: string | null };

const page = async (query: string) => {
  const response = await broker(`/admin/users${query}`, { headers: admin });
  expect(response.status, await response.clone().text()).toBe(200);
  expect(response.headers.get('Cache-Control')).toBe('no-store');
  return json<Page>(response);
};

describe('GET /admin/users', () => {
  it('lists users with what their vault knows, and keeps each login in the directory for search', async () => {
    await login({ userId: '100001' });
    await login({ userId: '100002' });
    const everyone = await page('');
    expect(everyone.next).toBeNull();
    expect(everyone.users.map((user) => user.user_id)).toEqual(['100001', '100002']);
    const [alice] = everyone.users;
    expect(alice).toMatchObject({ login: 'streamer_alice', status: 'active', sweep: 'in_use', scopes: expect.arrayContaining(['user:read:email']) });
    expect(Date.parse(alice!.expires_at!)).toBeGreaterThan(Date.now());
    expect(Math.abs(Date.parse(alice!.last_validated_at!) - Date.now())).toBeLessThan(60_000);
    // The directory itself holds the login (the search does not ask the vaults).
    const listed = await directory().listUsers({ search: { loginPrefix: 'mod_', userId: null }, after: null, limit: 10 });
    expect(listed.entries.map((entry) => [entry.userId, entry.login])).toEqual([['100002', 'mod_bob']]);
  });

  it('searches by login prefix in any case, or by exact id, and pages without repeating or skipping anyone', async () => {
    await twitch.addUsers(7, 300000);
    for (let i = 0; i < 7; i++) await login({ userId: String(300000 + i) });
    const all = await page('');
    expect(all.users).toHaveLength(7);
    const prefix = all.users[0]!.login!.slice(0, 3).toUpperCase();

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const next: Page = await page(`?${new URLSearchParams({ q: prefix, limit: '2', ...(after ? { after } : {}) })}`);
      seen.push(...next.users.map((user) => user.user_id));
      after = next.next;
      pages++;
    } while (after);
    const expected = all.users.filter((user) => user.login!.startsWith(prefix.toLowerCase())).map((user) => user.user_id);
    expect(seen.sort()).toEqual(expected.sort());
    expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 2)));

    const byId = await page('?q=300003');
    expect(byId.users[0]!.user_id).toBe('300003');
  });

  it.each([
    ['?q=%3Cscript%3E', 'q:'],
    ['?after=not~valid!', 'after:'],
    ['?limit=0', 'limit:'],
    ['?limit=101', 'limit:'],
    ['?q=alice&after=100001', 'after:'],
  ])('refuses %s with a 400 naming the parameter', async (query, field) => {
    const response = await broker(`/admin/users${query}`, { headers: admin });
    expect(response.status).toBe(400);
    const body = await json<{ error: string; error_description: string }>(response);
    expect(body.error).toBe('invalid_request');
    expect(body.error_description.startsWith(field)).toBe(true);
  });
});

describe('GET /admin/users/:userId', () => {
  it('describes one user without any token', async () => {
    await login({ userId: '100001' });
    const response = await broker('/admin/users/100001', { headers: admin });
    expect(response.status).toBe(200);
    const text = await response.text();
    for (const secret of await twitch.secrets()) expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ user_id: '100001', login: 'streamer_alice', status: 'active', last_refresh: null });
    expect((await broker('/admin/users/999999', { headers: admin })).status).toBe(404);
  });
});

describe('POST /admin/users/:userId/refresh', () => {
  it('refreshes now, revokes the replaced access token at Twitch, and records who asked', async () => {
    await login({ userId: '100001' });
    const before = await json<{ access_token: string }>(await broker('/token/users/100001', { headers: admin }));
    const response = await broker('/admin/users/100001/refresh', { method: 'POST', headers: admin });
    expect(response.status).toBe(200);
    const body = await json<{ refreshed: boolean; expires_at: string }>(response);
    expect(body.refreshed).toBe(true);
    expect((await twitch.counts()).token.refresh_token).toBe(1);
    const after = await json<{ access_token: string }>(await broker('/token/users/100001', { headers: admin }));
    expect(after.access_token).not.toBe(before.access_token);
    await runDurableObjectAlarm(vault('100001'));
    expect((await fetch('https://twitch.test/oauth2/validate', { headers: { Authorization: `OAuth ${before.access_token}` } })).status).toBe(401);
    expect((await fetch('https://twitch.test/oauth2/validate', { headers: { Authorization: `OAuth ${after.access_token}` } })).status).toBe(200);
    const summary = await json<AdminUser>(await broker('/admin/users/100001', { headers: admin }));
    expect(summary.last_refresh?.outcome).toBe('refreshed');
    const events = await json<{ events: { event: string; detail?: string }[] }>(await broker('/admin/users/100001/events', { headers: admin }));
    expect(events.events.map((entry) => entry.event)).toEqual(['logged_in', 'refresh_forced', 'refreshed']);
    expect(events.events[1]!.detail).toBe('by API key tests');
  });

  it('answers 503 with Retry-After when Twitch fails, and keeps the grant', async () => {
    await login({ userId: '100001' });
    const before = await json<{ access_token: string }>(await broker('/token/users/100001', { headers: admin }));
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: 10 });
    const response = await broker('/admin/users/100001/refresh', { method: 'POST', headers: admin });
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('Retry-After'))).toBeGreaterThan(0);
    await twitch.clearFaults();
    const still = await json<{ access_token: string }>(await broker('/token/users/100001', { headers: admin }));
    expect(still.access_token).toBe(before.access_token);
  });

  it('answers 409 for a dropped user and 404 for one never seen', async () => {
    await login({ userId: '100002' });
    expect((await broker('/token/users/100002', { method: 'DELETE', headers: admin })).status).toBe(200);
    const dropped = await broker('/admin/users/100002/refresh', { method: 'POST', headers: admin });
    expect(dropped.status).toBe(409);
    expect(await json(dropped)).toMatchObject({ error: 'no_grant' });
    expect((await broker('/admin/users/999999/refresh', { method: 'POST', headers: admin })).status).toBe(404);
  });
});

describe("a user's audit trail", () => {
  it('keeps the first login and the last status change when it trims to its newest 200 entries', async () => {
    await login({ userId: '100001' });
    expect((await broker('/token/users/100001', { method: 'DELETE', headers: admin })).status).toBe(200);
    await login({ userId: '100001' });
    // 110 operator refreshes add 220 entries (refresh_forced, refreshed): more than the trail keeps.
    for (let i = 0; i < 110; i++) expect((await broker('/admin/users/100001/refresh', { method: 'POST', headers: admin })).status).toBe(200);

    const { events } = await json<{ events: { at: string; event: string }[] }>(await broker('/admin/users/100001/events', { headers: admin }));
    expect(events).toHaveLength(200);
    // The first login (when this user first authorized) and the login that made them active again.
    expect(events.slice(0, 2).map((entry) => entry.event)).toEqual(['logged_in', 'logged_in']);
    expect(events.slice(2).every((entry) => entry.event === 'refresh_forced' || entry.event === 'refreshed')).toBe(true);
    expect(events.at(-1)!.event).toBe('refreshed');
    expect(events.map((entry) => entry.at)).toEqual([...events.map((entry) => entry.at)].sort());
  });
});

describe('compliance evidence', () => {
  it("reports the sweep's batches as JSON and as CSV with a header row", async () => {
    await login({ userId: '100001' });
    await forgetForcedSweepCooldown();
    expect((await broker('/admin/sweep', { method: 'POST', headers: admin })).status).toBe(200);

    const report = await json<{
      tokens_in_use: number;
      last_hour: { batches: number; validated: number; share_validated: number | null; complete: boolean };
      batches: unknown[];
    }>(await broker('/admin/compliance.json', { headers: admin }));
    expect(report.tokens_in_use).toBe(1);
    expect(report.last_hour.batches).toBeGreaterThanOrEqual(1);
    expect(report.last_hour.validated).toBe(1);
    // One batch covers moments of minutes, not the whole cycle: the share is not claimed yet.
    expect(report.last_hour.complete).toBe(false);
    expect(report.last_hour.share_validated).toBeNull();

    const csv = await broker('/admin/compliance.csv?hours=1', { headers: admin });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('Content-Type')).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      '"batch","started_at","finished_at","moments_from","moments_to","visited","validated","refreshed","revoked","failed","skipped","not_validated"',
    );
    expect(lines).toHaveLength(1 + report.batches.length);
    expect(lines[1]).toMatch(/^"\d+","\d{4}-/);
  });

  it('writes CSV cells a spreadsheet cannot run as formulas', () => {
    expect(csvCell('=HYPERLINK("http://evil")')).toBe('"\'=HYPERLINK(""http://evil"")"');
    for (const start of ['+', '-', '@', '\t', '\r']) expect(csvCell(`${start}1`)).toBe(`"'${start}1"`);
    expect(csvCell('100001:failed 100002:revoked')).toBe('"100001:failed 100002:revoked"');
  });
});

describe('GET /admin/status', () => {
  it('shows the app token once minted (never the token), EventSub and the sweep', async () => {
    const before = await json<{ app_token: unknown; eventsub: { enabled: boolean }; sweep: { users: number } }>(
      await broker('/admin/status', { headers: admin }),
    );
    expect(before.app_token).toBeNull();
    expect(before.eventsub.enabled).toBe(false);
    const minted = await json<{ access_token: string }>(await broker('/token/app', { headers: admin }));
    const after = await broker('/admin/status', { headers: admin });
    const text = await after.text();
    expect(text).not.toContain(minted.access_token);
    const status = JSON.parse(text) as { app_token: { expires_at: string; minted_at: string } };
    expect(Date.parse(status.app_token.expires_at)).toBeGreaterThan(Date.now());
  });
});
