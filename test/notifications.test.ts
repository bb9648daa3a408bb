import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { API_KEY, APP_ORIGIN, TEST_BINDINGS } from './test-bindings';
import { broker, json, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch, type ReceivedDelivery } from './support/twitch';

freshStateForEachTest();

interface DeliveredEvent {
  id: string;
  type: string;
  occurred_at: string;
  user_id?: string;
  reason?: string;
  scopes?: string[];
  previous_scopes?: string[];
  expires_at?: string;
}

const vault = (userId: string) => env.USER_VAULT.get(env.USER_VAULT.idFromName(userId));

/** The events the app's receiver accepted, in the order they arrived. */
async function accepted(): Promise<DeliveredEvent[]> {
  return (await twitch.appWebhook.received()).filter((delivery) => delivery.status === 200).map((delivery) => JSON.parse(delivery.body) as DeliveredEvent);
}

/** Waits for the vault's alarm to have delivered `count` events (bringing retries forward). */
async function eventsOf(userId: string, count: number): Promise<DeliveredEvent[]> {
  return vi.waitFor(
    async () => {
      const events = (await accepted()).filter((event) => event.user_id === userId);
      if (events.length < count) {
        await runDurableObjectAlarm(vault(userId));
        throw new Error(`${events.length} of ${count} events so far`);
      }
      return events;
    },
    { timeout: 10_000, interval: 100 },
  );
}

/** Checks `Broker-Signature: t=…,v1=…` the way a receiver (or the SDK's verifyBrokerSignature) does. */
async function signatureValid(delivery: ReceivedDelivery): Promise<boolean> {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(delivery.headers['broker-signature'] ?? '');
  if (!match) return false;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(TEST_BINDINGS.NOTIFY_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${match[1]}.${delivery.body}`)));
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, '0')).join('') === match[2] && Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
}

describe('events for the app (NOTIFY_URL)', () => {
  it('tells the app a login completed, signed with NOTIFY_SECRET, and never carries a token', async () => {
    await login({ userId: '100001', scope: 'chat:read' });
    const [event] = await eventsOf('100001', 1);
    expect(event).toMatchObject({ type: 'user.authorized', user_id: '100001', login: 'streamer_alice', scopes: expect.arrayContaining(['chat:read']) });
    expect(event!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(event!.occurred_at)).toBeGreaterThan(Date.now() - 60_000);

    const deliveries = await twitch.appWebhook.received();
    for (const delivery of deliveries) {
      expect(await signatureValid(delivery)).toBe(true);
      for (const secret of [...(await twitch.secrets()), TEST_BINDINGS.NOTIFY_SECRET]) expect(delivery.body).not.toContain(secret);
    }
  });

  it('tells the app why a user was revoked, in order with what came before: logout, DELETE, refused refresh', async () => {
    const { jar } = await login({ userId: '100001' });
    await jar.fetch('/logout', { method: 'POST', headers: { Origin: APP_ORIGIN } });
    expect((await eventsOf('100001', 2)).map((event) => [event.type, event.reason])).toEqual([
      ['user.authorized', undefined],
      ['user.revoked', 'logged_out'],
    ]);

    await login({ userId: '100002' });
    await broker('/token/users/100002', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } });
    expect((await eventsOf('100002', 2)).at(-1)).toMatchObject({ type: 'user.revoked', reason: 'deleted' });

    await twitch.configure({ userAccessTokenTtlSeconds: 60 });
    await login({ userId: '100003' });
    await twitch.disconnect('100003');
    expect((await broker('/token/users/100003', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(401);
    expect((await eventsOf('100003', 2)).at(-1)).toMatchObject({ type: 'user.revoked', reason: 'refresh_refused' });
  });

  it('tells the app when a re-login changed the scopes', async () => {
    await login({ userId: '100001', scope: 'chat:read' });
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const changed = (await eventsOf('100001', 3)).find((event) => event.type === 'user.scopes_changed');
    expect(changed).toMatchObject({ user_id: '100001', scopes: expect.arrayContaining(['chat:edit']) });
    expect(changed!.previous_scopes).not.toContain('chat:edit');
  });

  it('retries while the receiver fails, keeps the order, and never holds up the request that caused the event', async () => {
    await twitch.appWebhook.fail(3, 503);
    const { jar, response } = await login({ userId: '100001' });
    expect(response.status).toBe(302);
    await jar.fetch('/logout', { method: 'POST', headers: { Origin: APP_ORIGIN } });

    const events = await eventsOf('100001', 2);
    expect(events.map((event) => event.type)).toEqual(['user.authorized', 'user.revoked']);
    const statuses = (await twitch.appWebhook.received()).map((delivery) => delivery.status);
    expect(statuses.slice(0, 3)).toEqual([503, 503, 503]);
    // Each event reached the app once it answered 200, not once per attempt.
    expect(statuses.filter((status) => status === 200)).toHaveLength(2);
  });

  it('tells the app when the app token changed (app_token.rotated), without the token', async () => {
    const minted = await json<{ access_token: string; expires_at: number }>(await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    const minter = env.APP_TOKEN_MINTER.get(env.APP_TOKEN_MINTER.idFromName('app-token'));
    const rotated = await vi.waitFor(
      async () => {
        const event = (await accepted()).find((candidate) => candidate.type === 'app_token.rotated');
        if (!event) {
          await runDurableObjectAlarm(minter);
          throw new Error('not delivered yet');
        }
        return event;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(Math.abs(Date.parse(rotated.expires_at!) / 1000 - minted.expires_at)).toBeLessThanOrEqual(1);
    expect(JSON.stringify(rotated)).not.toContain(minted.access_token);
  });
});
