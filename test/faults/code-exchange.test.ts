import { describe, expect, it } from 'vitest';
import { CookieJar, consent, startLogin, pkcePair } from '../support/broker';
import { freshStateForEachTest } from '../support/reset';
import { AMBIGUOUS, callsTo, expectRetryHonouredReset, FAULTS, injectFault, REQUEST_PATH_LIMIT_MS, RETRYABLE, timed, type FaultCase } from './fault-catalogue';
import { useFaultPace } from '../support/call-pace';

freshStateForEachTest();
useFaultPace();

/** Faults during the code exchange (and the validate that names the user) at GET /callback. */

const ON_EXCHANGE = { path: '/oauth2/token', grantType: 'authorization_code' } as const;
const ON_VALIDATE = { path: '/oauth2/validate' } as const;

/** Runs a login up to Twitch's redirect, then times the broker's /callback. */
async function timedCallback() {
  const jar = new CookieJar();
  const callbackUrl = await consent(await startLogin(jar, { codeChallenge: (await pkcePair()).challenge }), '100001');
  const { result: response, elapsedMs } = await timed(() => jar.fetch(`${callbackUrl.pathname}${callbackUrl.search}`));
  expect(response.status).toBe(302);
  return { jar, location: new URL(response.headers.get('Location')!), elapsedMs };
}

/** The login completed: a session code for the frontend and a session that serves a token. */
async function expectLoggedIn(jar: CookieJar, location: URL): Promise<void> {
  expect(location.searchParams.get('session_code')).toBeTruthy();
  expect((await jar.fetch('/token')).status).toBe(200);
}

/** The browser went back to the app with a retryable error, and no session was created. */
function expectSentBackToRetry(jar: CookieJar, location: URL): void {
  expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
  expect(location.searchParams.get('session_code')).toBeNull();
  expect(jar.sessionCookie).toBeUndefined();
}

describe('the code exchange at /callback while Twitch misbehaves', () => {
  it.each(RETRYABLE.map((c) => [c.name, c] as const))('retries past one %s and completes the login in time', async (_name, faultCase) => {
    await injectFault(ON_EXCHANGE, faultCase, 1);
    const { jar, location, elapsedMs } = await timedCallback();
    await expectLoggedIn(jar, location);
    const calls = await callsTo(ON_EXCHANGE.path, ON_EXCHANGE.grantType);
    expect(calls).toHaveLength(2);
    if (faultCase === FAULTS.rateLimited) expectRetryHonouredReset(calls);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  it.each(AMBIGUOUS.map((c) => [c.name, c] as const))(
    'does not spend the single-use code twice after %s: sends the browser back to try again',
    async (_name, faultCase) => {
      await injectFault(ON_EXCHANGE, faultCase, 1);
      const { jar, location, elapsedMs } = await timedCallback();
      expectSentBackToRetry(jar, location);
      expect(await callsTo(ON_EXCHANGE.path, ON_EXCHANGE.grantType)).toHaveLength(1);
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
    },
  );

  it.each([FAULTS.slow, FAULTS.verySlow].map((c) => [c.name, c] as const))('waits for %s and completes the login', async (_name, faultCase) => {
    await injectFault(ON_EXCHANGE, faultCase, -1);
    const { jar, location, elapsedMs } = await timedCallback();
    await expectLoggedIn(jar, location);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  it.each(
    [FAULTS.status503, { ...FAULTS.rateLimited, name: '429 with a 60 s Ratelimit-Reset', fault: { kind: 'status', status: 429, retryAfterSeconds: 60 } }].map(
      (c) => [c.name, c as FaultCase] as const,
    ),
  )('gives up within the deadline when every exchange meets %s', async (_name, faultCase) => {
    await injectFault(ON_EXCHANGE, faultCase, -1);
    const { jar, location, elapsedMs } = await timedCallback();
    expectSentBackToRetry(jar, location);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  it.each([FAULTS.status503, FAULTS.hang, FAULTS.garbage].map((c) => [c.name, c] as const))(
    'retries the validate that names the user past one %s and completes the login',
    async (_name, faultCase) => {
      await injectFault(ON_VALIDATE, faultCase, 1);
      const { jar, location, elapsedMs } = await timedCallback();
      await expectLoggedIn(jar, location);
      expect(await callsTo(ON_VALIDATE.path)).toHaveLength(2);
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
    },
  );

  it('gives up within the deadline when the validate after the exchange never answers', async () => {
    await injectFault(ON_VALIDATE, FAULTS.hang, -1);
    const { jar, location, elapsedMs } = await timedCallback();
    expectSentBackToRetry(jar, location);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });
});
