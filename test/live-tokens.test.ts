import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../src/env';
import { userVault } from '../src/vault/stubs';
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
async function connect(userId: string, headers: Record<string, string> = { Authorization: `Bearer ${USERS_ONLY_API_KEY}` }, bindings: Env = env) {
  const response = await broker(`/token/users/${userId}/live`, { headers: { Upgrade: 'websocket', ...headers } }, bindings);
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  const messages: LiveMessage[] = [];
  const waiters: (() => void)[] = [];
  let closed: { code: number; reason: string } | null = null;
  socket.addEventListener('message', (event) => {
    messages.push(JSON.parse(String(event.data)) as LiveMessage);
    for (const wake of waiters.splice(0)) wake();
  });
  socket.addEventListener('close', (event) => {
    closed = { code: event.code, reason: event.reason };
    for (const wake of waiters.splice(0)) wake();
  });
  socket.accept();
  const next = async (count: number, timeoutMs = 8_000): Promise<LiveMessage[]> => {
    const deadline = Date.now() + timeoutMs;
    while (messages.length < count && Date.now() < deadline) {
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    return messages;
  };
  /** Waits for the broker to close this socket; null if it stays open. */
  const closing = async (timeoutMs = 8_000): Promise<{ code: number; reason: string } | null> => {
    const deadline = Date.now() + timeoutMs;
    while (!closed && Date.now() < deadline) {
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    return closed;
  };
  return { socket, response, messages, next, closing, isClosed: () => closed !== null };
}

/** "Redeploys" with `overrides`: the Worker and this user's (already created) vault see them. */
async function deploy(userId: string, overrides: Partial<Env>): Promise<Env> {
  const bindings = { ...env, ...overrides } as Env;
  await runInDurableObject(userVault(env, userId), (instance) => {
    (instance as unknown as { env: Env }).env = bindings;
  });
  return bindings;
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

  // The route checks the grant, then hands the upgrade to the vault: a logout landing in between
  // must still get the route's JSON error, not a bare text body.
  it('answers with the route’s JSON error when the grant ends between the route’s checks and the vault', async () => {
    await login({ userId: '100001' });
    await broker('/token/users/100001', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } });
    const upgrade = new Request('https://broker.example/token/users/100001/live', { headers: { Upgrade: 'websocket' } });
    const gone = await userVault(env, '100001').fetch(upgrade);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ error: 'not_found', error_description: 'no grant is stored for this user' });
    const notUpgraded = await userVault(env, '100001').fetch(new Request('https://broker.example/token/users/100001/live'));
    expect(notUpgraded.status).toBe(426);
    expect(await notUpgraded.json()).toMatchObject({ error: 'upgrade_required' });
  });

  it('closes the oldest connection (4008) when a user would hold more than LIVE_TOKEN_MAX_SOCKETS, and keeps serving the newest', async () => {
    await login({ userId: '100001' });
    const bindings = await deploy('100001', { LIVE_TOKEN_MAX_SOCKETS: '3' });
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      sockets.push(await connect('100001', undefined, bindings));
      await sockets[i]!.next(1);
    }
    expect(sockets.some((live) => live.isClosed())).toBe(false);

    const newest = await connect('100001', undefined, bindings);
    expect((await newest.next(1))[0]).toMatchObject({ type: 'token' });
    const evicted = await sockets[0]!.closing();
    expect(evicted).toEqual({ code: 4008, reason: 'too many live connections for this user; the oldest was closed' });
    expect(sockets[1]!.isClosed() || sockets[2]!.isClosed()).toBe(false);

    const first = await userToken('100001');
    await twitch.expire({ access_token: first.access_token });
    const rotated = await userToken('100001', '?force_refresh=true');
    expect((await newest.next(2))[1]).toMatchObject({ type: 'token', access_token: rotated.access_token });
    expect(sockets[0]!.messages).toHaveLength(1);
    for (const live of [...sockets.slice(1), newest]) live.socket.close(1000);
  });

  it('holds 32 connections per user by default: the 33rd closes the oldest', async () => {
    await login({ userId: '100001' });
    const sockets = [];
    for (let i = 0; i < 32; i++) sockets.push(await connect('100001'));
    await sockets[31]!.next(1);
    expect(sockets.some((live) => live.isClosed())).toBe(false);

    const newest = await connect('100001');
    expect((await newest.next(1))[0]).toMatchObject({ type: 'token' });
    expect((await sockets[0]!.closing())?.code).toBe(4008);
    expect(sockets.slice(1).some((live) => live.isClosed())).toBe(false);
    for (const live of [...sockets.slice(1), newest]) live.socket.close(1000);
  });
});
