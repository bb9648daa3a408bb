import { describe, expect, it } from 'vitest';
import { type CookieJar, json, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

/** Logs in while Twitch hands out tokens with only `ttlSeconds` left, then restores normal lifetimes. */
async function loginWithShortLivedToken(userId: string, ttlSeconds: number): Promise<CookieJar> {
  await twitch.configure({ userAccessTokenTtlSeconds: ttlSeconds });
  const { jar } = await login({ userId });
  await twitch.configure({ userAccessTokenTtlSeconds: 14400 });
  return jar;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ten /token calls spread over two seconds, as a busy frontend or a few bots would make them. */
async function tenCallsOverTwoSeconds(jar: CookieJar): Promise<Response[]> {
  const responses: Response[] = [];
  for (let i = 0; i < 10; i++) {
    responses.push(await jar.fetch('/token'));
    await sleep(200);
  }
  return responses;
}

describe('a failing refresh is not retried by every caller', () => {
  it('calls Twitch at most 5 times for 10 requests over 2 s while refreshes fail, answering 503 with Retry-After', async () => {
    const jar = await loginWithShortLivedToken('100001', 1);
    await sleep(1100);
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });

    const responses = await tenCallsOverTwoSeconds(jar);
    for (const response of responses) {
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      expect(await json(response)).toMatchObject({ error: 'temporarily_unavailable' });
    }
    expect((await twitch.counts()).token.refresh_token).toBeLessThanOrEqual(5);
  });

  it('serves the still-valid token meanwhile, calling Twitch at most 5 times', async () => {
    const jar = await loginWithShortLivedToken('100001', 240);
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    const responses = await tenCallsOverTwoSeconds(jar);
    const tokens = new Set<string>();
    for (const response of responses) {
      expect(response.status).toBe(200);
      tokens.add((await json<{ access_token: string }>(response)).access_token);
    }
    expect(tokens.size).toBe(1);
    expect((await twitch.counts()).token.refresh_token).toBeLessThanOrEqual(5);
  });

  it('tries again once the wait it announced in Retry-After is over, and recovers', async () => {
    const jar = await loginWithShortLivedToken('100001', 1);
    await sleep(1100);
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    const failed = await jar.fetch('/token');
    expect(failed.status).toBe(503);
    const retryAfter = Number(failed.headers.get('Retry-After'));
    expect(retryAfter).toBeLessThanOrEqual(2);

    await twitch.clearFaults();
    await sleep(retryAfter * 1000);
    const recovered = await jar.fetch('/token');
    expect(recovered.status).toBe(200);
    expect((await json<{ expires_in: number }>(recovered)).expires_in).toBeGreaterThan(14000);
  });
});
