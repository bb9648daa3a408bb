import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAX_TICK_MS } from '../../src/sweep/schedule';
import { SWEEP_CONCURRENCY } from '../../src/sweep/user-directory';
import { abortEveryObject, freshStateForEachTest } from '../support/reset';
import { directory, HOUR, seedUsers } from '../support/seed';
import { twitch } from '../support/twitch';
import { callsTo } from './fault-catalogue';

freshStateForEachTest();

/** Users last validated two hours ago: due now. */
const seedDueUsers = (count: number, firstId: number) => seedUsers(count, firstId, 2 * HOUR);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const alarmAt = () => runInDurableObject(directory(), (_instance, ctx) => ctx.storage.getAlarm());

describe('the sweep crashing half-way', () => {
  it('resumes on its own: every one of 200 users validated, none done before the crash done again', async () => {
    const users = await seedDueUsers(200, 400000);
    // Slow validations keep the batch in flight long enough to crash it in the middle.
    await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: 150, times: -1 });
    const crashed = runDurableObjectAlarm(directory()).catch((error: unknown) => error);
    // Crash once Twitch has answered a few rounds' worth, however slow this machine is today.
    for (let waited = 0; waited < 20_000; waited += 50) {
      if ((await callsTo('/oauth2/validate')).filter((call) => call.status === 200).length >= 2 * SWEEP_CONCURRENCY) break;
      await sleep(50);
    }
    await abortEveryObject();
    expect(await crashed).toBeInstanceOf(Error);
    const doneBeforeCrash = (await callsTo('/oauth2/validate')).filter((call) => call.status === 200).length;
    expect(doneBeforeCrash).toBeGreaterThan(0);
    expect(doneBeforeCrash).toBeLessThan(users.length);

    // The crashed invocation left its recovery alarm behind: the sweep carries on without the cron.
    await twitch.clearFaults();
    for (let guard = 0; guard < 10 && (await directory().stats()).due > 0; guard++) {
      expect(await runDurableObjectAlarm(directory())).toBe(true);
    }
    expect((await directory().stats()).due).toBe(0);

    // Only the validations in flight at the crash are repeated: Twitch answered them, but the
    // vault died before it could store the answer. Users finished before the crash are not redone.
    const answered = (await callsTo('/oauth2/validate')).filter((call) => call.status === 200);
    expect(answered.length).toBeGreaterThanOrEqual(users.length);
    expect(answered.length).toBeLessThanOrEqual(users.length + SWEEP_CONCURRENCY);
    // The evidence the directory keeps holds each user's validation exactly once: the crashed
    // round's record died with it (rows, evidence and cursor commit together) and was redone.
    const evidence = await directory().evidence();
    expect(evidence.reduce((sum, batch) => sum + batch.validated, 0)).toBe(users.length);
    expect(evidence.every((batch) => batch.notValidated.length === 0)).toBe(true);
  }, 60_000);

  it('spaces batches as the schedule says: 300 due users get their next batch a minute apart', async () => {
    const before = Date.now();
    await directory().registerMany(
      Array.from({ length: 300 }, (_, i) => String(500000 + i)),
      before - 2 * HOUR,
    );
    // 50 minutes × 250 / 300 users is 41 minutes, capped at one batch a minute.
    const scheduled = await alarmAt();
    expect(scheduled).toBeGreaterThanOrEqual(before + MAX_TICK_MS);
    expect(scheduled).toBeLessThan(Date.now() + MAX_TICK_MS + 1_000);
  });
});
