import { env, withEnv } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, runDurableObjectAlarm, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';
import { observeBatch, recordRefresh, recordRevocation, recordTwitchError } from '../src/metrics/metrics';
import type { SweepCounts } from '../src/sweep/sweep-counts';
import { TwitchError } from '../src/twitch/twitch-error';
import { login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { directory, HOUR, seedUsers } from './support/seed';
import { twitch } from './support/twitch';

freshStateForEachTest();

/**
 * The broker's METRICS binding here is test/metrics-sink's RecordingDataset (vitest.config.ts):
 * miniflare's own Analytics Engine simulator drops every write, so a recording service stands in
 * for Cloudflare's sink. Our code is not faked: src/metrics calls `writeDataPoint` as in production.
 */
const recorder = (env as unknown as { METRICS_RECORDER: { take(): Promise<AnalyticsEngineDataPoint[]> } }).METRICS_RECORDER;

/** Data points arrive over RPC without being awaited by the broker: collect until `done` holds. */
async function pointsUntil(done: (points: AnalyticsEngineDataPoint[]) => boolean): Promise<AnalyticsEngineDataPoint[]> {
  const points: AnalyticsEngineDataPoint[] = [];
  await vi.waitFor(
    async () => {
      points.push(...(await recorder.take()));
      if (!done(points)) throw new Error(`not yet: ${JSON.stringify(points)}`);
    },
    { timeout: 5000, interval: 50 },
  );
  return points;
}

const ofEvent = (points: AnalyticsEngineDataPoint[], event: string) => points.filter((point) => point.indexes?.[0] === event);

/** What Analytics Engine accepts per data point (developers.cloudflare.com/analytics/analytics-engine/limits). */
function expectWithinAnalyticsEngineLimits(point: AnalyticsEngineDataPoint): void {
  const bytes = (value: unknown) => new TextEncoder().encode(String(value)).length;
  expect(point.indexes).toHaveLength(1);
  expect(bytes(point.indexes![0])).toBeLessThanOrEqual(96);
  expect(point.blobs!.length).toBeLessThanOrEqual(20);
  expect(point.blobs!.reduce((sum, blob) => sum + bytes(blob), 0)).toBeLessThanOrEqual(16 * 1024);
  expect(point.doubles!.length).toBeLessThanOrEqual(20);
  for (const double of point.doubles!) expect(Number.isFinite(double)).toBe(true);
  // The layout every query relies on: the event name twice (index and blob1), double1 = 1.
  expect(point.blobs![0]).toBe(point.indexes![0]);
  expect(point.doubles![0]).toBe(1);
}

/** No token, code or key the stand-in ever issued, and no user id, in any data point. */
async function expectNothingPersonal(points: AnalyticsEngineDataPoint[], userIds: string[]): Promise<void> {
  const written = JSON.stringify(points);
  for (const secret of await twitch.secrets()) expect(written).not.toContain(secret);
  for (const userId of userIds) expect(written).not.toContain(userId);
}

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '0 * * * *', scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Runs `fn` with the Worker's bindings replaced (what `import { env } from 'cloudflare:workers'` sees). */
const withBindings = <T>(bindings: Env, fn: () => Promise<T>): Promise<T> => withEnv(bindings, fn) as Promise<T>;

beforeEach(async () => {
  await recorder.take();
});

describe('Analytics Engine metrics (METRICS bound)', () => {
  it('counts a refresh a caller waited for, with its outcome and how long Twitch took', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 });
    const { jar } = await login({ userId: '100001' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14400 });
    expect((await jar.fetch('/token')).status).toBe(200);

    const points = await pointsUntil((seen) => ofEvent(seen, 'refresh').length >= 1);
    const [refresh] = ofEvent(points, 'refresh');
    expect(refresh!.blobs).toEqual(['refresh', 'ok', 'request']);
    expect(refresh!.doubles).toHaveLength(2);
    expect(refresh!.doubles![1]).toBeGreaterThanOrEqual(0);
    for (const point of points) expectWithinAnalyticsEngineLimits(point);
    await expectNothingPersonal(points, ['100001']);
  });

  it('counts a refused refresh as a revocation, once', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 });
    const { jar } = await login({ userId: '100002' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14400 });
    await twitch.disconnect('100002');
    expect((await jar.fetch('/token')).status).toBe(401);

    const points = await pointsUntil((seen) => ofEvent(seen, 'revocation').length >= 1 && ofEvent(seen, 'refresh').length >= 1);
    expect(ofEvent(points, 'refresh').map((point) => point.blobs)).toEqual([['refresh', 'revoked', 'request']]);
    expect(ofEvent(points, 'revocation').map((point) => point.blobs)).toEqual([['revocation', 'refresh_refused']]);
    // A dead refresh token is Twitch's answer, not a Twitch error.
    expect(ofEvent(points, 'twitch_error')).toEqual([]);
    await expectNothingPersonal(points, ['100002']);
  });

  it('counts a Twitch outage by endpoint and status, never with the query or a token', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 1 });
    const { jar } = await login({ userId: '100003' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14400 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    expect((await jar.fetch('/token')).status).toBe(503);

    const points = await pointsUntil((seen) => ofEvent(seen, 'twitch_error').length >= 1 && ofEvent(seen, 'refresh').length >= 1);
    expect(ofEvent(points, 'twitch_error').map((point) => [point.blobs, point.doubles])).toEqual([
      [
        ['twitch_error', '/oauth2/token', 'unavailable'],
        [1, 503],
      ],
    ]);
    expect(ofEvent(points, 'refresh')[0]!.blobs).toEqual(['refresh', 'unavailable', 'request']);
    for (const point of points) expectWithinAnalyticsEngineLimits(point);
    await expectNothingPersonal(points, ['100003']);
  });

  it('writes one data point per sweep batch, not one per user, with the counts, and logs the batch with its duration', async () => {
    const log = vi.spyOn(console, 'log');
    const userIds = await seedUsers(30, 300001, 2 * HOUR);
    await twitch.disconnect(userIds[0]!);
    // Overdue users (last proof two hours old) are due at once: the alarm's next batch takes them.
    await runDurableObjectAlarm(directory());

    const points = await pointsUntil((seen) => ofEvent(seen, 'sweep_batch').length >= 1 && ofEvent(seen, 'revocation').length >= 1);
    const batches = ofEvent(points, 'sweep_batch');
    expect(batches).toHaveLength(1);
    // doubles: 1, visited, validated, refreshed, revoked, failed, skipped, still owed, milliseconds.
    expect(batches[0]!.blobs).toEqual(['sweep_batch', 'alarm', 'ok']);
    expect(batches[0]!.doubles!.slice(0, 8)).toEqual([1, 30, 29, 0, 1, 0, 0, 0]);
    expect(batches[0]!.doubles![8]).toBeGreaterThanOrEqual(0);
    // The validations themselves are counted in the batch: per user, only the exception is written.
    expect(ofEvent(points, 'revocation').map((point) => point.blobs)).toEqual([['revocation', 'sweep']]);
    expect(ofEvent(points, 'refresh').map((point) => point.blobs)).toEqual([['refresh', 'revoked', 'background']]);
    expect(points).toHaveLength(3);
    for (const point of points) expectWithinAnalyticsEngineLimits(point);
    await expectNothingPersonal(points, userIds);

    const line = log.mock.calls.map(([first]) => String(first)).find((text) => text.includes('"event":"sweep.batch"'));
    expect(JSON.parse(line!)).toMatchObject({ trigger: 'alarm', outcome: 'ok', visited: 30, validated: 29, revoked: 1, failed: 0 });
    expect(JSON.parse(line!).durationMs).toBeGreaterThanOrEqual(0);
    log.mockRestore();
  });

  it('marks a batch started by the cron as `run`, and one with users to retry as `some_failed`', async () => {
    await seedUsers(2, 300101, 2 * HOUR);
    // A refusal Twitch answers at once (an outage would be retried for the sweep's 20 s deadline).
    await twitch.inject({ path: '/oauth2/validate', status: 400, times: -1 });
    await runCron();

    const points = await pointsUntil((seen) => ofEvent(seen, 'sweep_batch').length >= 1);
    const [batch] = ofEvent(points, 'sweep_batch');
    expect(batch!.blobs).toEqual(['sweep_batch', 'run', 'some_failed']);
    expect(batch!.doubles!.slice(0, 6)).toEqual([1, 2, 0, 0, 0, 2]);
    // A 400 is Twitch's answer, not an outage: no twitch_error.
    expect(ofEvent(points, 'twitch_error')).toEqual([]);
  });
});

describe('Analytics Engine metrics (METRICS absent or failing)', () => {
  const counts: SweepCounts = { validated: 3, refreshed: 1, revoked: 0, failed: 0, skipped: 2, remaining: 0 };

  it('writes nothing and throws nothing when the binding is absent', async () => {
    const { METRICS: _bound, ...withoutMetrics } = env;
    const result = await withBindings(withoutMetrics, async () => {
      recordRefresh('ok', 'request', 12);
      recordRevocation('eventsub');
      recordTwitchError('/oauth2/token', new TwitchError('unavailable', 503, 'Service Unavailable'));
      return observeBatch('run', async () => counts);
    });
    expect(result).toEqual(counts);
    // Given time to arrive, nothing does.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await recorder.take()).toEqual([]);
  });

  it('logs a failed write and carries on: a metric never turns a served request into an error', async () => {
    const log = vi.spyOn(console, 'log');
    const refusing: AnalyticsEngineDataset = {
      writeDataPoint() {
        throw new TypeError('writeDataPoint(): too many blobs');
      },
    };
    const result = await withBindings({ ...env, METRICS: refusing }, () => observeBatch('run', async () => counts));
    expect(result).toEqual(counts);
    const lines = log.mock.calls.map(([first]) => String(first));
    expect(lines.map((text) => JSON.parse(text) as Record<string, unknown>)).toContainEqual({
      event: 'metrics.write_failed',
      metric: 'sweep_batch',
      reason: 'TypeError',
    });
    log.mockRestore();
  });
});
