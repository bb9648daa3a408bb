import { describe, expect, it } from 'vitest';
import { API_KEY } from '../test-bindings';
import { type CookieJar, json, login } from '../support/broker';
import { broker } from '../support/broker';
import { REFRESH_BACKOFF_FIRST_MS } from '../../src/vault/refresh-backoff';
import { freshStateForEachTest } from '../support/reset';
import { twitch } from '../support/twitch';
import {
  AMBIGUOUS,
  callsTo,
  expectRetryHonouredReset,
  FAILING,
  FAULTS,
  injectFault,
  REQUEST_PATH_LIMIT_MS,
  RETRYABLE,
  timed,
  type FaultCase,
} from './fault-catalogue';
import { atFaultPace, useFaultPace } from '../support/call-pace';

freshStateForEachTest();
useFaultPace();

/** Faults during a refresh of a user token at GET /token. */

const ON_REFRESH = { path: '/oauth2/token', grantType: 'refresh_token' } as const;
const NORMAL_TTL_SECONDS = 14_400;

interface TokenBody {
  access_token: string;
  expires_in: number;
}

/** Logs in with a token that has `ttlSeconds` left, so the next /token refreshes it. */
async function loginWithTokenLasting(ttlSeconds: number, userId = '100001'): Promise<CookieJar> {
  await twitch.configure({ userAccessTokenTtlSeconds: ttlSeconds });
  const { jar } = await login({ userId });
  await twitch.configure({ userAccessTokenTtlSeconds: NORMAL_TTL_SECONDS });
  return jar;
}

/** A user whose token has already expired: nothing valid is left to serve. */
async function loginWithExpiredToken(userId = '100001'): Promise<CookieJar> {
  const jar = await loginWithTokenLasting(1, userId);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  return jar;
}

/**
 * The grant survived: with Twitch healthy again and the vault's backoff after the failure over (paced),
 * /token refreshes and serves a full-length token.
 */
async function expectGrantKept(jar: CookieJar): Promise<void> {
  await twitch.clearFaults();
  await new Promise((resolve) => setTimeout(resolve, atFaultPace(REFRESH_BACKOFF_FIRST_MS)));
  const response = await jar.fetch('/token');
  expect(response.status).toBe(200);
  expect((await json<TokenBody>(response)).expires_in).toBeGreaterThan(NORMAL_TTL_SECONDS - 100);
  expect(await twitch.refreshTokenReuse()).toEqual([]);
}

describe('a refresh at GET /token while Twitch misbehaves', () => {
  it.each(RETRYABLE.map((c) => [c.name, c] as const))('retries past one %s and serves the refreshed token in time', async (_name, faultCase) => {
    const jar = await loginWithTokenLasting(240);
    await injectFault(ON_REFRESH, faultCase, 1);
    const { result: response, elapsedMs } = await timed(() => jar.fetch('/token'));
    expect(response.status).toBe(200);
    expect((await json<TokenBody>(response)).expires_in).toBeGreaterThan(NORMAL_TTL_SECONDS - 100);
    const calls = await callsTo(ON_REFRESH.path, ON_REFRESH.grantType);
    expect(calls).toHaveLength(2);
    if (faultCase === FAULTS.rateLimited) expectRetryHonouredReset(calls);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  it.each(AMBIGUOUS.map((c) => [c.name, c] as const))(
    'never repeats a refresh after %s, serves the still-valid token and keeps the grant',
    async (_name, faultCase) => {
      const jar = await loginWithTokenLasting(240);
      await injectFault(ON_REFRESH, faultCase, 1);
      const { result: response, elapsedMs } = await timed(() => jar.fetch('/token'));
      expect(response.status).toBe(200);
      expect((await json<TokenBody>(response)).expires_in).toBeLessThanOrEqual(240);
      // One attempt only: Twitch may have rotated the refresh token, and presenting it again is reuse.
      expect(await callsTo(ON_REFRESH.path, ON_REFRESH.grantType)).toHaveLength(1);
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
      await expectGrantKept(jar);
    },
  );

  it.each([FAULTS.slow, FAULTS.verySlow].map((c) => [c.name, c] as const))('waits for %s and serves the refreshed token', async (_name, faultCase) => {
    const jar = await loginWithTokenLasting(240);
    await injectFault(ON_REFRESH, faultCase, -1);
    const { result: response, elapsedMs } = await timed(() => jar.fetch('/token'));
    expect(response.status).toBe(200);
    expect((await json<TokenBody>(response)).expires_in).toBeGreaterThan(NORMAL_TTL_SECONDS - 100);
    expect(await callsTo(ON_REFRESH.path, ON_REFRESH.grantType)).toHaveLength(1);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  // Both sides of a lasting outage in one test (the fault matches every refresh, whoever asks):
  // one user still has a valid token, the other has none left.
  it.each(FAILING.map((c) => [c.name, c] as const))(
    'when every refresh meets %s: serves a still-valid token, else 503 with Retry-After (never 500), within the deadline',
    async (_name, faultCase: FaultCase) => {
      const stillValid = await loginWithTokenLasting(240, '100001');
      const expired = await loginWithExpiredToken('100002');
      await injectFault(ON_REFRESH, faultCase, -1);
      const {
        result: [served, refused],
        elapsedMs,
      } = await timed(() => Promise.all([stillValid.fetch('/token'), expired.fetch('/token')]));
      expect(served.status).toBe(200);
      expect((await json<TokenBody>(served)).expires_in).toBeLessThanOrEqual(240);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      expect(await json(refused)).toMatchObject({ error: 'temporarily_unavailable' });
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
      await expectGrantKept(stillValid);
      await expectGrantKept(expired);
    },
  );

  it('gives up at once on a 429 whose reset lies past the deadline and passes the reset on as Retry-After', async () => {
    const jar = await loginWithExpiredToken();
    await injectFault(ON_REFRESH, { ...FAULTS.rateLimited, fault: { kind: 'status', status: 429, retryAfterSeconds: 60 } }, -1);
    const { result: response, elapsedMs } = await timed(() => jar.fetch('/token'));
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('Retry-After'))).toBeGreaterThanOrEqual(58);
    expect(elapsedMs).toBeLessThan(1_000);
    expect(await callsTo(ON_REFRESH.path, ON_REFRESH.grantType)).toHaveLength(1);

    // Callers who come back before the reset do not make the broker knock again.
    expect((await jar.fetch('/token')).status).toBe(503);
    expect(await callsTo(ON_REFRESH.path, ON_REFRESH.grantType)).toHaveLength(1);
  });

  it.each([
    ['400 "Invalid refresh token"', { kind: 'status', status: 400, body: JSON.stringify({ status: 400, message: 'Invalid refresh token' }) }],
    ['401', { kind: 'status', status: 401 }],
  ] as const)('drops the grant on Twitch’s definitive %s and asks for a new login', async (_name, fault) => {
    const jar = await loginWithTokenLasting(240);
    await twitch.inject({ ...ON_REFRESH, ...fault, times: 1 });
    const response = await jar.fetch('/token');
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'reauthorization_required' });
    const byKey = await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(await json(byKey)).toMatchObject({ error: 'reauthorization_required' });
  });

  it.each([
    ['400 with another message', { kind: 'status', status: 400, body: JSON.stringify({ status: 400, message: 'Invalid client secret' }) }],
    ['403', { kind: 'status', status: 403 }],
  ] as const)('keeps the grant on a %s, which says nothing about the refresh token', async (_name, fault) => {
    const jar = await loginWithTokenLasting(240);
    await twitch.inject({ ...ON_REFRESH, ...fault, times: 1 });
    const response = await jar.fetch('/token');
    expect(response.status).toBe(200);
    await expectGrantKept(jar);
  });

  it('keeps a new login made while Twitch was refusing the old grant’s refresh', async () => {
    const oldSession = await loginWithTokenLasting(240);
    await twitch.disconnect('100001');
    // Twitch takes its time to refuse the dead refresh token; the user logs in again meanwhile.
    await twitch.inject({ ...ON_REFRESH, kind: 'slow', delayMs: 1_000, times: 1 });
    const refused = oldSession.fetch('/token');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { jar: newSession } = await login({ userId: '100001' });
    await refused;
    const response = await newSession.fetch('/token');
    expect(response.status).toBe(200);
    expect((await json<TokenBody>(response)).expires_in).toBeGreaterThan(NORMAL_TTL_SECONDS - 100);
  });
});
