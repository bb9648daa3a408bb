import { describe, expect, it } from 'vitest';
import { API_KEY, APP_ONLY_API_KEY, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, json, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

interface LiveMessage {
  type: 'token' | 'revoked';
  access_token?: string;
  user_id?: string;
  reason?: string;
}

/** Opens the live connection as a bot would and collects what arrives. */
async function connect(userId: string, headers: Record<string, string> = { Authorization: `Bearer ${USERS_ONLY_API_KEY}` }) {
  const response = await broker(`/token/users/${userId}/live`, { headers: { Upgrade: 'websocket', ...headers } });
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  const messages: LiveMessage[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  socket.addEventListener('message', (event) => {
    messages.push(JSON.parse(String(event.data)) as LiveMessage);
    waiters.splice(0).forEach((wake) => wake());
  });
  socket.addEventListener('close', () => {
    closed = true;
    waiters.splice(0).forEach((wake) => wake());
  });
  socket.accept();
  const next = async (count: number, timeoutMs = 8_000): Promise<LiveMessage[]> => {
    const deadline = Date.now() + timeoutMs;
    while (messages.length < count && Date.now() < deadline) {
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    return messages;
  };
  return { socket, response, messages, next, isClosed: () => closed };
}

const userToken = async (userId: string, query = '') =>
  json<{ access_token: string }>(await broker(`/token/users/${userId}${query}`, { headers: { Authorization: `Bearer ${API_KEY}` } }));

describe('live token updates (GET /token/users/:userId/live)', () => {
  it('sends the current token at once and every new one after a rotation', async () => {
    await login({ userId: '100001' });
    const first = await userToken('100001');
    const live = await connect('100001');
    expect((await live.next(1))[0]).toMatchObject({ type: 'token', user_id: '100001', access_token: first.access_token });

    await twitch.expire({ access_token: first.access_token });
    const rotated = await userToken('100001', '?force_refresh=true');
    const [, update] = await live.next(2);
    expect(update).toMatchObject({ type: 'token', access_token: rotated.access_token });
    live.socket.close(1000);
  });

  it('refreshes on its own before expiry while a bot listens, and pushes the new token', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 302 });
    await login({ userId: '100001' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14_400 });
    const live = await connect('100001');
    const [initial, refreshed] = await live.next(2, 10_000);
    expect(refreshed).toMatchObject({ type: 'token' });
    expect(refreshed!.access_token).not.toBe(initial!.access_token);
    expect((await twitch.counts()).token.refresh_token).toBe(1);
    live.socket.close(1000);
  });

  it('says revoked and closes when the grant ends', async () => {
    await login({ userId: '100001' });
    const live = await connect('100001');
    await live.next(1);
    await broker('/token/users/100001', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } });
    const messages = await live.next(2);
    expect(messages[1]).toMatchObject({ type: 'revoked', reason: 'deleted' });
  });

  it('takes the API key as a subprotocol, for WebSocket clients that cannot set headers', async () => {
    await login({ userId: '100001' });
    const live = await connect('100001', { 'Sec-WebSocket-Protocol': `twitch-token-broker, bearer.${USERS_ONLY_API_KEY}` });
    expect(live.response.headers.get('Sec-WebSocket-Protocol')).toBe('twitch-token-broker');
    expect((await live.next(1))[0]).toMatchObject({ type: 'token' });
    live.socket.close(1000);
  });

  it('refuses without a users key (401/403), for unknown users (404), and without an upgrade (426)', async () => {
    await login({ userId: '100001' });
    const open = (userId: string, headers: Record<string, string>) => broker(`/token/users/${userId}/live`, { headers: { Upgrade: 'websocket', ...headers } });
    expect((await open('100001', {})).status).toBe(401);
    expect((await open('100001', { Authorization: `Bearer ${APP_ONLY_API_KEY}` })).status).toBe(403);
    expect((await open('999999', { Authorization: `Bearer ${USERS_ONLY_API_KEY}` })).status).toBe(404);
    expect((await broker('/token/users/100001/live', { headers: { Authorization: `Bearer ${USERS_ONLY_API_KEY}` } })).status).toBe(426);
  });
});
