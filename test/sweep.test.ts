import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../src/index';
import { cycleStart, slotOf, SWEEP_CYCLE_MS } from '../src/sweep/schedule';
import { API_KEY } from './test-bindings';
import { broker, json, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { directory, expectEndedAsAnotherUsers, HOUR, seedGrantOfAnotherUser, seedUsers, vault } from './support/seed';
import { twitch } from './support/twitch';
import { atCallPace, OUTAGE_PACE, useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

/** Fires the real cron handler and waits for everything it started. */
async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '0 * * * *', scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const adminSweep = () => broker('/admin/sweep', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } });

describe('the hourly sweep', () => {
  it('validates the app token on the cron and mints a new one when Twitch says it is dead', async () => {
    const first = await json<{ access_token: string }>(await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    await runCron();
    let counts = await twitch.counts();
    expect(counts.validate).toBe(1);
    expect(counts.token.client_credentials).toBe(1);

    await twitch.expire({ app: true });
    await runCron();
    counts = await twitch.counts();
    expect(counts.token.client_credentials).toBe(2);
    const second = await json<{ access_token: string }>(await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(second.access_token).not.toBe(first.access_token);
  });

  it('puts the app token back in KV at each hourly check, so the cache never lapses while the token lives', async () => {
    const { access_token: token } = await json<{ access_token: string }>(await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    // As if the KV copy had reached its expiry (at most a day) while the token has weeks to live.
    for (const { name } of (await env.APP_TOKEN_CACHE.list()).keys) await env.APP_TOKEN_CACHE.delete(name);
    await runCron();
    const listed = await env.APP_TOKEN_CACHE.list();
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]!.expiration).toBeGreaterThan(Date.now() / 1000 + 3600);
    expect(await env.APP_TOKEN_CACHE.get(listed.keys[0]!.name)).not.toContain(token);
    expect((await twitch.counts()).token.client_credentials).toBe(1);
  });

  it('does not validate a user who logged in less than an hour ago', async () => {
    await login({ userId: '100001' });
    const before = (await twitch.counts()).validate;
    await runCron();
    // Only the app token (minted by the sweep, no validate) was touched; the user was skipped.
    expect((await twitch.counts()).validate).toBe(before);
  });

  it('validates a user whose last validation is over an hour old', async () => {
    await seedUsers(1, 200001, 2 * HOUR);
    await runCron();
    const counts = await twitch.counts();
    expect(counts.validate).toBe(1);
    expect(counts.token.refresh_token).toBe(0);
  });

  it('marks a user who disconnected the app as revoked, with one refresh attempt and no storm', async () => {
    const [userId] = await seedUsers(1, 200101, 2 * HOUR);
    await twitch.disconnect(userId!);
    await runCron();
    const afterFirstSweep = await twitch.counts();
    expect(afterFirstSweep.token.refresh_token).toBe(1);
    expect(afterFirstSweep.validate).toBe(1);

    const response = await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(401);
    expect(await json(response)).toMatchObject({ error: 'reauthorization_required' });

    await adminSweep();
    await runCron();
    for (let i = 0; i < 5; i++) await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    const counts = await twitch.counts();
    expect(counts.token.refresh_token).toBe(1);
    // Two more sweeps validated the app token once each, and never the revoked user again.
    expect(counts.validate).toBe(afterFirstSweep.validate + 2);
  });

  it('keeps a user through a Twitch outage during validation', async () => {
    const [userId] = await seedUsers(1, 200201, 2 * HOUR);
    await twitch.inject({ path: '/oauth2/validate', status: 503, times: -1 });
    const report = await json<Record<string, number>>(await atCallPace(OUTAGE_PACE, adminSweep));
    expect(report).toMatchObject({ failed: 1, revoked: 0 });
    await twitch.clearFaults();
    const response = await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(200);
  });

  it('ends a grant whose token Twitch says is another user’s: counted revoked, the user not renamed, the tokens revoked at Twitch', async () => {
    const bobs = await seedGrantOfAnotherUser('100001', 'streamer_alice', '100002', 2 * HOUR);
    expect(await json(await adminSweep())).toMatchObject({ validated: 0, revoked: 1 });
    await expectEndedAsAnotherUsers('100001', 'streamer_alice', bobs);
    const served = await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(await json(served)).toMatchObject({ error: 'reauthorization_required' });
  });

  it('POST /admin/sweep validates every stored token now and answers with counts', async () => {
    const [healthy, expired, gone] = await seedUsers(3, 200301, 10 * 60_000);
    await twitch.expire({ user_id: expired! });
    await twitch.disconnect(gone!);
    const response = await adminSweep();
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ app: 'minted', validated: 1, refreshed: 1, revoked: 1, failed: 0, skipped: 0, remaining: 0 });
    expect((await broker(`/token/users/${healthy}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    expect((await broker(`/token/users/${expired}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
  });

  it('stops serving an access token Twitch called invalid, even while the refresh is failing', async () => {
    const [userId] = await seedUsers(1, 200401, 2 * HOUR);
    await twitch.expire({ user_id: userId! });
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    expect(await json(await adminSweep())).toMatchObject({ failed: 1, revoked: 0 });
    const response = await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(503);
    await twitch.clearFaults();
    // The vault asks Twitch again once the wait it announced after the failed refresh is over.
    await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('Retry-After')) * 1000));
    expect((await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
  });

  it('a forced sweep left to the alarm still validates users validated within the hour', async () => {
    const [userId] = await seedUsers(1, 200501, 10 * 60_000);
    // As if POST /admin/sweep had marked this user but its first batch did not reach them.
    await runInDurableObject(directory(), (_instance, ctx) => {
      ctx.storage.sql.exec('UPDATE users SET next_due_at = ?, forced = 1 WHERE user_id = ?', Date.now(), userId);
    });
    expect(await runDurableObjectAlarm(directory())).toBe(true);
    expect((await twitch.counts()).validate).toBe(1);
    const row = await runInDurableObject(directory(), (_instance, ctx) =>
      ctx.storage.sql.exec<{ forced: number }>('SELECT forced FROM users WHERE user_id = ?', userId).one(),
    );
    expect(row.forced).toBe(0);
  });

  it('does not call Twitch for a user whose token expired with nobody asking, and sweeps them again once a caller gets a token', async () => {
    const userId = '200601';
    await twitch.addUsers(1, 200601);
    const grant = await twitch.grant(userId);
    const validatedAt = Date.now() - 5 * HOUR;
    // Last handed out hours ago: the access token has since expired and nobody asked for another.
    await vault(userId).storeGrant({
      userId,
      login: 'idle_user',
      accessToken: grant.access_token,
      refreshToken: grant.refresh_token,
      expiresAt: Date.now() - HOUR,
      scopes: grant.scope,
      validatedAt,
    });
    await directory().registerMany([userId], validatedAt);
    await runCron();
    expect((await twitch.counts()).validate).toBe(0);
    expect((await twitch.counts()).token.refresh_token).toBe(0);
    expect(await directory().stats()).toMatchObject({ users: 1, active: 0 });

    // A caller asks: the vault refreshes (that refresh proves the grant) and the user is back in the sweep.
    const response = await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(200);
    expect(await directory().stats()).toMatchObject({ users: 1, active: 1 });
    expect(await json(await adminSweep())).toMatchObject({ validated: 1 });
  });

  it('validates each due user once when the cron and the alarm run at the same time', async () => {
    await seedUsers(30, 200701, 2 * HOUR);
    await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } });
    await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: 100, times: -1 });
    await Promise.all([runCron(), runDurableObjectAlarm(directory()), runCron()]);
    // Two crons validated the app token once each; every user exactly once.
    expect((await twitch.counts()).validate).toBe(30 + 2);
  });

  it('validates each user in use once per cycle, at their moment, over two cycles of the clock', async () => {
    const users = await seedUsers(20, 200801, 10 * 60_000);
    await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } });
    const cursorAt = () =>
      runInDurableObject(directory(), (_instance, ctx) => ctx.storage.sql.exec<{ cursor_at: number }>('SELECT cursor_at FROM sweep_state').one().cursor_at);
    const from = await cursorAt();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const end = Date.now() + 2 * SWEEP_CYCLE_MS + 2 * 60_000;
      // Fire the directory's alarm whenever it falls due, as the platform would (no cron here).
      for (;;) {
        const alarmAt = await runInDurableObject(directory(), (_instance, ctx) => ctx.storage.getAlarm());
        if (alarmAt === null || alarmAt >= end) break;
        vi.setSystemTime(Math.max(alarmAt, Date.now()));
        expect(await runDurableObjectAlarm(directory())).toBe(true);
      }
    } finally {
      vi.useRealTimers();
    }
    // Every moment the cursor passed, once: each user twice or three times (their moment in each
    // of the two cycles, and in the two minutes past), nobody more, no refresh; the evidence agrees.
    const to = await cursorAt();
    const momentsPassed = users.reduce((count, userId) => {
      let moment = cycleStart(from) + slotOf(userId);
      if (moment < from) moment += SWEEP_CYCLE_MS;
      return count + (moment < to ? Math.floor((to - 1 - moment) / SWEEP_CYCLE_MS) + 1 : 0);
    }, 0);
    expect(momentsPassed).toBeGreaterThanOrEqual(2 * users.length);
    expect((await twitch.counts()).validate).toBe(momentsPassed);
    expect((await twitch.counts()).token.refresh_token).toBe(0);
    const evidence = await directory().evidence();
    expect(evidence.reduce((sum, batch) => sum + batch.validated, 0)).toBe(momentsPassed);
  });

  it('GET /admin/sweep/evidence shows each batch: its counts and the users it could not validate', async () => {
    const [healthy, gone] = await seedUsers(2, 200901, 2 * HOUR);
    await twitch.disconnect(gone!);
    await runCron();
    const response = await broker('/admin/sweep/evidence', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    const { batches } = await json<{ batches: Record<string, unknown>[] }>(response);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ visited: 2, validated: 1, revoked: 1, not_validated: [{ user_id: gone, outcome: 'revoked' }] });
    expect(JSON.stringify(batches)).not.toContain(healthy!);
    expect((await broker('/admin/sweep/evidence')).status).toBe(401);
  });

  it('POST /admin/sweep requires an API key', async () => {
    const response = await broker('/admin/sweep', { method: 'POST' });
    expect(response.status).toBe(401);
  });
});
