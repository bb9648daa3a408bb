import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { COPIES_PER_LANE, OWN_CHECKS_PER_BATCH } from '../src/sweep/schedule';
import { API_KEY, TWITCH } from './test-bindings';
import { broker, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { directory, expectEndedAsAnotherUsers, HOUR, seedGrantOfAnotherUser, seedUsers, vault } from './support/seed';
import { sweepLane } from '../src/vault/stubs';
import { twitch } from './support/twitch';

freshStateForEachTest();

/**
 * The directory validates users' tokens from the sealed copies their vaults handed over, without
 * waking the vaults; anything but a 200 goes back to the vault, which alone refreshes or revokes.
 */

type CopyRow = { user_id: string; sealed_access: string | null; copy_generation: number | null };

/**
 * Counts the calls anyone makes (the directory included) into the objects of `namespace` that
 * `only` picks, by method, by wrapping the platform's binding.
 */
function countCalls<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  only: (id: DurableObjectId) => boolean = () => true,
): Record<string, number> {
  const calls: Record<string, number> = {};
  const binding = namespace as unknown as { get: (id: DurableObjectId) => object };
  const get = binding.get;
  binding.get = (id: DurableObjectId) => {
    if (!only(id)) return get.call(namespace, id);
    return new Proxy(get.call(namespace, id), {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          calls[property] = (calls[property] ?? 0) + 1;
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, args) as unknown;
        };
      },
    });
  };
  const previous = restore;
  restore = () => {
    binding.get = get;
    previous();
  };
  return calls;
}
const countVaultCalls = () => countCalls(env.USER_VAULT);
let restore = () => {};
afterEach(() => {
  restore();
  restore = () => {};
});

/** Makes every user owed a visit now, and runs the directory's alarm until nobody is. */
async function sweepEveryoneNow(): Promise<void> {
  await runInDurableObject(directory(), (_instance, ctx) => {
    ctx.storage.sql.exec('UPDATE users SET next_due_at = ?', Date.now());
  });
  for (let guard = 0; guard < 10 && (await directory().stats()).due > 0; guard++) {
    expect(await runDurableObjectAlarm(directory())).toBe(true);
  }
  expect((await directory().stats()).due).toBe(0);
}

const copies = () =>
  runInDurableObject(directory(), (_instance, ctx) =>
    ctx.storage.sql.exec<CopyRow>('SELECT user_id, sealed_access, copy_generation FROM users ORDER BY user_id').toArray(),
  );
const userToken = (userId: string) => broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

describe('the sweep validating from the copies vaults handed over', () => {
  it('validates every user in use without waking a vault once each vault has handed over its copy', async () => {
    const users = await seedUsers(20, 610000, 2 * HOUR);
    await sweepEveryoneNow();
    // The first visit asked each vault for its copy (no Twitch call there) and validated it here.
    expect((await twitch.counts()).validate).toBe(20);
    expect((await copies()).every((row) => row.sealed_access !== null && /^eyJ/.test(row.sealed_access))).toBe(true);

    const vaultCalls = countVaultCalls();
    await sweepEveryoneNow();
    expect(vaultCalls).toEqual({});
    expect((await twitch.counts()).validate).toBe(40);
    const evidence = await directory().evidence();
    expect(evidence.reduce((sum, batch) => sum + batch.validated, 0)).toBe(40);
    for (const userId of users.slice(0, 3)) expect((await userToken(userId)).status).toBe(200);
  });

  it('spreads a large round over lanes and validates every user once, without waking a vault', async () => {
    await seedUsers(60, 615000, 2 * HOUR);
    await sweepEveryoneNow();
    const vaultCalls = countVaultCalls();
    // Lanes are SweepLane objects.
    const laneCalls = countCalls(env.SWEEP_LANE);
    const before = (await twitch.counts()).validate;
    await sweepEveryoneNow();
    expect(vaultCalls).toEqual({});
    // Rounds of 25: the first ones here (OWN_CHECKS_PER_BATCH calls a batch at most), the rest in chunks of 12 on lanes.
    expect(laneCalls.laneCheck).toBeGreaterThanOrEqual(Math.ceil((60 - OWN_CHECKS_PER_BATCH) / COPIES_PER_LANE));
    expect((await twitch.counts()).validate - before).toBe(60);
    expect((await directory().evidence()).reduce((sum, batch) => sum + batch.validated, 0)).toBe(120);
  });

  it('keeps at most six calls to Twitch in flight per invocation (a lane checking twelve copies makes two waves)', async () => {
    await seedUsers(12, 616000, 2 * HOUR);
    await sweepEveryoneNow();
    const held = await runInDurableObject(directory(), (_instance, ctx) =>
      ctx.storage.sql.exec<{ user_id: string; sealed_access: string }>('SELECT user_id, sealed_access FROM users').toArray(),
    );
    const before = (await twitch.calls()).length;
    await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: 300, times: -1 });
    const checked = await sweepLane(env, 1).laneCheck(held.map((row) => ({ userId: row.user_id, sealedAccessToken: row.sealed_access })));
    expect(checked.map((check) => check.outcome)).toEqual(Array(12).fill('alive'));
    const arrivals = (await twitch.calls())
      .slice(before)
      .map((call) => call.at)
      .sort((a, b) => a - b);
    expect(arrivals).toHaveLength(12);
    // The seventh call leaves only once one of the first six has been answered.
    expect(arrivals[6]! - arrivals[0]!).toBeGreaterThanOrEqual(250);
  });

  it('hands a 401 to the vault, which refreshes once without validating again, and the next copy is the new token', async () => {
    const [userId] = await seedUsers(1, 620000, 2 * HOUR);
    await sweepEveryoneNow();
    const [before] = await copies();
    await twitch.expire({ user_id: userId! });
    const vaultCalls = countVaultCalls();
    await sweepEveryoneNow();
    expect(vaultCalls).toEqual({ validate: 1 });
    const counts = await twitch.counts();
    // One validate for the copy (401), none by the vault, one refresh.
    expect(counts.validate).toBe(2);
    expect(counts.token.refresh_token).toBe(1);
    const [after] = await copies();
    expect(after!.copy_generation).toBe(before!.copy_generation! + 1);
    expect(after!.sealed_access).not.toBe(before!.sealed_access);
    expect((await userToken(userId!)).status).toBe(200);
  });

  it('never revokes a user on a stale copy’s 401 while the vault holds a newer, good token', async () => {
    const [userId] = await seedUsers(1, 630000, 2 * HOUR);
    await sweepEveryoneNow();
    const [stale] = await copies();
    // A login the directory has not heard of yet: the vault holds a newer grant, the old token dies at Twitch.
    const fresh = await twitch.grant(userId!);
    const oldToken = (await (await userToken(userId!)).json<{ access_token: string }>()).access_token;
    await vault(userId!).storeGrant({
      userId: userId!,
      login: `user_${userId}`,
      accessToken: fresh.access_token,
      refreshToken: fresh.refresh_token,
      expiresAt: Date.now() + fresh.expires_in * 1000,
      scopes: fresh.scope,
      validatedAt: Date.now() - 2 * HOUR,
    });
    await twitch.expire({ access_token: oldToken });

    await sweepEveryoneNow();
    const counts = await twitch.counts();
    expect(counts.token.refresh_token).toBe(0);
    expect(await directory().stats()).toMatchObject({ active: 1 });
    const [after] = await copies();
    expect(after!.copy_generation).toBe(stale!.copy_generation! + 1);
    const response = await userToken(userId!);
    expect(response.status).toBe(200);
    expect((await response.json<{ access_token: string }>()).access_token).toBe(fresh.access_token);
  });

  it('keeps a user whose copy meets an outage: the vault retries within its own budget', async () => {
    const [userId] = await seedUsers(1, 640000, 2 * HOUR);
    await sweepEveryoneNow();
    // The copy's one attempt meets a 503; the vault's own validate gets past the next one.
    await twitch.inject({ path: '/oauth2/validate', status: 503, times: 2 });
    const vaultCalls = countVaultCalls();
    await sweepEveryoneNow();
    expect(vaultCalls).toEqual({ validate: 1 });
    expect((await twitch.counts()).validate).toBe(1 + 3);
    expect((await directory().evidence())[0]).toMatchObject({ validated: 1, failed: 0 });
    expect((await userToken(userId!)).status).toBe(200);
  });

  it('asks the vault again once the copy nears expiry, since a caller may have refreshed it', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 200 }); // under the refresh margin at once
    const [userId] = await seedUsers(1, 650000, 2 * HOUR);
    const vaultCalls = countVaultCalls();
    await sweepEveryoneNow();
    // The vault validated itself (no handover of a token about to be refreshed), and the copy stays unused.
    expect(vaultCalls).toEqual({ validate: 1 });
    expect((await twitch.counts()).validate).toBe(1);
    await sweepEveryoneNow();
    expect(vaultCalls).toEqual({ validate: 2 });
    expect((await userToken(userId!)).status).toBe(200);
  });

  it('ends the copy’s use by the expiry Twitch reports when it is earlier than the one stored', async () => {
    const userId = '670000';
    await twitch.addUsers(1, 670000);
    const grant = await twitch.grant(userId);
    // The vault believes the token lives ten hours; Twitch says four (the vault refreshes by Twitch's word).
    await vault(userId).storeGrant({
      userId,
      login: 'user_670000',
      accessToken: grant.access_token,
      refreshToken: grant.refresh_token,
      expiresAt: Date.now() + 10 * HOUR,
      scopes: grant.scope,
      validatedAt: Date.now() - 2 * HOUR,
    });
    await directory().registerMany([userId], Date.now() - 2 * HOUR);
    await sweepEveryoneNow();
    const expiresAt = await runInDurableObject(
      directory(),
      (_instance, ctx) =>
        ctx.storage.sql.exec<{ copy_expires_at: number }>('SELECT copy_expires_at FROM users WHERE user_id = ?', userId).one().copy_expires_at,
    );
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + grant.expires_in * 1000);
    expect(expiresAt).toBeGreaterThan(Date.now() + grant.expires_in * 1000 - 60_000);
  });

  it('forgets the copy when an operator refreshes the token early or the user is dropped', async () => {
    const [refreshed, dropped] = await seedUsers(2, 680000, 2 * HOUR);
    await sweepEveryoneNow();
    expect((await copies()).every((row) => row.sealed_access !== null)).toBe(true);
    expect(await vault(refreshed!).forceRefresh('test')).toMatchObject({ outcome: 'refreshed' });
    expect(await vault(dropped!).drop()).toBe('deleted');
    expect((await copies()).every((row) => row.sealed_access === null)).toBe(true);
    // The next visit asks the vault: the refreshed user's new token is handed over and validated.
    await sweepEveryoneNow();
    const rows = await copies();
    expect(rows.find((row) => row.user_id === refreshed)!.sealed_access).not.toBeNull();
    expect(await directory().stats()).toMatchObject({ active: 1 });
  });

  it('forgets the copy when a new login registers the user, and when the user leaves the sweep', async () => {
    const [kept, gone] = await seedUsers(2, 660000, 2 * HOUR);
    await sweepEveryoneNow();
    await directory().registerMany([kept!], Date.now());
    await twitch.disconnect(gone!);
    await sweepEveryoneNow();
    const rows = await copies();
    // The new login's copy came back with its visit; the revoked user's is gone.
    expect(rows.find((row) => row.user_id === kept)!.sealed_access).not.toBeNull();
    expect(rows.find((row) => row.user_id === gone)!.sealed_access).toBeNull();
  });

  it("follows a user's rename on Twitch, so the console finds them by the new login", async () => {
    await login({ userId: '100001' });
    await sweepEveryoneNow(); // the vault hands its copy over
    const renamed = await fetch(`${TWITCH}/_standin/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ users: [{ id: '100001', login: 'alice_renamed' }] }),
    });
    expect(renamed.status).toBe(200);
    const vaultCalls = countVaultCalls();
    await sweepEveryoneNow(); // validated from the copy: Twitch's answer names the new login

    expect(vaultCalls).toEqual({});
    const found = await broker('/admin/users?q=alice_renamed', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect((await found.json<{ users: { user_id: string }[] }>()).users.map((user) => user.user_id)).toEqual(['100001']);
  });

  it('ends a grant whose copy Twitch says is another user’s token: revoked, not renamed, the tokens revoked at Twitch', async () => {
    const bobs = await seedGrantOfAnotherUser('100001', 'streamer_alice', '100002', 2 * HOUR);
    await sweepEveryoneNow(); // the vault hands its copy over; the directory validates it

    expect((await directory().evidence()).reduce((sum, batch) => sum + batch.revoked, 0)).toBe(1);
    await expectEndedAsAnotherUsers('100001', 'streamer_alice', bobs);
    expect((await copies()).find((row) => row.user_id === '100001')?.sealed_access ?? null).toBeNull();
    // The console does not file the user under the other user's login.
    const found = await broker('/admin/users?q=mod_bob', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect((await found.json<{ users: { user_id: string }[] }>()).users).toEqual([]);
  });

  it('ends such a grant even when its vault proved it alive moments ago: the vault checks again at once', async () => {
    const bobs = await seedGrantOfAnotherUser('100001', 'streamer_alice', '100002', 0);
    await sweepEveryoneNow(); // proven moments ago: the vault skips Twitch, and the directory keeps its copy
    expect((await twitch.counts()).validate).toBe(0);
    expect((await copies()).find((row) => row.user_id === '100001')?.sealed_access).toBeTruthy();

    await sweepEveryoneNow(); // the held copy is validated: another user's token
    await expectEndedAsAnotherUsers('100001', 'streamer_alice', bobs);
  });

  it('forgets the copy of a grant Twitch refused to refresh (revoked), though its access token still validates', async () => {
    await login({ userId: '100001' });
    await sweepEveryoneNow();
    expect((await copies()).find((row) => row.user_id === '100001')?.sealed_access).toBeTruthy();
    await twitch.inject({
      path: '/oauth2/token',
      grantType: 'refresh_token',
      status: 400,
      body: JSON.stringify({ status: 400, message: 'Invalid refresh token' }),
    });
    const refreshed = await broker('/admin/users/100001/refresh', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(refreshed.status).toBeLessThan(500);
    expect((await (await userToken('100001')).json<{ error: string }>()).error).toBe('reauthorization_required');
    expect((await copies()).find((row) => row.user_id === '100001')?.sealed_access ?? null).toBeNull();
  });
});
