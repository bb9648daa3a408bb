import { describe, expect, it } from 'vitest';
import { API_KEY, BROKER, TEST_BINDINGS } from './test-bindings';
import { broker, json, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';
import { useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

interface TokenBody {
  access_token: string;
  expires_in: number;
  expires_at: number;
  obtained_at: number;
  scopes: string[];
  client_id: string;
}

const userToken = (userId: string, query = '') => broker(`/token/users/${userId}${query}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

describe('force_refresh on user tokens (after a Helix 401)', () => {
  it('replaces a token Twitch killed early: checks it with /oauth2/validate, then refreshes', async () => {
    await login({ userId: '100001' });
    const dead = await json<TokenBody>(await userToken('100001'));
    await twitch.expire({ access_token: dead.access_token }); // killed at Twitch long before its expiry

    // Without force_refresh the broker cannot know: it serves what it holds.
    expect((await json<TokenBody>(await userToken('100001'))).access_token).toBe(dead.access_token);

    const before = await twitch.counts();
    const forced = await userToken('100001', '?force_refresh=true');
    expect(forced.status).toBe(200);
    const fresh = await json<TokenBody>(forced);
    expect(fresh.access_token).not.toBe(dead.access_token);
    const after = await twitch.counts();
    expect(after.validate - before.validate).toBe(1);
    expect(after.token.refresh_token - before.token.refresh_token).toBe(1);
    // And it stays replaced for the next plain caller.
    expect((await json<TokenBody>(await userToken('100001'))).access_token).toBe(fresh.access_token);
  });

  it('works for the signed-in user at GET /token too', async () => {
    const { jar } = await login({ userId: '100001' });
    const dead = await json<TokenBody>(await jar.fetch('/token'));
    await twitch.expire({ access_token: dead.access_token });
    const fresh = await json<TokenBody>(await jar.fetch('/token?force_refresh=true'));
    expect(fresh.access_token).not.toBe(dead.access_token);
  });

  it('keeps a token Twitch confirms alive, and does not ask again for a short while', async () => {
    await login({ userId: '100001' });
    const alive = await json<TokenBody>(await userToken('100001'));
    const before = await twitch.counts();
    for (let i = 0; i < 3; i++) {
      expect((await json<TokenBody>(await userToken('100001', '?force_refresh=true'))).access_token).toBe(alive.access_token);
    }
    const after = await twitch.counts();
    expect(after.validate - before.validate).toBe(1);
    expect(after.token.refresh_token - before.token.refresh_token).toBe(0);
  });

  it('shares one check and one refresh among twenty concurrent forced calls', async () => {
    await login({ userId: '100001' });
    const dead = await json<TokenBody>(await userToken('100001'));
    await twitch.expire({ access_token: dead.access_token });
    const before = await twitch.counts();
    const answers = await Promise.all(Array.from({ length: 20 }, () => userToken('100001', '?force_refresh=true')));
    const tokens = new Set(await Promise.all(answers.map(async (answer) => (await json<TokenBody>(answer)).access_token)));
    expect(tokens.size).toBe(1);
    expect(tokens.has(dead.access_token)).toBe(false);
    const after = await twitch.counts();
    expect(after.validate - before.validate).toBe(1);
    expect(after.token.refresh_token - before.token.refresh_token).toBe(1);
  });

  it('answers 401 reauthorization_required when the user disconnected the app', async () => {
    await login({ userId: '100001' });
    await twitch.disconnect('100001');
    const response = await userToken('100001', '?force_refresh=true');
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'reauthorization_required' });
  });

  it('serves the current token when Twitch cannot answer the check', async () => {
    await login({ userId: '100001' });
    const current = await json<TokenBody>(await userToken('100001'));
    await twitch.inject({ path: '/oauth2/validate', status: 503, times: -1 });
    const response = await userToken('100001', '?force_refresh=true');
    expect(response.status).toBe(200);
    expect((await json<TokenBody>(response)).access_token).toBe(current.access_token);
  });
});

describe('scope checks on user tokens', () => {
  it('answers 403 insufficient_scope with the missing scopes and an authorize_url asking for them', async () => {
    await login({ userId: '100001', scope: 'chat:read' });
    const response = await userToken('100001', '?scope=chat:read+chat:edit');
    expect(response.status).toBe(403);
    const body = await json<{ error: string; missing_scopes: string[]; authorize_url: string }>(response);
    expect(body.error).toBe('insufficient_scope');
    expect(body.missing_scopes).toEqual(['chat:edit']);
    const url = new URL(body.authorize_url);
    expect(url.origin + url.pathname).toBe(`${BROKER}/authorize`);
    expect(url.searchParams.get('scope')!.split(' ').sort()).toEqual(['chat:edit', 'chat:read']);
  });

  it('serves the token when the grant holds every requested scope', async () => {
    const { jar } = await login({ userId: '100001', scope: 'chat:read chat:edit' });
    expect((await userToken('100001', '?scope=chat:edit')).status).toBe(200);
    expect((await jar.fetch('/token?scope=chat:read+chat:edit')).status).toBe(200);
    expect((await jar.fetch('/token?scope=moderator:read:chatters')).status).toBe(403);
  });

  it('refuses a malformed scope list with 400', async () => {
    await login({ userId: '100001' });
    expect((await userToken('100001', `?scope=${encodeURIComponent('<script>')}`)).status).toBe(400);
  });
});

describe('token bodies', () => {
  it('carry client_id, expires_at and obtained_at (Unix seconds) for user tokens', async () => {
    const loggedInAt = Math.floor(Date.now() / 1000);
    await login({ userId: '100001' });
    const body = await json<TokenBody>(await userToken('100001'));
    expect(body.client_id).toBe(TEST_BINDINGS.TWITCH_CLIENT_ID);
    expect(Math.abs(body.expires_at - (Math.floor(Date.now() / 1000) + body.expires_in))).toBeLessThanOrEqual(1);
    expect(body.obtained_at).toBeGreaterThanOrEqual(loggedInAt - 1);
    expect(body.obtained_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('carry client_id and expires_at for the app token, and /health names the client id', async () => {
    const app = await json<{ client_id: string; expires_at: number; expires_in: number }>(
      await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }),
    );
    expect(app.client_id).toBe(TEST_BINDINGS.TWITCH_CLIENT_ID);
    expect(Math.abs(app.expires_at - (Math.floor(Date.now() / 1000) + app.expires_in))).toBeLessThanOrEqual(1);
    expect(await json(await broker('/health'))).toMatchObject({ client_id: TEST_BINDINGS.TWITCH_CLIENT_ID });
  });
});
