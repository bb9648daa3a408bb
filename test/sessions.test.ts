import { describe, expect, it } from 'vitest';
import { API_KEY, APP_ORIGIN } from './test-bindings';
import { broker, json, login, loginWithBearer } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('POST /sessions/revoke-all', () => {
  it('ends every session of the user at once, and keeps the grant for server-side callers', async () => {
    const phone = await loginWithBearer('100001');
    const { jar: laptop } = await login({ userId: '100001' });
    const other = await loginWithBearer('100002');

    const response = await broker('/sessions/revoke-all', { method: 'POST', headers: bearer(phone) });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ sessions_revoked: true });

    expect((await broker('/token', { headers: bearer(phone) })).status).toBe(401);
    expect((await laptop.fetch('/token')).status).toBe(401);
    expect((await broker('/token', { headers: bearer(other) })).status).toBe(200);
    expect((await broker('/token/users/100001', { headers: bearer(API_KEY) })).status).toBe(200);
  });

  it('lets the user log in again afterwards', async () => {
    const first = await loginWithBearer('100001');
    await broker('/sessions/revoke-all', { method: 'POST', headers: bearer(first) });
    const second = await loginWithBearer('100001');
    expect((await broker('/token', { headers: bearer(second) })).status).toBe(200);
  });

  it('refuses a cookie-authenticated call without an allowed Origin', async () => {
    const { jar } = await login();
    expect((await jar.fetch('/sessions/revoke-all', { method: 'POST' })).status).toBe(403);
    expect((await jar.fetch('/sessions/revoke-all', { method: 'POST', headers: { Origin: APP_ORIGIN } })).status).toBe(200);
  });

  it('refuses an already revoked session', async () => {
    const session = await loginWithBearer('100001');
    await broker('/sessions/revoke-all', { method: 'POST', headers: bearer(session) });
    expect((await broker('/sessions/revoke-all', { method: 'POST', headers: bearer(session) })).status).toBe(401);
  });
});

describe('GET /admin/users/:id/events', () => {
  it('records login, refresh, validation, session revocation and logout, without secrets', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 });
    const { jar } = await login({ userId: '100001' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14400 });
    await jar.fetch('/token'); // refresh
    await broker('/admin/sweep', { method: 'POST', headers: bearer(API_KEY) }); // validate (forced)
    const session = await loginWithBearer('100001');
    await broker('/sessions/revoke-all', { method: 'POST', headers: bearer(session) });

    const response = await broker('/admin/users/100001/events', { headers: bearer(API_KEY) });
    expect(response.status).toBe(200);
    const body = await json<{ user_id: string; events: { at: string; event: string }[] }>(response);
    expect(body.user_id).toBe('100001');
    expect(body.events.map((entry) => entry.event)).toEqual(['logged_in', 'refreshed', 'validated', 'logged_in', 'sessions_revoked']);
    expect(Date.parse(body.events[0]!.at)).toBeGreaterThan(Date.now() - 60_000);
    const text = JSON.stringify(body);
    for (const secret of await twitch.secrets()) expect(text).not.toContain(secret);
  });

  it('records a revocation at Twitch with its reason', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 });
    const { jar } = await login({ userId: '100002' });
    await twitch.disconnect('100002');
    await jar.fetch('/token');
    const body = await json<{ events: { event: string; detail?: string }[] }>(await broker('/admin/users/100002/events', { headers: bearer(API_KEY) }));
    expect(body.events.at(-1)).toEqual({ at: expect.any(String), event: 'revoked', detail: 'refresh_rejected' });
  });

  it('answers 404 for an unknown user and 403 for a key without the admin scope', async () => {
    expect((await broker('/admin/users/424242/events', { headers: bearer(API_KEY) })).status).toBe(404);
    await login({ userId: '100001' });
    const response = await broker('/admin/users/100001/events', { headers: bearer('users-only-key-0123456789abcdef') });
    expect(response.status).toBe(403);
  });
});
