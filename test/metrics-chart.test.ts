import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../src/env';
import { utc } from '../src/console/format';
import { ANALYTICS_SQL, ANALYTICS_TOKEN, API_KEY } from './test-bindings';
import { broker, json, login } from './support/broker';
import { signIn } from './support/console';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

/**
 * The console charts the METRICS dataset through Analytics Engine's SQL API. The broker writes to
 * test/metrics-sink's recorder (as in metrics.test.ts); the test copies those points into
 * test/analytics-sql, which answers the SQL API there; the console reads them back over HTTP.
 */
const ACCOUNT_ID = '0123456789abcdef0123456789abcdef';
const withMetricsQuery = {
  ...env,
  CF_ACCOUNT_ID: ACCOUNT_ID,
  CF_ANALYTICS_TOKEN: ANALYTICS_TOKEN,
  CLOUDFLARE_API_BASE_URL: `${ANALYTICS_SQL}/client/v4`,
} as Env;
const recorder = (env as unknown as { METRICS_RECORDER: { take(): Promise<AnalyticsEngineDataPoint[]> } }).METRICS_RECORDER;

async function analyticsSql<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(
    `${ANALYTICS_SQL}/_standin${path}`,
    body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) },
  );
  expect(response.status).toBe(200);
  return response.json<T>();
}

/** What the broker wrote until `done` holds (data points arrive over RPC, unawaited). */
async function writtenUntil(done: (points: AnalyticsEngineDataPoint[]) => boolean): Promise<AnalyticsEngineDataPoint[]> {
  const points: AnalyticsEngineDataPoint[] = [];
  await vi.waitFor(
    async () => {
      points.push(...(await recorder.take()));
      if (!done(points)) throw new Error('not yet');
    },
    { timeout: 5000, interval: 50 },
  );
  return points;
}

const overview = async (bindings: Env) => (await (await signIn()).fetch('/admin', {}, bindings)).text();
const forcedRefresh = (userId: string) => broker(`/token/users/${userId}?force_refresh=true`, { headers: { Authorization: `Bearer ${API_KEY}` } });

beforeEach(async () => {
  await recorder.take();
  await analyticsSql('/reset', {});
  await analyticsSql('/access', { accountId: ACCOUNT_ID, token: ANALYTICS_TOKEN, dataset: 'twitch_token_broker' });
});

describe('the console chart of Analytics Engine metrics', () => {
  it('charts the refreshes and revocations the broker wrote, read back through the SQL API, per hour', async () => {
    await login({ userId: '100001' });
    // A caller's Helix call got 401 (force_refresh): the broker checks with Twitch and refreshes.
    await twitch.expire({ user_id: '100001' });
    expect((await forcedRefresh('100001')).status).toBe(200);
    // An operator's forced refresh, which Twitch refuses: the grant is revoked.
    await twitch.inject({
      path: '/oauth2/token',
      grantType: 'refresh_token',
      status: 400,
      body: JSON.stringify({ status: 400, message: 'Invalid refresh token' }),
    });
    expect((await broker('/admin/users/100001/refresh', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBeLessThan(500);
    expect(await json(await forcedRefresh('100001'))).toMatchObject({ error: 'reauthorization_required' });
    const eventOf = (point: AnalyticsEngineDataPoint) => String(point.indexes?.[0] ?? '');
    const points = await writtenUntil((written) => written.filter((point) => ['refresh', 'revocation'].includes(eventOf(point))).length === 3);
    await analyticsSql('/points', { points });
    // Three hours ago, and more than a day ago (outside the chart).
    await analyticsSql('/points', {
      points: [{ indexes: ['twitch_error'], blobs: ['twitch_error', '/oauth2/token', 'unavailable'], doubles: [1, 503] }],
      at: Date.now() - 3 * 3_600_000,
    });
    await analyticsSql('/points', {
      points: [{ indexes: ['refresh'], blobs: ['refresh', 'ok', 'request'], doubles: [1, 80] }],
      at: Date.now() - 25 * 3_600_000,
    });
    // Within the SQL's day but, almost always, in the hour before the chart's first bar: totals add up what the bars show.
    const edge = Date.now() - 24 * 3_600_000 + 10_000;
    await analyticsSql('/points', { points: [{ indexes: ['revocation'], blobs: ['revocation', 'sweep'], doubles: [1] }], at: edge });

    const page = await overview(withMetricsQuery);
    expect(page).toContain('aria-label="refreshes, revocations and Twitch errors per hour"');
    const thisHour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    expect(page).toContain(`<title>${utc(thisHour)}: 1 refreshed, 1 refreshes failed, 1 revoked, 0 Twitch errors</title>`);
    expect(page).toContain(`<title>${utc(thisHour - 3 * 3_600_000)}: 0 refreshed, 0 refreshes failed, 0 revoked, 1 Twitch errors</title>`);
    expect(page.match(/<g><title>/g)).toHaveLength(24);
    expect(page).toMatch(/<td>refresh<\/td><td>ok<\/td><td class="">1<\/td>/);
    expect(page).toMatch(/<td>revocation<\/td><td>refresh_refused<\/td><td class="bad">1<\/td>/);
    expect(page).toMatch(/<td>twitch_error<\/td><td>\/oauth2\/token<\/td><td class="bad">1<\/td>/);
    const edgeInChart = Math.floor(edge / 3_600_000) * 3_600_000 >= thisHour - 23 * 3_600_000;
    expect(page.includes('<td>revocation</td><td>sweep</td>')).toBe(edgeInChart);
    expect(page).not.toContain(ANALYTICS_TOKEN);
    expect(await analyticsSql<{ queries: number }>('/queries')).toEqual({ queries: 1 });
  });

  it('says why there is no chart: not set up, a token the API refuses, or a half-done configuration', async () => {
    expect(await overview(env)).toContain('Not charted: set CF_ACCOUNT_ID and CF_ANALYTICS_TOKEN to chart them here.');

    const refused = await overview({ ...withMetricsQuery, CF_ANALYTICS_TOKEN: 'a-token-that-is-not-the-one' } as Env);
    expect(refused).toContain('Could not read the metrics: HTTP 401: check CF_ANALYTICS_TOKEN (Account Analytics Read).');
    expect(refused).not.toContain('a-token-that-is-not-the-one');

    const halfDone = { ...env, CF_ACCOUNT_ID: ACCOUNT_ID } as Env;
    expect(await json(await broker('/health', {}, halfDone))).toMatchObject({ configuration: 'incomplete', problems: ['CF_ANALYTICS_TOKEN'] });
    expect(await overview(halfDone)).toContain('Not charted: see the configuration problems.');
    expect(await json(await broker('/health', {}, { ...env, CF_ACCOUNT_ID: 'not-an-account' } as Env))).toMatchObject({ problems: ['CF_ACCOUNT_ID'] });
  });
});
