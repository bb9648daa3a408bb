import { ApiClient } from '@twurple/api';
import type { AuthProvider } from '@twurple/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientScopeError } from '../../client/index';
import { createBrokerAuthProvider } from '../../client/twurple';
import { logInAs, standinControl } from '../e2e/log-in';
import { Browser, startLocalSystem, type LocalSystem } from '../e2e/local-system';

/**
 * `twitch-token-broker-client/twurple` driving the real `@twurple/api` ApiClient against the stand-in's
 * Helix (twurple's mock mode: `TWURPLE_MOCK_API_PORT` sends Helix calls to localhost:PORT/mock/…),
 * with every token from the real broker under `wrangler dev`.
 */

let system: LocalSystem;
/** Each request the provider made to the broker (path and query). */
const brokerRequests: string[] = [];
let provider: AuthProvider;
let api: ApiClient;

interface StandinCounts {
  counts: { token: { refresh_token: number; client_credentials: number }; validate: number };
}
const standinCounts = async () => ((await (await fetch(`${system.twitch.url}/_standin/calls`)).json()) as StandinCounts).counts;

beforeAll(async () => {
  system = await startLocalSystem('twurple');
  process.env.TWURPLE_MOCK_API_PORT = new URL(system.twitch.url).port;
  await logInAs(new Browser(), system, '100001', ['user:read:email', 'chat:read', 'chat:edit']);
  await logInAs(new Browser(), system, '100002', ['user:read:email']);
  provider = await createBrokerAuthProvider({
    baseUrl: system.broker.url,
    apiKey: system.apiKey,
    intents: { chat: '100001' },
    fetch: async (input, init) => {
      const url = new URL(String(input));
      brokerRequests.push(`${url.pathname}${url.search}`);
      return fetch(input, init);
    },
  });
  api = new ApiClient({ authProvider: provider });
});

afterAll(async () => {
  delete process.env.TWURPLE_MOCK_API_PORT;
  await system?.stop();
});

describe('the twurple AuthProvider backed by the broker', () => {
  it("learns the client id from the broker's /health", () => {
    expect(provider.clientId).toBe('standin-client-id');
    expect(brokerRequests).toEqual(['/health']);
  });

  it('ApiClient looks up a user with the app token when the broker holds no token for that user', async () => {
    const carol = await api.users.getUserById('100003');
    expect(carol?.name).toBe('viewer_carol');
    expect(brokerRequests).toContain('/token/users/100003');
    expect(brokerRequests).toContain('/token/app');
    // The broker's "no token for this user" is remembered for a minute: the next lookup goes straight to Helix.
    const requestsBefore = brokerRequests.length;
    expect((await api.users.getUserById('100003'))?.name).toBe('viewer_carol');
    expect(brokerRequests.length).toBe(requestsBefore);
  });

  it("ApiClient calls Helix as the user with the user's token, and the provider reports its scopes", async () => {
    const alice = await api.users.getAuthenticatedUser('100001', true);
    expect(alice).toMatchObject({ id: '100001', name: 'streamer_alice', email: 'alice@example.test' });
    expect(provider.getCurrentScopesForUser('100001')).toEqual(expect.arrayContaining(['user:read:email', 'chat:read', 'chat:edit']));
  });

  it('a Helix 401 on a user token (killed early at Twitch) makes twurple force a refresh, and the retry succeeds', async () => {
    const before = await provider.getAccessTokenForUser('100002');
    await api.users.getAuthenticatedUser('100002');
    const counted = await standinCounts();
    await standinControl(system, '/expire', { access_token: before!.accessToken });

    const bob = await api.users.getAuthenticatedUser('100002');
    expect(bob.name).toBe('mod_bob');
    const after = await standinCounts();
    expect(after.token.refresh_token - counted.token.refresh_token).toBe(1);
    expect(brokerRequests).toContain('/token/users/100002?force_refresh=true');
    const current = await provider.getAccessTokenForUser('100002');
    expect(current!.accessToken).not.toBe(before!.accessToken);
    expect(current!.refreshToken).toBeNull();
  });

  it('a Helix 401 on the app token makes twurple ask for a new one (getAppAccessToken(true)), and the retry succeeds', async () => {
    await api.users.getUserById('100003');
    const counted = await standinCounts();
    await standinControl(system, '/expire', { app: true });
    const carol = await api.users.getUserById('100003');
    expect(carol?.name).toBe('viewer_carol');
    expect((await standinCounts()).token.client_credentials - counted.token.client_credentials).toBe(1);
    expect(brokerRequests).toContain('/token/app?force_refresh=true');
  });

  it("scope sets: any one scope of a set will do; a set the grant meets with none rejects with the broker's authorize_url", async () => {
    const token = await provider.getAccessTokenForUser('100001', ['chat:edit', 'channel:moderate'], ['user:read:email']);
    expect(token).toMatchObject({ userId: '100001' });
    expect(token!.scope).toEqual(expect.arrayContaining(['chat:edit', 'user:read:email']));

    const update = api.channels.updateChannelInfo('100001', { title: 'never sent' });
    await expect(update).rejects.toBeInstanceOf(InsufficientScopeError);
    const error = (await update.catch((caught: unknown) => caught)) as InsufficientScopeError;
    expect(error.missingScopes).toEqual(['channel:manage:broadcast']);
    expect(error.authorizeUrl.startsWith(`${system.broker.url}/authorize?scope=`)).toBe(true);
    expect(error.scopes).toEqual(expect.arrayContaining(['channel:manage:broadcast', 'chat:edit', 'chat:read', 'user:read:email']));
  });

  it('a user who never logged in at the broker has no user token (null), and getAnyAccessToken falls back to the app token', async () => {
    expect(await provider.getAccessTokenForUser('100003')).toBeNull();
    const any = await provider.getAnyAccessToken('100003');
    expect(any.userId).toBeUndefined();
    expect(any.accessToken).toBe((await provider.getAppAccessToken!()).accessToken);
  });

  it("intents name a user: the chat intent gets and refreshes that user's token; an unknown intent gets null", async () => {
    const chat = await provider.getAccessTokenForIntent!('chat', ['chat:read']);
    expect(chat).toMatchObject({ userId: '100001', scope: expect.arrayContaining(['chat:read']) });
    expect(chat!.expiresIn! * 1000 + chat!.obtainmentTimestamp).toBeGreaterThan(Date.now() + 60_000);
    const refreshed = await provider.refreshAccessTokenForIntent!('chat');
    expect(refreshed.userId).toBe('100001');
    expect(brokerRequests).toContain('/token/users/100001?force_refresh=true');
    expect(await provider.getAccessTokenForIntent!('whispers')).toBeNull();
  });
});
