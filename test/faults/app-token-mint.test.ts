import { describe, expect, it } from 'vitest';
import { API_KEY } from '../test-bindings';
import { broker, json } from '../support/broker';
import { freshStateForEachTest } from '../support/reset';
import { twitch } from '../support/twitch';
import { AMBIGUOUS, callsTo, expectRetryHonouredReset, FAILING, FAULTS, injectFault, REQUEST_PATH_LIMIT_MS, RETRYABLE, timed } from './fault-catalogue';
import { useFaultPace } from '../support/call-pace';

freshStateForEachTest();
useFaultPace();

/** Faults while minting the app token (client credentials) for a cold GET /token/app. */

const ON_MINT = { path: '/oauth2/token', grantType: 'client_credentials' } as const;
const appToken = () => timed(() => broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }));

describe('minting the app token at GET /token/app while Twitch misbehaves', () => {
  // Minting has no single-use input: even after an ambiguous failure a second attempt is safe.
  it.each([...RETRYABLE, ...AMBIGUOUS].map((c) => [c.name, c] as const))('retries past one %s and serves the token in time', async (_name, faultCase) => {
    await injectFault(ON_MINT, faultCase, 1);
    const { result: response, elapsedMs } = await appToken();
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ access_token: expect.any(String), token_type: 'bearer' });
    const calls = await callsTo(ON_MINT.path, ON_MINT.grantType);
    expect(calls).toHaveLength(2);
    if (faultCase === FAULTS.rateLimited) expectRetryHonouredReset(calls);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  it.each([FAULTS.slow].map((c) => [c.name, c] as const))('waits for %s and serves the token', async (_name, faultCase) => {
    await injectFault(ON_MINT, faultCase, -1);
    const { result: response, elapsedMs } = await appToken();
    expect(response.status).toBe(200);
    expect(await callsTo(ON_MINT.path, ON_MINT.grantType)).toHaveLength(1);
    expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);
  });

  it.each(FAILING.map((c) => [c.name, c] as const))(
    'answers 503 with Retry-After, never 500, within the deadline when every mint meets %s, and recovers',
    async (_name, faultCase) => {
      await injectFault(ON_MINT, faultCase, -1);
      const { result: response, elapsedMs } = await appToken();
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      expect(await json(response)).toMatchObject({ error: 'temporarily_unavailable' });
      expect(elapsedMs).toBeLessThan(REQUEST_PATH_LIMIT_MS);

      await twitch.clearFaults();
      expect((await appToken()).result.status).toBe(200);
    },
  );

  it('gives up at once on a 429 whose reset lies past the deadline and passes the reset on as Retry-After', async () => {
    await twitch.inject({ ...ON_MINT, kind: 'status', status: 429, retryAfterSeconds: 60, times: -1 });
    const { result: response, elapsedMs } = await appToken();
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('Retry-After'))).toBeGreaterThanOrEqual(58);
    expect(elapsedMs).toBeLessThan(1_000);
    expect(await callsTo(ON_MINT.path, ON_MINT.grantType)).toHaveLength(1);
  });
});
