import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { API_KEY } from '../test-bindings';
import { broker, json } from '../support/broker';
import { forgetForcedSweepCooldown, freshStateForEachTest } from '../support/reset';
import { directory, seedValidatedGrant } from '../support/seed';
import { twitch } from '../support/twitch';
import { AMBIGUOUS, callsTo, expectRetryHonouredReset, FAULTS, injectFault, RETRYABLE, timed } from './fault-catalogue';
import { atCallPace, atFaultPace, OUTAGE_PACE, useFaultPace } from '../support/call-pace';

freshStateForEachTest();
useFaultPace();

/** Faults while the sweep validates a user's token (POST /admin/sweep and the hourly cron). */

const ON_VALIDATE = { path: '/oauth2/validate' } as const;
const HOUR = 3600_000;
/** The sweep's budget is 20 s (paced); a batch of one user finishes well inside this. */
const BACKGROUND_LIMIT_MS = atFaultPace(22_000);
const USER_ID = '100001';

const vault = (userId: string) => env.USER_VAULT.get(env.USER_VAULT.idFromName(userId));
const adminSweep = async () => json<Record<string, unknown>>(await broker('/admin/sweep', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } }));
const userToken = () => broker(`/token/users/${USER_ID}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

/** A user who logged in two hours ago and is due for validation, with the app token already minted. */
async function seedDueUser(): Promise<void> {
  await seedValidatedGrant(USER_ID, 'streamer_alice', 2 * HOUR);
  // Mint the app token now, so the sweep's app check is a mint-free no-op that faults cannot reach.
  await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } });
  await directory().stats();
}

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '0 * * * *', scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Validate calls made for the user (the app token's own validate is the other one). */
async function userValidateCalls() {
  return (await callsTo(ON_VALIDATE.path)).slice(1);
}

describe('the sweep validating a user while Twitch misbehaves', () => {
  it.each([...RETRYABLE, ...AMBIGUOUS, FAULTS.slow, FAULTS.verySlow].map((c) => [c.name, c] as const))(
    'gets past one %s and counts the user validated',
    async (_name, faultCase) => {
      await seedDueUser();
      // The first validate of the sweep is the app token's; the user's is the second.
      await twitch.inject({ ...ON_VALIDATE, kind: 'slow', delayMs: 0, times: 1 });
      await injectFault(ON_VALIDATE, faultCase, 1);
      const { result: report, elapsedMs } = await timed(adminSweep);
      expect(report).toMatchObject({ validated: 1, failed: 0, revoked: 0 });
      const calls = await userValidateCalls();
      const expectedCalls = faultCase.fault.kind === 'slow' ? 1 : 2;
      expect(calls).toHaveLength(expectedCalls);
      if (faultCase === FAULTS.rateLimited) expectRetryHonouredReset(calls);
      expect(elapsedMs).toBeLessThan(BACKGROUND_LIMIT_MS);
    },
  );

  it('keeps the user through a lasting outage, retries them later, and validates them once Twitch is back', async () => {
    await seedDueUser();
    await twitch.inject({ ...ON_VALIDATE, kind: 'slow', delayMs: 0, times: 1 });
    await injectFault(ON_VALIDATE, FAULTS.status503, -1);
    const { result: report, elapsedMs } = await timed(() => atCallPace(OUTAGE_PACE, adminSweep));
    expect(report).toMatchObject({ validated: 0, failed: 1, revoked: 0 });
    // The 20 s budget at this pace is 2 s: the sweep gives the user up within half as much again.
    expect(elapsedMs).toBeLessThan(30_000 * OUTAGE_PACE);
    expect((await userValidateCalls()).length).toBeGreaterThan(2);

    await twitch.clearFaults();
    expect((await userToken()).status).toBe(200);
    await forgetForcedSweepCooldown(); // an operator forcing the next sweep a minute later
    expect(await adminSweep()).toMatchObject({ validated: 1, failed: 0 });
  }, 60_000);

  it('gives up at once on a 429 whose reset lies past the sweep’s deadline, and keeps the user', async () => {
    await seedDueUser();
    await twitch.inject({ ...ON_VALIDATE, kind: 'slow', delayMs: 0, times: 1 });
    await twitch.inject({ ...ON_VALIDATE, kind: 'status', status: 429, retryAfterSeconds: 60, times: -1 });
    const { result: report, elapsedMs } = await timed(adminSweep);
    expect(report).toMatchObject({ failed: 1, revoked: 0 });
    expect(elapsedMs).toBeLessThan(2_000);
    expect(await userValidateCalls()).toHaveLength(1);
    expect((await userToken()).status).toBe(200);
  });

  it('keeps a user whose token expired when the refresh that follows meets an outage, and serves no dead token', async () => {
    await seedDueUser();
    await twitch.expire({ user_id: USER_ID });
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', kind: 'status', status: 429, retryAfterSeconds: 60, times: -1 });
    expect(await adminSweep()).toMatchObject({ failed: 1, revoked: 0 });
    await twitch.clearFaults();
    // Twitch called the access token invalid and asked for 60 s of quiet: 503 until then, not the dead token.
    const response = await userToken();
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('Retry-After'))).toBeGreaterThan(0);
    const stored = await runInDurableObject(env.USER_VAULT.get(env.USER_VAULT.idFromName(USER_ID)), (_instance, ctx) =>
      ctx.storage.get<{ status: string; grant: unknown }>('user'),
    );
    expect(stored).toMatchObject({ status: 'active', grant: expect.any(Object) });
  });

  it('the hourly cron gets past two 503s in a row and validates the user', async () => {
    await seedDueUser();
    await twitch.inject({ ...ON_VALIDATE, kind: 'slow', delayMs: 0, times: 1 });
    await injectFault(ON_VALIDATE, FAULTS.status503, 2);
    await runCron();
    expect(await userValidateCalls()).toHaveLength(3);
    // Validated just now: the vault will not validate again within the hour.
    const again = await vault(USER_ID).validate();
    expect(again.outcome).toBe('skipped');
    expect(again.lastValidatedAt).toBeGreaterThan(Date.now() - 60_000);
  });
});
