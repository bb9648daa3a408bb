import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { API_KEY, APP_ONLY_API_KEY, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, json } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';
import { useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

const appToken = (headers: Record<string, string> = { Authorization: `Bearer ${API_KEY}` }) => broker('/token/app', { headers });

describe('GET /token/app', () => {
  it('answers {access_token, token_type, expires_in, expires_at, client_id} with no-store', async () => {
    const response = await appToken();
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const body = await json(response);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[a-z0-9]{30}$/),
      token_type: 'bearer',
      expires_in: expect.any(Number),
      expires_at: expect.any(Number),
      client_id: 'standin-client-id',
    });
    expect(body.expires_in).toBeGreaterThan(5_000_000);
  });

  it('mints exactly once when fifty cold requests arrive together', async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, () => appToken()));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    const tokens = await Promise.all(responses.map(async (response) => (await json<{ access_token: string }>(response)).access_token));
    expect(new Set(tokens).size).toBe(1);
    expect((await twitch.counts()).token.client_credentials).toBe(1);
  });

  it('caches the token in KV, sealed, with an expiry', async () => {
    const { access_token: token } = await json<{ access_token: string }>(await appToken());
    const listed = await env.APP_TOKEN_CACHE.list();
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]!.expiration).toBeGreaterThan(Date.now() / 1000);
    const raw = await env.APP_TOKEN_CACHE.get(listed.keys[0]!.name);
    expect(raw).not.toContain(token);
  });

  it('keeps serving the cached token without calling Twitch again', async () => {
    await appToken();
    for (let i = 0; i < 10; i++) expect((await appToken()).status).toBe(200);
    expect((await twitch.counts()).token.client_credentials).toBe(1);
  });

  it('answers 503 with Retry-After when Twitch cannot mint, never 500', async () => {
    await twitch.inject({ path: '/oauth2/token', grantType: 'client_credentials', status: 502, times: -1 });
    const response = await appToken();
    expect(response.status).toBe(503);
    expect(response.headers.get('Retry-After')).toMatch(/^\d+$/);
    expect(await json(response)).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { Authorization: 'Bearer not-the-right-key-000000' }],
    ['a very long key', { Authorization: `Bearer ${'k'.repeat(5000)}` }],
  ])('answers 401 with %s', async (_name, headers) => {
    const response = await appToken(headers);
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'unauthorized' });
    expect((await twitch.counts()).token.client_credentials).toBe(0);
  });

  it('accepts every key that carries the app scope', async () => {
    expect((await appToken({ Authorization: `Bearer ${APP_ONLY_API_KEY}` })).status).toBe(200);
  });

  it('answers 403 insufficient_scope to a valid key without the app scope', async () => {
    const response = await appToken({ Authorization: `Bearer ${USERS_ONLY_API_KEY}` });
    expect(response.status).toBe(403);
    expect(await json(response)).toMatchObject({ error: 'insufficient_scope' });
  });
});
