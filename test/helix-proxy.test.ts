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
    const refused = await broker('/helix/users', {
      method: 'POST',
      headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
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
    const write = await jar.fetch('/helix/users', { method: 'POST', headers: { Origin: 'https://evil.example.com' }, body: '{}' }, {
      ...env,
      HELIX_PROXY_ALLOW: 'POST /users',
    } as Env);
    expect(write.status).toBe(403);
    expect(await json(write)).toMatchObject({ error: 'forbidden_origin' });
  });
});

describe('the Helix proxy stays inside /helix (issue 17)', () => {
  const withWrites = { ...env, HELIX_PROXY_ALLOW: 'POST /chat/messages' } as Env;
  const appKey = { Authorization: `Bearer ${APP_ONLY_API_KEY}`, 'Content-Type': 'application/json' };

  it('refuses a write walked out of its allowed prefix into EventSub, and nothing reaches Twitch', async () => {
    await twitch.eventsub.delivery('outbox');
    const before = (await twitch.eventsub.subscriptions()).length;
    const body = JSON.stringify({
      type: 'user.authorization.revoke',
      version: '1',
      condition: { client_id: env.TWITCH_CLIENT_ID },
      transport: { method: 'webhook', callback: 'https://evil.example.com/hook', secret: 'evil-secret-0123456789' },
    });
    const response = await broker('/helix/chat/messages/.%09./..%5Ceventsub/subscriptions', { method: 'POST', headers: appKey, body }, withWrites);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request' });
    expect((await twitch.eventsub.subscriptions()).length).toBe(before);
    expect(await twitch.apiCalls()).toEqual([]);
  });

  it("never sends a user's token outside /helix (no walk up to /oauth2/validate)", async () => {
    const session = await loginWithBearer('100001');
    const validatesBefore = (await twitch.counts()).validate;
    for (const path of [
      '/helix/users/..%5C..%5Coauth2%5Cvalidate',
      '/helix/users%2F..%2F..%2Foauth2%2Fvalidate',
      '/helix/users/.%0a./x',
      '/helix/users/%2e%2e',
    ]) {
      const response = await broker(path, { headers: { Authorization: `Bearer ${session}` } });
      expect(response.status, path).toBe(400);
      expect(await json(response), path).toMatchObject({ error: 'invalid_request' });
    }
    // `%2e%2e` is a dot segment to the URL parser itself: the runtime resolves it before routing.
    const resolved = await broker('/helix/users/%2e%2e/%2e%2e/oauth2/validate', { headers: { Authorization: `Bearer ${session}` } });
    expect(resolved.status).toBe(404);
    expect((await twitch.counts()).validate).toBe(validatesBefore);
    expect(await twitch.apiCalls()).toEqual([]);
  });

  it('sends plain paths and the query string on unchanged', async () => {
    const response = await broker('/helix/users?id=100001&login=mod_bob', { headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}` } });
    expect(response.status).toBe(200);
    expect((await twitch.apiCalls()).map((call) => call.target)).toEqual(['/helix/users?id=100001&login=mod_bob']);
  });
});

describe('what the Helix proxy passes back (issue 17)', () => {
  const appKey = { Authorization: `Bearer ${APP_ONLY_API_KEY}` };

  it('does not follow a redirect: a 3xx from upstream is a 502 upstream_redirect', async () => {
    await twitch.inject({ path: '/helix/users', status: 302, location: 'https://evil.example.com/steal' });
    const response = await broker('/helix/users', { headers: appKey });
    expect(response.status).toBe(502);
    expect(await json(response)).toMatchObject({ error: 'upstream_redirect' });
    expect((await twitch.apiCalls()).length).toBe(1);
  });

  it('passes JSON as JSON and anything else as an inert download, sandboxed and unsniffable', async () => {
    const ok = await broker('/helix/users', { headers: appKey });
    expect(ok.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(ok.headers.get('Content-Security-Policy')).toBe("default-src 'none'; sandbox");
    expect(ok.headers.get('X-Content-Type-Options')).toBe('nosniff');

    await twitch.inject({ path: '/helix/users', kind: 'garbage', status: 200, body: '<script>alert(document.cookie)</script>' });
    const html = await broker('/helix/users', { headers: appKey });
    expect(html.status).toBe(200);
    expect(html.headers.get('Content-Type')).toBe('application/octet-stream');
    expect(html.headers.get('Content-Security-Policy')).toBe("default-src 'none'; sandbox");
    expect(html.headers.get('X-Content-Type-Options')).toBe('nosniff');
  });
});
