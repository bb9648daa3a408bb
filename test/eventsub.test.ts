import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import worker from '../src/index';
import { getConfig } from '../src/config';
import { ensureRevokeSubscription } from '../src/eventsub/subscriptions';
import type { Env } from '../src/env';
import { API_KEY, BROKER } from './test-bindings';
import { broker, json, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch, type EventSubDelivery } from './support/twitch';
import { signIn } from './support/console';

freshStateForEachTest();

const SECRET = 'test-eventsub-secret-0123456789';
/** EventSub on: a secret and a public URL (Twitch calls {PUBLIC_URL}/eventsub). */
const withEventSub = { ...env, EVENTSUB_SECRET: SECRET, PUBLIC_URL: BROKER } as Env;

const call = (bindings: Env, path: string, init?: RequestInit): Promise<Response> => broker(path, init, bindings);

async function runCron(bindings: Env): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '0 * * * *' }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

/** Carries what Twitch sent to the broker's callback, and Twitch the broker's answers. */
async function deliver(bindings = withEventSub): Promise<Response[]> {
  const answers: Response[] = [];
  for (const message of await twitch.eventsub.outbox()) answers.push(await post(message, bindings));
  return answers;
}

async function post(message: EventSubDelivery, bindings = withEventSub): Promise<Response> {
  const response = await call(bindings, new URL(message.url).pathname, { method: 'POST', headers: message.headers, body: message.body });
  const body = await response.clone().text();
  await twitch.eventsub.answer(message.id, { status: response.status, body, contentType: response.headers.get('Content-Type') ?? '' });
  return response;
}

/** Subscribes (the hourly run) and passes Twitch's callback verification. */
async function subscribe(): Promise<void> {
  await runCron(withEventSub);
  const [verification] = await deliver();
  expect(verification?.status).toBe(200);
  expect((await twitch.eventsub.subscriptions()).map((subscription) => subscription.status)).toEqual(['enabled']);
}

async function hmacHex(text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return Array.from(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text))), (byte) => byte.toString(16).padStart(2, '0')).join(
    '',
  );
}

const userToken = (userId: string) => broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

beforeEach(async () => {
  await twitch.eventsub.delivery('outbox');
});

describe('EventSub: user.authorization.revoke', () => {
  it('subscribes once with the app token, answers the challenge as text/plain, and never duplicates the subscription', async () => {
    await subscribe();
    const [subscription] = await twitch.eventsub.subscriptions();
    expect(subscription).toMatchObject({ type: 'user.authorization.revoke', transport: { method: 'webhook', callback: `${BROKER}/eventsub` } });
    await runCron(withEventSub);
    await runCron(withEventSub);
    expect(await twitch.eventsub.subscriptions()).toHaveLength(1);
  });

  it('revokes a user within the delivery: no token served, every session ended, no refresh tried', async () => {
    await subscribe();
    const { jar } = await login({ userId: '100001' });
    expect((await userToken('100001')).status).toBe(200);

    expect((await twitch.eventsub.disconnect('100001')).notified).toBe(1);
    const [answer] = await deliver();
    expect(answer?.status).toBe(204);

    const refused = await userToken('100001');
    expect(refused.status).toBe(401);
    expect(await json(refused)).toMatchObject({ error: 'reauthorization_required' });
    expect((await jar.fetch('/token')).status).toBe(401);
    expect((await twitch.counts()).token.refresh_token).toBe(0);
    const events = await json<{ events: { event: string; detail?: string }[] }>(
      await broker('/admin/users/100001/events', { headers: { Authorization: `Bearer ${API_KEY}` } }),
    );
    expect(events.events.at(-1)).toMatchObject({ event: 'revoked', detail: expect.stringContaining('EventSub') });
  });

  it('handles a redelivered message once', async () => {
    await subscribe();
    await login({ userId: '100001' });
    await twitch.eventsub.disconnect('100001');
    const [notification] = await twitch.eventsub.outbox();
    expect((await post(notification!)).status).toBe(204);
    // The user comes back; Twitch then delivers the old message again (at-least-once delivery).
    await login({ userId: '100001' });
    const again = await call(withEventSub, '/eventsub', { method: 'POST', headers: notification!.headers, body: notification!.body });
    expect(again.status).toBe(204);
    expect((await userToken('100001')).status).toBe(200);
  });

  it.each([
    ['a tampered body', (message: EventSubDelivery) => ({ ...message, body: message.body.replace('100001', '100002') })],
    [
      'a forged signature',
      (message: EventSubDelivery) => ({ ...message, headers: { ...message.headers, 'Twitch-Eventsub-Message-Signature': `sha256=${'0'.repeat(64)}` } }),
    ],
    ['no signature', (message: EventSubDelivery) => ({ ...message, headers: { ...message.headers, 'Twitch-Eventsub-Message-Signature': '' } })],
  ])('refuses %s with 403 and changes nothing', async (_name, spoil) => {
    await subscribe();
    await login({ userId: '100001' });
    await login({ userId: '100002' });
    await twitch.eventsub.disconnect('100001');
    const [notification] = await twitch.eventsub.outbox();
    const spoiled = spoil(notification!);
    const response = await call(withEventSub, '/eventsub', { method: 'POST', headers: spoiled.headers, body: spoiled.body });
    expect(response.status).toBe(403);
    expect(await json(response)).toHaveProperty('error');
    expect((await userToken('100002')).status).toBe(200);
  });

  it('refuses a correctly signed message more than 10 minutes old', async () => {
    await login({ userId: '100001' });
    const response = await signedRevoke(new Date(Date.now() - 11 * 60_000).toISOString());
    expect(response.status).toBe(403);
    expect((await userToken('100001')).status).toBe(200);
  });

  it('keeps a grant the user made again after Twitch sent the revoke (a late delivery), once Twitch confirms it alive', async () => {
    await subscribe();
    await login({ userId: '100001' });
    await twitch.eventsub.disconnect('100001');
    // The user authorizes again before Twitch's message arrives: it is about the grant they left.
    await login({ userId: '100001' });
    const validatesBefore = (await twitch.counts()).validate;
    const [answer] = await deliver();
    expect(answer?.status).toBe(204);

    expect((await userToken('100001')).status).toBe(200);
    expect((await twitch.counts()).validate).toBe(validatesBefore + 1);
    const events = await json<{ events: { event: string; detail?: string }[] }>(
      await broker('/admin/users/100001/events', { headers: { Authorization: `Bearer ${API_KEY}` } }),
    );
    expect(events.events.map((entry) => entry.event)).toEqual(['logged_in', 'logged_in', 'validated']);
    expect(events.events.at(-1)!.detail).toMatch(
      /^a revoke \(EventSub user\.authorization\.revoke\) sent .*, before this grant was made: kept, Twitch confirms it alive$/,
    );
  });

  it('ends a grant made after the revoke was sent when Twitch calls it dead too', async () => {
    await subscribe();
    await login({ userId: '100001' });
    await twitch.eventsub.disconnect('100001');
    await login({ userId: '100001' });
    // The new grant dies as well, without a message of its own.
    await twitch.disconnect('100001');
    const [answer] = await deliver();
    expect(answer?.status).toBe(204);
    const refused = await userToken('100001');
    expect(refused.status).toBe(401);
    expect(await json(refused)).toMatchObject({ error: 'reauthorization_required' });
  });

  /** A revoke for user 100001 under `timestamp`, signed with the webhook secret over that exact text. */
  async function signedRevoke(timestamp: string): Promise<Response> {
    const id = crypto.randomUUID();
    const body = JSON.stringify({ subscription: { type: 'user.authorization.revoke' }, event: { client_id: 'standin-client-id', user_id: '100001' } });
    return call(withEventSub, '/eventsub', {
      method: 'POST',
      headers: {
        'Twitch-Eventsub-Message-Id': id,
        'Twitch-Eventsub-Message-Timestamp': timestamp,
        'Twitch-Eventsub-Message-Type': 'notification',
        'Twitch-Eventsub-Message-Signature': `sha256=${await hmacHex(id + timestamp + body)}`,
      },
      body,
    });
  }

  it.each([
    ['a bare number', () => '1'],
    ['milliseconds since 1970', () => String(Date.now())],
    ['a date without a time', () => new Date().toISOString().slice(0, 10)],
    ['an HTTP date', () => 'Tue, 01 Dec 2026 00:00:00 GMT'],
    ['an HTTP date of now', () => new Date().toUTCString()],
    ['month 13', () => '2026-13-01T00:00:00Z'],
    ['February 30', () => '2026-02-30T00:00:00Z'],
    ['hour 24', () => `${new Date().toISOString().slice(0, 10)}T24:00:00Z`],
    ['no time zone (read as local time)', () => new Date().toISOString().slice(0, 19)],
    ['a space for the T', () => new Date().toISOString().replace('T', ' ')],
    ['a six-digit year', () => `+00${new Date().toISOString()}`],
    ['an offset without a colon', () => new Date().toISOString().replace('Z', '+0000')],
    ["JavaScript's Date text", () => new Date().toString().slice(0, 33)],
  ])('refuses a signed message whose timestamp is %s, and keeps the grant', async (_name, timestamp) => {
    await login({ userId: '100001' });
    const response = await signedRevoke(timestamp());
    expect(response.status).toBe(403);
    expect(await json(response)).toMatchObject({ error: 'forbidden', error_description: expect.any(String) });
    expect((await userToken('100001')).status).toBe(200);
  });

  it.each([
    ['nanoseconds, as Twitch sends', () => new Date().toISOString().replace(/Z$/, '123456Z')],
    ['an offset', () => new Date(Date.now() + 5.5 * 3600_000).toISOString().replace(/Z$/, '+05:30')],
    // Without a fraction the time is a whole second: a second ahead, so it is not before the login just made.
    ['a negative offset and no fraction', () => new Date(Date.now() + 1000 - 3600_000).toISOString().replace(/\.\d{3}Z$/, '-01:00')],
  ])('accepts an RFC 3339 timestamp with %s', async (_name, timestamp) => {
    await login({ userId: '100001' });
    expect((await signedRevoke(timestamp())).status).toBe(204);
    expect((await userToken('100001')).status).toBe(401);
  });

  it('subscribes again on the next run after Twitch revoked the subscription', async () => {
    await subscribe();
    const [first] = await twitch.eventsub.subscriptions();
    await twitch.eventsub.revokeSubscription(first!.id);
    const [revocation] = await deliver();
    expect(revocation?.status).toBe(204);
    expect(await twitch.eventsub.subscriptions()).toEqual([]);
    await subscribe();
    expect((await twitch.eventsub.subscriptions())[0]!.id).not.toBe(first!.id);
  });

  it('keeps the last check when a revocation sent before it arrives late', async () => {
    await subscribe();
    const [first] = await twitch.eventsub.subscriptions();
    await twitch.eventsub.revokeSubscription(first!.id);
    // The hourly check replaces the subscription before the revocation is delivered.
    await runCron(withEventSub);
    await deliver();
    const status = await json<{ eventsub: { last_check: { outcome: string } } }>(
      await call(withEventSub, '/admin/status', { headers: { Authorization: `Bearer ${API_KEY}` } }),
    );
    expect(status.eventsub.last_check.outcome).toBe('created');
  });

  it('checks again with a new app token when Helix calls the one held dead, instead of failing the hour', async () => {
    await subscribe();
    const minted = (await twitch.counts()).token.client_credentials;
    await twitch.expire({ app: true });
    expect(await ensureRevokeSubscription(withEventSub, getConfig(withEventSub))).toEqual({ outcome: 'exists' });
    expect((await twitch.counts()).token.client_credentials).toBe(minted + 1);
  });

  it("tells the operator how the subscription's last check went: created, live, revoked by Twitch, failed (and why)", async () => {
    const lastCheck = async () =>
      (
        await json<{ eventsub: { last_check: { outcome: string; at: string; detail?: string } | null } }>(
          await call(withEventSub, '/admin/status', { headers: { Authorization: `Bearer ${API_KEY}` } }),
        )
      ).eventsub.last_check;
    expect(await lastCheck()).toBeNull();
    await subscribe();
    expect(await lastCheck()).toMatchObject({ outcome: 'created' });
    await runCron(withEventSub);
    const live = await lastCheck();
    expect(live).toEqual({ outcome: 'exists', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(Math.abs(Date.parse(live!.at) - Date.now())).toBeLessThan(60_000);

    const [subscription] = await twitch.eventsub.subscriptions();
    await twitch.eventsub.revokeSubscription(subscription!.id, 'notification_failures_exceeded');
    await deliver();
    expect(await lastCheck()).toMatchObject({ outcome: 'revoked', detail: 'notification_failures_exceeded' });

    // No app token to ask Helix with: the check fails and says so, in the console too.
    await twitch.expire({ app: true });
    await twitch.inject({
      path: '/oauth2/token',
      grantType: 'client_credentials',
      status: 403,
      times: -1,
      body: JSON.stringify({ status: 403, message: 'invalid client secret' }),
    });
    await runCron(withEventSub);
    expect(await lastCheck()).toMatchObject({ outcome: 'failed', detail: expect.stringMatching(/^no app token \(minting failed; retry in \d+ s\)$/) });
    const page = await (await (await signIn()).fetch('/admin', {}, withEventSub)).text();
    expect(page).toMatch(/<dd class="bad">check failed \(no app token \(minting failed; retry in \d+ s\)\), (now|\d+ min ago)<\/dd>/);
    for (const secret of await twitch.secrets()) expect(page).not.toContain(secret);
  });

  it('is off, and says why in /health, without EVENTSUB_SECRET or PUBLIC_URL', async () => {
    expect(await json(await call(env, '/health'))).toMatchObject({ eventsub: { enabled: false, reason: expect.stringContaining('EVENTSUB_SECRET') } });
    const noUrl = { ...env, EVENTSUB_SECRET: SECRET } as Env;
    expect(await json(await call(noUrl, '/health'))).toMatchObject({ eventsub: { enabled: false, reason: expect.stringContaining('PUBLIC_URL') } });
    expect(await json(await call(withEventSub, '/health'))).toMatchObject({ eventsub: { enabled: true, callback: `${BROKER}/eventsub` } });
    expect((await call(env, '/eventsub', { method: 'POST', body: '{}' })).status).toBe(404);
    await runCron(env);
    expect(await twitch.eventsub.subscriptions()).toEqual([]);
  });
});

describe('DELETE /token/users/:userId', () => {
  it('revokes the tokens at Twitch, forgets the grant, ends every session and keeps the audit record', async () => {
    const { jar } = await login({ userId: '100001' });
    const held = await json<{ access_token: string }>(await userToken('100001'));
    const response = await broker('/token/users/100001', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ deleted: true });

    expect((await userToken('100001')).status).toBe(404);
    expect((await jar.fetch('/token')).status).toBe(401);
    const atTwitch = await fetch('https://twitch.test/oauth2/validate', { headers: { Authorization: `OAuth ${held.access_token}` } });
    expect(atTwitch.status).toBe(401);
    const events = await json<{ events: { event: string }[] }>(await broker('/admin/users/100001/events', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(events.events.map((entry) => entry.event)).toEqual(['logged_in', 'deleted']);
  });

  it('answers 404 to a second DELETE of a dropped user and adds nothing to the audit trail', async () => {
    await login({ userId: '100001' });
    const drop = () => broker('/token/users/100001', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } });
    expect((await drop()).status).toBe(200);
    const again = await drop();
    expect(again.status).toBe(404);
    expect(await json(again)).toMatchObject({ error: 'not_found', error_description: expect.any(String) });
    const events = await json<{ events: { event: string }[] }>(await broker('/admin/users/100001/events', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(events.events.map((entry) => entry.event)).toEqual(['logged_in', 'deleted']);
    // A user who comes back can be dropped again.
    await login({ userId: '100001' });
    expect((await drop()).status).toBe(200);
  });

  it('answers 404 for a user it never saw, and needs a key of scope users', async () => {
    expect((await broker('/token/users/999999', { method: 'DELETE', headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
    await login({ userId: '100001' });
    expect((await broker('/token/users/100001', { method: 'DELETE' })).status).toBe(401);
    expect((await userToken('100001')).status).toBe(200);
  });
});
