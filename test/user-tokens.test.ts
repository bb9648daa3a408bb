import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { API_KEY, APP_ONLY_API_KEY, APP_ORIGIN, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, type CookieJar, json, login, loginWithBearer } from './support/broker';
import { REFRESH_BACKOFF_FIRST_MS } from '../src/vault/refresh-backoff';
import { freshStateForEachTest } from './support/reset';
import { expectEndedAsAnotherUsers, seedGrantOfAnotherUser } from './support/seed';
import { twitch } from './support/twitch';
import { useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scopes: string[];
  user_id: string;
  login: string;
}

/** Logs in while Twitch hands out tokens with only `ttlSeconds` left, then restores normal lifetimes. */
async function loginWithShortLivedToken(userId = '100001', ttlSeconds = 120): Promise<CookieJar> {
  await twitch.configure({ userAccessTokenTtlSeconds: ttlSeconds });
  const { jar } = await login({ userId });
  await twitch.configure({ userAccessTokenTtlSeconds: 14400 });
  return jar;
}

const userToken = (userId: string) => broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

describe('GET /token', () => {
  it('answers the documented body with Cache-Control: no-store and CORS for allowed origins', async () => {
    const { jar } = await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const response = await jar.fetch('/token', { headers: { Origin: APP_ORIGIN } });
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe(APP_ORIGIN);
    expect(response.headers.get('Access-Control-Allow-Credentials')).toBe('true');
    const body = await json<TokenBody>(response);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[a-z0-9]{30}$/),
      token_type: 'bearer',
      expires_in: expect.any(Number),
      expires_at: expect.any(Number),
      obtained_at: expect.any(Number),
      client_id: 'standin-client-id',
      // openid is always requested: its id_token's nonce protects the login (see docs/endpoints.md).
      scopes: ['chat:read', 'chat:edit', 'openid'],
      user_id: '100001',
      login: 'streamer_alice',
    });
    expect(body.expires_in).toBeGreaterThan(14000);
  });

  it('gives no CORS headers to an origin that is not allowed', async () => {
    const { jar } = await login();
    const response = await jar.fetch('/token', { headers: { Origin: 'https://evil.example.com' } });
    expect(response.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });

  it('serves a fresh token without calling Twitch', async () => {
    const { jar } = await login();
    const before = await twitch.counts();
    for (let i = 0; i < 5; i++) expect((await jar.fetch('/token')).status).toBe(200);
    const after = await twitch.counts();
    expect(after).toEqual(before);
  });

  it.each([
    ['no session at all', {}],
    ['a junk cookie', { Cookie: '__Host-ttb_session=not-a-jwt' }],
    ['a junk bearer token', { Authorization: 'Bearer abc.def.ghi' }],
    ['a non-bearer Authorization header', { Authorization: 'Basic dXNlcjpwYXNz' }],
  ])('answers 401 unauthorized for %s', async (_name, headers) => {
    const response = await broker('/token', { headers });
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'unauthorized', error_description: expect.any(String) });
  });

  it('refreshes exactly once when fifty requests arrive together on an expiring token', async () => {
    const jar = await loginWithShortLivedToken();
    const responses = await Promise.all(Array.from({ length: 50 }, () => jar.fetch('/token')));
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const bodies = await Promise.all(responses.map((response) => json<TokenBody>(response)));
    expect(new Set(bodies.map((body) => body.access_token)).size).toBe(1);
    expect(bodies[0]!.expires_in).toBeGreaterThan(14000);
    expect((await twitch.counts()).token.refresh_token).toBe(1);
  });

  it('keeps the newest refresh token: refresh after refresh keeps working with rotation', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 60 });
    const { jar } = await login();
    const first = await json<TokenBody>(await jar.fetch('/token'));
    const second = await json<TokenBody>(await jar.fetch('/token'));
    const third = await json<TokenBody>(await jar.fetch('/token'));
    expect(new Set([first.access_token, second.access_token, third.access_token]).size).toBe(3);
    expect((await twitch.counts()).token.refresh_token).toBe(3);
    expect(await twitch.refreshTokenReuse()).toEqual([]);
  });

  it('serves the still-valid token when Twitch fails the refresh, and keeps the grant', async () => {
    const jar = await loginWithShortLivedToken('100001', 240);
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    const response = await jar.fetch('/token');
    expect(response.status).toBe(200);
    const served = await json<TokenBody>(response);
    expect(served.expires_in).toBeLessThanOrEqual(240);
    expect((await twitch.counts()).token.refresh_token).toBeGreaterThanOrEqual(1);

    // Once the vault's backoff after the failed refresh has passed, the next caller refreshes.
    await twitch.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, REFRESH_BACKOFF_FIRST_MS));
    const recovered = await json<TokenBody>(await jar.fetch('/token'));
    expect(recovered.access_token).not.toBe(served.access_token);
    expect(recovered.expires_in).toBeGreaterThan(14000);
  });

  it('answers 503 with Retry-After when the token has expired and Twitch is down, and recovers afterwards', async () => {
    const jar = await loginWithShortLivedToken('100001', 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 500, times: -1 });
    const failed = await jar.fetch('/token');
    expect(failed.status).toBe(503);
    expect(Number(failed.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(await json(failed)).toMatchObject({ error: 'temporarily_unavailable' });

    await twitch.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, Number(failed.headers.get('Retry-After')) * 1000));
    const recovered = await jar.fetch('/token');
    expect(recovered.status).toBe(200);
    expect((await json<TokenBody>(recovered)).expires_in).toBeGreaterThan(14000);
  });

  it('marks the user revoked when Twitch refuses the refresh token, and stops refreshing', async () => {
    const jar = await loginWithShortLivedToken('100001', 120);
    await twitch.disconnect('100001');
    const first = await jar.fetch('/token');
    expect(first.status).toBe(401);
    expect(await json(first)).toMatchObject({ error: 'reauthorization_required' });
    const refreshesAfterFirst = (await twitch.counts()).token.refresh_token;
    expect(refreshesAfterFirst).toBe(1);

    // The session died with the grant; a server-side caller sees the revocation too.
    expect((await jar.fetch('/token')).status).toBe(401);
    const byKey = await userToken('100001');
    expect(byKey.status).toBe(401);
    expect(await json(byKey)).toMatchObject({ error: 'reauthorization_required' });
    expect((await twitch.counts()).token.refresh_token).toBe(refreshesAfterFirst);
  });

  it('works with the bearer form of the session', async () => {
    const sessionToken = await loginWithBearer('100002');
    const response = await broker('/token', { headers: { Authorization: `Bearer ${sessionToken}` } });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ user_id: '100002', login: 'mod_bob' });
  });
});

describe('GET /token/users/:userId', () => {
  it('hands a stored user token to a caller with an API key', async () => {
    await login({ userId: '100002' });
    const response = await userToken('100002');
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(await json(response)).toMatchObject({ user_id: '100002', login: 'mod_bob', token_type: 'bearer' });
  });

  it('refuses, on a forced check, a stored token Twitch says is another user’s, and ends that grant', async () => {
    const bobs = await seedGrantOfAnotherUser('100001', 'streamer_alice', '100002', 0);
    const forced = await broker('/token/users/100001?force_refresh=true', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(forced.status).toBe(401);
    expect(await json(forced)).toMatchObject({ error: 'reauthorization_required' });
    await expectEndedAsAnotherUsers('100001', 'streamer_alice', bobs);
  });

  it('answers 404 for a user who never logged in', async () => {
    const response = await userToken('999999');
    expect(response.status).toBe(404);
    expect(await json(response)).toMatchObject({ error: 'not_found' });
  });

  it.each([
    ['a non-numeric id', 'abc'],
    ['path traversal', '..%2F..%2Fadmin'],
    ['an over-long id', '1'.repeat(30)],
  ])('answers 400 for %s', async (_name, userId) => {
    const response = await userToken(userId);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request' });
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { Authorization: 'Bearer wrong-key-0123456789abcdef' }],
    ['the key in the wrong header', { 'X-Api-Key': API_KEY }],
    ['an empty bearer', { Authorization: 'Bearer ' }],
  ])('answers 401 with %s', async (_name, headers) => {
    await login({ userId: '100001' });
    const response = await broker('/token/users/100001', { headers });
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'unauthorized' });
  });

  it('accepts a users-scoped key and answers 403 to a key scoped to the app token only', async () => {
    await login({ userId: '100002' });
    expect((await broker('/token/users/100002', { headers: { Authorization: `Bearer ${USERS_ONLY_API_KEY}` } })).status).toBe(200);
    const response = await broker('/token/users/100002', { headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}` } });
    expect(response.status).toBe(403);
    expect(await json(response)).toMatchObject({ error: 'insufficient_scope' });
  });

  it('refuses a session token in place of an API key', async () => {
    const sessionToken = await loginWithBearer('100001');
    const response = await broker('/token/users/100001', { headers: { Authorization: `Bearer ${sessionToken}` } });
    expect(response.status).toBe(401);
  });
});

describe('POST /logout', () => {
  it('revokes both tokens at Twitch, forgets the grant, clears the cookie and ends the session', async () => {
    const { jar } = await login({ userId: '100001' });
    const response = await jar.fetch('/logout', { method: 'POST', headers: { Origin: 'https://broker.test' } });
    expect(response.status).toBe(200);
    expect(jar.sessionCookie).toBeUndefined();
    expect((await twitch.counts()).revoke).toBe(2);

    const stub = env.USER_VAULT.get(env.USER_VAULT.idFromName('100001'));
    const stored = await runInDurableObject(stub, (_instance, ctx) => ctx.storage.get<{ grant: unknown }>('user'));
    expect(stored?.grant).toBeNull();
    expect((await userToken('100001')).status).toBe(404);
  });

  it('makes every outstanding session of the user fail, not only the one that logged out', async () => {
    const other = await loginWithBearer('100001');
    const { jar } = await login({ userId: '100001' });
    await jar.fetch('/logout', { method: 'POST', headers: { Origin: APP_ORIGIN } });
    const response = await broker('/token', { headers: { Authorization: `Bearer ${other}` } });
    expect(response.status).toBe(401);
  });

  it('refuses a cookie-authenticated logout from a foreign Origin', async () => {
    const { jar } = await login();
    const response = await jar.fetch('/logout', { method: 'POST', headers: { Origin: 'https://evil.example.com' } });
    expect(response.status).toBe(403);
    expect((await jar.fetch('/token')).status).toBe(200);
  });
});
