import { describe, expect, it, vi } from 'vitest';
import { API_KEY, TWITCH, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, json } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { pairIsAlive } from './support/seed';
import { twitch } from './support/twitch';

freshStateForEachTest();

interface ImportAnswer {
  imported: { user_id: string; login: string; scopes: string[] }[];
  failed: { index: number; error: string; error_description: string }[];
}

const importTokens = (tokens: unknown, key = API_KEY) =>
  broker('/admin/users/import', {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ tokens }),
  });

/** Tokens an app obtained on its own (e.g. held by twurple's RefreshingAuthProvider in a file). */
const heldByTheApp = (userId: string, scopes: string[]) => twitch.grant(userId, scopes);

const refreshAtTwitch = (refreshToken: string) =>
  fetch(`${TWITCH}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'standin-client-id',
      client_secret: 'standin-client-secret',
    }),
  });

describe('POST /admin/users/import', () => {
  it('moves users in without a new login: one refresh each, user learned from Twitch, old copies dead', async () => {
    const alice = await heldByTheApp('100001', ['chat:read', 'chat:edit']);
    const bob = await heldByTheApp('100002', ['user:read:email']);

    const response = await importTokens([{ refresh_token: alice.refresh_token, access_token: alice.access_token }, { refresh_token: bob.refresh_token }]);
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const answer = await json<ImportAnswer>(response);
    expect(answer.failed).toEqual([]);
    expect(answer.imported).toEqual([
      { user_id: '100001', login: 'streamer_alice', scopes: ['chat:read', 'chat:edit'] },
      { user_id: '100002', login: expect.any(String), scopes: ['user:read:email'] },
    ]);
    expect((await twitch.counts()).token.refresh_token).toBe(2);

    // The broker serves them like any logged-in user.
    const served = await broker('/token/users/100001?scope=chat:edit', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(served.status).toBe(200);
    expect((await json<{ access_token: string }>(served)).access_token).not.toBe(alice.access_token);

    // The app's copies are dead: the refresh token was spent, the access token revoked.
    expect((await refreshAtTwitch(alice.refresh_token)).status).toBe(400);
    await vi.waitFor(async () => {
      const validate = await fetch(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `OAuth ${alice.access_token}` } });
      expect(validate.status).toBe(401);
    });
  });

  it('reports each token it could not import by index, and imports the rest', async () => {
    const alice = await heldByTheApp('100001', ['chat:read']);
    const answer = await json<ImportAnswer>(await importTokens([{ refresh_token: 'not-a-refresh-token-at-all' }, { refresh_token: alice.refresh_token }]));
    expect(answer.imported.map((user) => user.user_id)).toEqual(['100001']);
    expect(answer.failed).toEqual([{ index: 0, error: 'invalid_grant', error_description: expect.any(String) }]);
  });

  it('says when Twitch is down, and stores nothing', async () => {
    const alice = await heldByTheApp('100001', ['chat:read']);
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    const answer = await json<ImportAnswer>(await importTokens([{ refresh_token: alice.refresh_token }]));
    expect(answer.imported).toEqual([]);
    expect(answer.failed).toEqual([{ index: 0, error: 'temporarily_unavailable', error_description: expect.any(String) }]);
    expect((await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
  });

  it('refuses a refresh token of another user than the access token sent with it, stores neither, and revokes what the refresh bought', async () => {
    const alice = await heldByTheApp('100001', ['chat:read']);
    const bob = await heldByTheApp('100002', ['chat:read']);
    const known = new Set(await twitch.secrets());

    const answer = await json<ImportAnswer>(await importTokens([{ refresh_token: bob.refresh_token, access_token: alice.access_token }]));

    expect(answer.imported).toEqual([]);
    expect(answer.failed).toEqual([{ index: 0, error: 'identity_mismatch', error_description: expect.stringContaining('revoked') }]);
    for (const userId of ['100001', '100002']) {
      expect((await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
    }
    const bought = (await twitch.secrets()).filter((secret) => !known.has(secret));
    expect(bought).toHaveLength(2);
    const [access_token, refresh_token] = bought as [string, string];
    expect(await pairIsAlive({ access_token, refresh_token })).toBe(false);
  });

  it('stores nothing under the sent access token’s user when Twitch cannot say whose the refreshed token is', async () => {
    const alice = await heldByTheApp('100001', ['chat:read']);
    const known = new Set(await twitch.secrets());
    // The sent access token validates (a slow fault of no delay lets that one call through); the
    // refreshed token's validate then meets a 429 whose reset lies beyond the call's deadline.
    await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: 0 });
    await twitch.inject({ path: '/oauth2/validate', status: 429, retryAfterSeconds: 600 });

    const answer = await json<ImportAnswer>(await importTokens([{ refresh_token: alice.refresh_token, access_token: alice.access_token }]));

    expect((await twitch.calls()).filter((call) => call.path === '/oauth2/validate').map((call) => call.status)).toEqual([200, 429]);
    expect(answer.imported).toEqual([]);
    expect(answer.failed).toEqual([{ index: 0, error: 'temporarily_unavailable', error_description: expect.stringContaining('revoked') }]);
    expect((await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
    // The refresh spent the app's token; the pair it bought is revoked, so nothing of this user lives on unseen.
    const bought = (await twitch.secrets()).filter((secret) => !known.has(secret));
    expect(bought).toHaveLength(2);
    const [access_token, refresh_token] = bought as [string, string];
    expect(await pairIsAlive({ access_token, refresh_token })).toBe(false);
  });

  it('keeps a broader live grant the broker already holds', async () => {
    const broad = await heldByTheApp('100001', ['chat:read', 'chat:edit']);
    await importTokens([{ refresh_token: broad.refresh_token }]);
    const narrow = await heldByTheApp('100001', ['chat:read']);
    const answer = await json<ImportAnswer>(await importTokens([{ refresh_token: narrow.refresh_token }]));
    expect(answer.failed).toEqual([{ index: 0, error: 'narrower_than_stored', error_description: expect.any(String) }]);
    const served = await json<{ scopes: string[] }>(await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(served.scopes).toContain('chat:edit');
  });

  it('needs an API key of scope admin', async () => {
    expect((await broker('/admin/users/import', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"tokens":[]}' })).status).toBe(401);
    expect((await importTokens([{ refresh_token: 'x' }], USERS_ONLY_API_KEY)).status).toBe(403);
    expect((await twitch.counts()).token.refresh_token).toBe(0);
  });

  it.each([
    ['no tokens', []],
    ['more than a hundred', Array.from({ length: 101 }, () => ({ refresh_token: 'abc' }))],
    ['a token that is not text', [{ refresh_token: 42 }]],
    ['a token with spaces', [{ refresh_token: 'a b' }]],
  ])('refuses %s with 400 and calls nobody', async (_name, tokens) => {
    const response = await importTokens(tokens);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request' });
    expect((await twitch.counts()).token.refresh_token).toBe(0);
  });

  it('refuses a body over 128 KiB with 413', async () => {
    const response = await importTokens(
      Array.from({ length: 100 }, () => ({ refresh_token: 'r'.repeat(512), access_token: 'a'.repeat(512) })).concat([
        { refresh_token: 'x'.repeat(30_000), access_token: 'y' },
      ]),
    );
    expect(response.status).toBe(413);
  });
});
