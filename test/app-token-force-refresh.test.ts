import { describe, expect, it } from 'vitest';
import { API_KEY } from './test-bindings';
import { broker, json } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';
import { useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

const appToken = async (query = '') => {
  const response = await broker(`/token/app${query}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
  expect(response.status).toBe(200);
  return (await json<{ access_token: string }>(response)).access_token;
};
const forcedAppToken = () => appToken('?force_refresh=true');

describe('GET /token/app?force_refresh=true', () => {
  it('checks a token Twitch still accepts and keeps it: no new mint', async () => {
    const first = await appToken();
    expect(await forcedAppToken()).toBe(first);
    const counts = await twitch.counts();
    expect(counts.validate).toBe(1);
    expect(counts.token.client_credentials).toBe(1);
  });

  it('mints exactly once when Twitch has dropped the token, and every later caller gets the new one', async () => {
    const dead = await appToken(); // now also in this isolate's memory and in KV
    await twitch.expire({ app: true });
    const fresh = await forcedAppToken();
    expect(fresh).not.toBe(dead);
    expect((await twitch.counts()).token.client_credentials).toBe(2);
    expect(await appToken()).toBe(fresh);
  });

  it('checks and mints at most once when twenty callers force a refresh together', async () => {
    const dead = await appToken();
    await twitch.expire({ app: true });
    const tokens = await Promise.all(Array.from({ length: 20 }, forcedAppToken));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(dead);
    const counts = await twitch.counts();
    expect(counts.validate).toBe(1);
    expect(counts.token.client_credentials).toBe(2);
  });

  it('checks at most once a minute, so a caller cannot make the broker validate or mint in a loop', async () => {
    await appToken();
    await twitch.expire({ app: true });
    const replacement = await forcedAppToken();
    await twitch.expire({ app: true });
    for (let i = 0; i < 5; i++) expect(await forcedAppToken()).toBe(replacement);
    const counts = await twitch.counts();
    expect(counts.validate).toBe(1);
    expect(counts.token.client_credentials).toBe(2);
  });

  it('keeps serving the current token when Twitch cannot say whether it is dead', async () => {
    const current = await appToken();
    await twitch.inject({ path: '/oauth2/validate', status: 503, times: -1 });
    expect(await forcedAppToken()).toBe(current);
    expect((await twitch.counts()).token.client_credentials).toBe(1);
  });

  it('answers 400 to a force_refresh that is not true or false', async () => {
    const response = await broker('/token/app?force_refresh=yes', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request' });
  });
});
