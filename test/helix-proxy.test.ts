import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../src/env';
import { APP_ONLY_API_KEY, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, json, login, loginWithBearer } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

interface HelixUsers {
  data: { id: string; login: string }[];
}

describe('the Helix proxy (/helix/*)', () => {
  it("calls Helix with the signed-in user's token, never the caller's own Authorization, and passes rate-limit headers on", async () => {
    const session = await loginWithBearer('100001');
    const response = await broker('/helix/users', { headers: { Authorization: `Bearer ${session}` } });
    expect(response.status).toBe(200);
    expect((await json<HelixUsers>(response)).data[0]).toMatchObject({ id: '100001', login: 'streamer_alice' });
    expect(response.headers.get('Ratelimit-Limit')).toMatch(/^\d+$/);
    expect(response.headers.get('Ratelimit-Remaining')).toMatch(/^\d+$/);
    expect(response.headers.get('Cache-Control')).toBe('no-store');

    const { jar } = await login({ userId: '100002' });
    const byCookie = await jar.fetch('/helix/users');
    expect((await json<HelixUsers>(byCookie)).data[0]!.id).toBe('100002');
  });

  it('acts for the app with an API key of scope app', async () => {
    const response = await broker('/helix/users?id=100001&id=100002', { headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}` } });
    expect(response.status).toBe(200);
    expect((await json<HelixUsers>(response)).data.map((user) => user.id).sort()).toEqual(['100001', '100002']);
  });

  it('refreshes once and retries once when Helix answers 401', async () => {
    const session = await loginWithBearer('100001');
    const token = await json<{ access_token: string }>(await broker('/token', { headers: { Authorization: `Bearer ${session}` } }));
    await twitch.expire({ access_token: token.access_token });
    const response = await broker('/helix/users', { headers: { Authorization: `Bearer ${session}` } });
    expect(response.status).toBe(200);
    expect((await twitch.counts()).token.refresh_token).toBe(1);
  });

  it('passes Helix errors through when the retry fails too', async () => {
    const session = await loginWithBearer('100001');
    await twitch.disconnect('100001');
    const response = await broker('/helix/users', { headers: { Authorization: `Bearer ${session}` } });
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'reauthorization_required' });
  });

  it('forwards only GET unless HELIX_PROXY_ALLOW lists the write', async () => {
    const refused = await broker('/helix/users', { method: 'POST', headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}`, 'Content-Type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({ error: 'forbidden' });

    const allowed = await broker(
      '/helix/users',
      { method: 'POST', headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}`, 'Content-Type': 'application/json' }, body: '{}' },
      { ...env, HELIX_PROXY_ALLOW: 'POST /users, PATCH /channels' } as Env,
    );
    // Forwarded: the stand-in's Helix has no POST /users and says so.
    expect(allowed.status).toBe(404);
  });

  it('refuses callers without a session or an app key, and cookie writes from a foreign origin', async () => {
    expect((await broker('/helix/users')).status).toBe(401);
    expect((await broker('/helix/users', { headers: { Authorization: 'Bearer not-a-key' } })).status).toBe(401);
    expect((await broker('/helix/users', { headers: { Authorization: `Bearer ${USERS_ONLY_API_KEY}` } })).status).toBe(403);

    const { jar } = await login({ userId: '100001' });
    const write = await jar.fetch('/helix/users', { method: 'POST', headers: { Origin: 'https://evil.example.com' }, body: '{}' }, { ...env, HELIX_PROXY_ALLOW: 'POST /users' } as Env);
    expect(write.status).toBe(403);
    expect(await json(write)).toMatchObject({ error: 'forbidden_origin' });
  });
});
