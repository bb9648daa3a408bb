import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { getConfig } from '../src/config';
import { seal } from '../src/crypto/seal';
import type { AuditEvent } from '../src/vault/audit-trail';
import type { UserRecord } from '../src/vault/grant-store';
import type { NewGrant } from '../src/vault/vault-types';
import { API_KEY } from './test-bindings';
import { broker } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { HOUR, standinGrant, vault } from './support/seed';
import { rowsWrittenDuring } from './support/storage-meter';
import { twitch } from './support/twitch';

freshStateForEachTest();

/**
 * Rows written are billed, and bound the Free plan for callers who refresh often (docs/cost.md):
 * a vault writes its record and its audit trail as one stored value, so a change of state and the
 * entry that records it cost one row.
 */

/** The keys a vault's record and audit trail have been stored under: `user`, and `audit` before they were one value. */
const RECORD_KEYS = ['user', 'audit'];

const userToken = (userId: string) => broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

/** A login's grant for `userId` (known to Twitch), its access token said to expire `expiresInMs` from now. */
const newGrant = async (userId: string, expiresInMs: number): Promise<NewGrant> =>
  (await standinGrant(userId, { expiresAt: Date.now() + expiresInMs, validatedAt: Date.now() })).newGrant;

/**
 * Waits until the vault's alarm has delivered what was queued for the app (a login's
 * notification), so nothing it writes lands in a later measurement.
 */
const queuesDrained = (userId: string) =>
  vi.waitFor(
    async () => {
      await runDurableObjectAlarm(vault(userId));
      const pending = await runInDurableObject(vault(userId), async (_instance, ctx) => {
        return (await ctx.storage.list({ prefix: 'notify:' })).size + ((await ctx.storage.getAlarm()) === null ? 0 : 1);
      });
      if (pending > 0) throw new Error(`${pending} notification(s) or alarm pending`);
    },
    { timeout: 10_000, interval: 20 },
  );

/** Stores a new user's grant and waits for the alarm its login set. Returns the user's session version. */
async function storedUser(userId: string, expiresInMs: number): Promise<number> {
  await twitch.addUsers(1, Number(userId));
  const { sessionVersion } = await vault(userId).storeGrant(await newGrant(userId, expiresInMs));
  await queuesDrained(userId);
  return sessionVersion;
}

/** A user record as a vault stores it, with `grant`'s tokens sealed and its access token expired. */
async function sealedRecord(userId: string, grant: { access_token: string; refresh_token: string; scope: string[] }): Promise<UserRecord> {
  const keys = getConfig(env).tokenKeys;
  return {
    userId,
    login: `user_${userId}`,
    status: 'active',
    sessionVersion: 1,
    revokedAt: null,
    grant: {
      sealedAccessToken: await seal(grant.access_token, `user:${userId}:access`, keys),
      sealedRefreshToken: await seal(grant.refresh_token, `user:${userId}:refresh`, keys),
      expiresAt: Date.now() - 1_000,
      scopes: grant.scope,
      obtainedAt: Date.now() - HOUR,
      lastValidatedAt: Date.now() - HOUR,
      generation: 2,
    },
  };
}

const eventNames = async (userId: string) => (await vault(userId).events())?.map((entry) => entry.event);

describe('rows a vault writes', () => {
  it("writes one row for a caller's refresh: the new grant and its audit entry together", async () => {
    await storedUser('940001', -1_000);
    const rows = await rowsWrittenDuring(vault('940001'), async () => expect((await userToken('940001')).status).toBe(200));
    expect((await twitch.counts()).token.refresh_token).toBe(1);
    expect(rows).toBe(1);
    expect(await eventNames('940001')).toEqual(['logged_in', 'refreshed']);
  });

  it('writes the record and its audit entry as one row for a login, a forced validation, a session revocation, a revoke, a drop and a logout', async () => {
    const userId = '940002';
    await twitch.addUsers(1, Number(userId));
    const recordRows = (work: () => Promise<unknown>) => rowsWrittenDuring(vault(userId), work, { keys: RECORD_KEYS });
    let sessionVersion = 0;
    const logIn = async () => {
      // Twitch's tokens live 4 hours: the vault is told 3, so a validation finds the record changed.
      const grant = await newGrant(userId, 3 * HOUR);
      expect(await recordRows(async () => ({ sessionVersion } = await vault(userId).storeGrant(grant)))).toBe(1);
    };

    await logIn();
    expect(await recordRows(() => vault(userId).validate({ force: true }))).toBe(1);
    expect(await recordRows(() => vault(userId).revokeSessions(sessionVersion))).toBe(1);
    expect(await recordRows(() => vault(userId).revokedAtTwitch('user.authorization.revoke'))).toBe(1);
    await logIn();
    expect(await recordRows(() => vault(userId).drop())).toBe(1);
    await logIn();
    expect(await recordRows(() => vault(userId).logout(sessionVersion))).toBe(1);

    expect(await eventNames(userId)).toEqual(['logged_in', 'validated', 'sessions_revoked', 'revoked', 'logged_in', 'deleted', 'logged_in', 'logged_out']);
    expect(await vault(userId).summary()).toMatchObject({ status: 'logged_out' });
  });

  it('writes one row for an audit entry alone (a failed refresh) and one for a record change alone (a validation Twitch corrects)', async () => {
    const userId = '940003';
    // Two minutes left: inside the refresh margin, still served.
    await storedUser(userId, 2 * 60_000);
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 });
    expect(await rowsWrittenDuring(vault(userId), async () => expect((await userToken(userId)).status).toBe(200))).toBe(1);
    expect(await eventNames(userId)).toEqual(['logged_in', 'refresh_failed']);

    // Twitch says the token lives 4 hours, not two minutes: the record takes Twitch's word, the trail is left as it is.
    expect(await rowsWrittenDuring(vault(userId), () => vault(userId).validate({ recheck: true }))).toBe(1);
    expect((await vault(userId).summary())?.expiresAt).toBeGreaterThan(Date.now() + 3 * HOUR);
    expect(await eventNames(userId)).toEqual(['logged_in', 'refresh_failed']);
  });

  it('keeps how many revocations at Twitch failed in the logout entry, written with the record before Twitch is asked', async () => {
    const userId = '940004';
    const sessionVersion = await storedUser(userId, HOUR);
    // Refused outright (no retries): both revocations fail and go to the alarm's queue.
    await twitch.inject({ path: '/oauth2/revoke', status: 403, times: -1 });
    expect(await vault(userId).logout(sessionVersion)).toBe('logged_out');
    const entry = { event: 'logged_out', detail: '2 revocation(s) at Twitch failed; retrying' };
    expect((await vault(userId).events())?.at(-1)).toMatchObject(entry);
    const stored = await runInDurableObject(vault(userId), (_instance, ctx) => ctx.storage.get<{ status: string; audit: AuditEvent[] }>('user'));
    expect(stored?.status).toBe('logged_out');
    expect(stored?.audit.at(-1)).toMatchObject(entry);
  });

  it('moves a vault stored as two keys (record `user`, trail `audit`) to one on its first write, keeping the trail, and writes one row from then on', async () => {
    const userId = '940005';
    await twitch.addUsers(1, Number(userId));
    // Each refresh hands out a token inside the refresh margin: every request refreshes.
    await twitch.configure({ userAccessTokenTtlSeconds: 120 });
    const grant = await twitch.grant(userId);
    const trail: AuditEvent[] = [
      { at: Date.now() - 3 * HOUR, event: 'logged_in' },
      { at: Date.now() - 2 * HOUR, event: 'refresh_failed', detail: 'twitch 503: unavailable' },
      { at: Date.now() - HOUR, event: 'refreshed' },
    ];
    // What deployments before this one left: the record under `user`, the trail under `audit`,
    // written before the vault has read anything.
    const record = await sealedRecord(userId, grant);
    await runInDurableObject(vault(userId), (_instance, ctx) => ctx.storage.put({ user: record, audit: trail }));
    const stored = () =>
      runInDurableObject(vault(userId), async (_instance, ctx) => ({
        keys: [...(await ctx.storage.list()).keys()],
        trail: (await ctx.storage.get<{ audit?: AuditEvent[] }>('user'))?.audit,
      }));

    // Read as it was; reading writes nothing.
    expect(await vault(userId).events()).toEqual(trail);
    expect((await stored()).keys).toEqual(['audit', 'user']);

    // The first write: the one value, and the old key deleted (a one-time extra row).
    expect(await rowsWrittenDuring(vault(userId), async () => expect((await userToken(userId)).status).toBe(200))).toBe(2);
    const refreshed = [...trail, expect.objectContaining({ event: 'refreshed' })];
    expect(await stored()).toEqual({ keys: ['user'], trail: refreshed });
    expect(await vault(userId).events()).toEqual(refreshed);

    // From then on, one row per refresh.
    expect(await rowsWrittenDuring(vault(userId), async () => expect((await userToken(userId)).status).toBe(200))).toBe(1);
    expect((await twitch.counts()).token.refresh_token).toBe(2);
    expect(await eventNames(userId)).toEqual(['logged_in', 'refresh_failed', 'refreshed', 'refreshed', 'refreshed']);
  });

  it('keeps what a rolled-back deployment appended under the old `audit` key: merged by time on load, the key gone on the next write', async () => {
    const userId = '940006';
    await twitch.addUsers(1, Number(userId));
    const record = await sealedRecord(userId, await twitch.grant(userId));
    const moved: AuditEvent = { at: Date.now() - HOUR, event: 'logged_in' };
    // The trail inside the record, and what a rolled-back deployment appended apart since.
    const appendedApart: AuditEvent = { at: Date.now() - 1_000, event: 'sessions_revoked' };
    await runInDurableObject(vault(userId), (_instance, ctx) => ctx.storage.put({ user: { ...record, audit: [moved] }, audit: [appendedApart] }));
    expect(await vault(userId).events()).toEqual([moved, appendedApart]);

    expect(await vault(userId).revokeSessions(record.sessionVersion)).toBe('sessions_revoked');
    const stored = await runInDurableObject(vault(userId), async (_instance, ctx) => ({
      keys: [...(await ctx.storage.list()).keys()].filter((key) => RECORD_KEYS.includes(key)),
      trail: (await ctx.storage.get<{ audit: AuditEvent[] }>('user'))?.audit.map((entry) => entry.event),
    }));
    expect(stored).toEqual({ keys: ['user'], trail: ['logged_in', 'sessions_revoked', 'sessions_revoked'] });
  });
});
