import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { type CookieJar, json, login } from '../support/broker';
import { abortEveryObject, evictObject, freshStateForEachTest } from '../support/reset';
import { twitch } from '../support/twitch';
import { callsTo } from './fault-catalogue';

freshStateForEachTest();

/** Faults inside the platform: the user's vault torn down while its refresh is in flight. */

const ON_REFRESH = { path: '/oauth2/token', grantType: 'refresh_token' } as const;
const USER_ID = '100001';
const NORMAL_TTL_SECONDS = 14_400;
const vault = () => env.USER_VAULT.get(env.USER_VAULT.idFromName(USER_ID));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logged-in user whose token has four minutes left, so the next /token refreshes it. */
async function loginWithExpiringToken(): Promise<CookieJar> {
  await twitch.configure({ userAccessTokenTtlSeconds: 240 });
  const { jar } = await login({ userId: USER_ID });
  await twitch.configure({ userAccessTokenTtlSeconds: NORMAL_TTL_SECONDS });
  return jar;
}

/** Starts a /token whose refresh Twitch answers slowly, and tears the vault down while it waits. */
async function tearDownMidRefresh(jar: CookieJar, tearDown: () => Promise<void>, phase: 'before' | 'after') {
  await twitch.inject({ ...ON_REFRESH, kind: 'slow', delayMs: 1_500, phase, times: 1 });
  const pending = jar.fetch('/token').then(
    (response) => ({ status: response.status }),
    (error: unknown) => ({ status: 0, error }),
  );
  await sleep(400);
  await tearDown();
  return pending;
}

const TEAR_DOWNS = [
  ['evicted', () => evictObject(vault())],
  ['aborted', () => abortEveryObject()],
] as const;

describe('a user vault torn down in the middle of a refresh', () => {
  it.each(TEAR_DOWNS)('loses no grant when %s before Twitch answered: the next /token serves a refreshed token', async (how, tearDown) => {
    const jar = await loginWithExpiringToken();
    const interrupted = await tearDownMidRefresh(jar, tearDown, 'before');
    // Eviction lets the refresh finish. An abort fails the caller's RPC: production resets carry the
    // runtime's `retryable` flag and become 503, the test harness's abort error carries none.
    if (how === 'evicted') expect(interrupted.status).toBe(200);

    const next = await jar.fetch('/token');
    expect(next.status).toBe(200);
    expect((await json<{ expires_in: number }>(next)).expires_in).toBeGreaterThan(NORMAL_TTL_SECONDS - 100);
    expect(await twitch.refreshTokenReuse()).toEqual([]);
  });

  // With rotation, Twitch has already replaced the refresh token when the answer is lost with the
  // vault: the stored one is dead at Twitch and nothing can recover the new one. The broker finds
  // out on the next refresh, marks the user revoked once, and a new login works.
  it('after Twitch rotated but before the vault stored the answer: asks for one new login, then works', async () => {
    const jar = await loginWithExpiringToken();
    await tearDownMidRefresh(jar, () => abortEveryObject(), 'after');
    const next = await jar.fetch('/token');
    expect(next.status).toBe(401);
    expect(await json(next)).toMatchObject({ error: 'reauthorization_required' });
    expect(await callsTo(ON_REFRESH.path, ON_REFRESH.grantType)).toHaveLength(2);

    const again = await login({ userId: USER_ID });
    expect((await again.jar.fetch('/token')).status).toBe(200);
    expect(await callsTo(ON_REFRESH.path, ON_REFRESH.grantType)).toHaveLength(2);
  });
});
