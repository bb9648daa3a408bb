import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, API_KEY } from '../test-bindings';
import { broker, json, login } from '../support/broker';
import { freshStateForEachTest } from '../support/reset';
import { AMBIGUOUS, callsTo, FAILING, injectFault, REQUEST_PATH_LIMIT_MS, RETRYABLE, timed } from './fault-catalogue';
import { useFaultPace } from '../support/call-pace';

freshStateForEachTest();
useFaultPace();

/** Faults while revoking the user's tokens at Twitch during POST /logout. */

const ON_REVOKE = { path: '/oauth2/revoke' } as const;

async function timedLogout() {
  const { jar } = await login({ userId: '100001' });
  const { result: response, elapsedMs } = await timed(() => jar.fetch('/logout', { method: 'POST', headers: { Origin: APP_ORIGIN } }));
  return { jar, response, elapsedMs };
}

describe('revoking at POST /logout while Twitch misbehaves', () => {
  // Revoking is idempotent, so even an ambiguous failure is simply tried again.
  it.each([...RETRYABLE, ...AMBIGUOUS].map((c) => [c.name, c] as const))(
    'retries a revoke past one %s: both tokens end up revoked at Twitch',
    async (_name, faultCase) => {
      await injectFault(ON_REVOKE, faultCase, 1);
      const { response, elapsedMs } = await timedLogout();
      expect(response.status).toBe(200);
      // One spoiled call, then a definitive answer for each token: 200, or 400 "Invalid token" when
      // revoking the refresh token at Twitch already took its access token with it.
      const calls = await callsTo(ON_REVOKE.path);
      expect(calls).toHaveLength(3);
      expect(calls.filter((call) => call.status === 200 || call.status === 400).length).toBeGreaterThanOrEqual(2);
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
    },
  );

  it.each(FAILING.map((c) => [c.name, c] as const))(
    'still logs the user out here, within the deadline, when every revoke meets %s',
    async (_name, faultCase) => {
      await injectFault(ON_REVOKE, faultCase, -1);
      const { jar, response, elapsedMs } = await timedLogout();
      expect(response.status).toBe(200);
      expect(await json(response)).toEqual({ logged_out: true });
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
      // The session is over and the broker no longer holds (or hands out) the grant.
      expect((await jar.fetch('/token')).status).toBe(401);
      expect((await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
    },
  );
});
