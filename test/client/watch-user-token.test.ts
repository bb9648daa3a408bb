import { describe, expect, it, vi } from 'vitest';
import { createBrokerClient, type LiveSocket, type UserTokenBody } from '../../client/index';
import { API_KEY, BROKER, USERS_ONLY_API_KEY } from '../test-bindings';
import { broker, json, login } from '../support/broker';
import { freshStateForEachTest } from '../support/reset';
import { twitch } from '../support/twitch';

freshStateForEachTest();

/** Opens the SDK's sockets against the broker's entry point in this test Worker (no network here). */
async function openSocket(url: string, protocols: string[]): Promise<LiveSocket> {
  const { pathname } = new URL(url);
  const response = await broker(pathname, { headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': protocols.join(', ') } });
  if (!response.webSocket) throw new Error(`no upgrade: ${response.status}`);
  response.webSocket.accept();
  return response.webSocket;
}

describe('watchUserToken (client SDK)', () => {
  it('hands a bot the current token, every rotation, and the revocation', async () => {
    await login({ userId: '100001' });
    const client = createBrokerClient({ baseUrl: BROKER, apiKey: USERS_ONLY_API_KEY });
    const tokens: UserTokenBody[] = [];
    const revoked: string[] = [];
    const watch = client.watchUserToken('100001', (token) => tokens.push(token), { openSocket, onRevoked: (reason) => revoked.push(reason) });

    await vi.waitFor(() => expect(tokens).toHaveLength(1), { timeout: 5_000 });
    expect(tokens[0]).toMatchObject({ user_id: '100001', token_type: 'bearer' });
    expect(tokens[0]).not.toHaveProperty('type');

    await twitch.expire({ access_token: tokens[0]!.access_token });
    const rotated = await json<{ access_token: string }>(
      await broker('/token/users/100001?force_refresh=true', { headers: { Authorization: `Bearer ${API_KEY}` } }),
    );
    await vi.waitFor(() => expect(tokens.at(-1)?.access_token).toBe(rotated.access_token), { timeout: 5_000 });

    await broker('/token/users/100001', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } });
    await vi.waitFor(() => expect(revoked).toEqual(['deleted']), { timeout: 5_000 });
    watch.close();
  });

  it('reconnects after the connection drops and gets the current token again', async () => {
    await login({ userId: '100001' });
    const sockets: LiveSocket[] = [];
    const client = createBrokerClient({ baseUrl: BROKER, apiKey: USERS_ONLY_API_KEY });
    const tokens: UserTokenBody[] = [];
    const watch = client.watchUserToken('100001', (token) => tokens.push(token), {
      openSocket: async (url, protocols) => {
        const socket = await openSocket(url, protocols);
        sockets.push(socket);
        return socket;
      },
    });
    await vi.waitFor(() => expect(tokens).toHaveLength(1), { timeout: 5_000 });
    sockets[0]!.close(1001, 'going away');
    await vi.waitFor(() => expect(tokens).toHaveLength(2), { timeout: 8_000 });
    expect(sockets.length).toBe(2);
    expect(tokens[1]!.access_token).toBe(tokens[0]!.access_token);
    watch.close();
  });

  it('stops, and says so, when a newer connection for the same user displaces it (4008), instead of pushing back', async () => {
    await login({ userId: '100001' });
    const client = createBrokerClient({ baseUrl: BROKER, apiKey: USERS_ONLY_API_KEY });
    let opened = 0;
    let displaced = 0;
    const tokens: UserTokenBody[] = [];
    const watch = client.watchUserToken('100001', (token) => tokens.push(token), {
      openSocket: async (url, protocols) => {
        opened += 1;
        return openSocket(url, protocols);
      },
      onDisplaced: () => (displaced += 1),
    });
    await vi.waitFor(() => expect(tokens).toHaveLength(1), { timeout: 5_000 });
    // 32 more connections (the default LIVE_TOKEN_MAX_SOCKETS): the watcher's is the oldest.
    const others = await Promise.all(
      Array.from({ length: 32 }, () => openSocket('ws://broker.test/token/users/100001/live', ['twitch-token-broker', `bearer.${USERS_ONLY_API_KEY}`])),
    );
    await vi.waitFor(() => expect(displaced).toBe(1), { timeout: 5_000 });
    // Well past the first reconnect delay (0.5-1 s): no reconnect came.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(opened).toBe(1);
    for (const socket of others) socket.close(1000, 'done');
    watch.close();
  });

  it('refuses to run without an API key (browsers must not hold one)', () => {
    expect(() => createBrokerClient({ baseUrl: BROKER }).watchUserToken('100001', () => undefined)).toThrow(TypeError);
  });
});
