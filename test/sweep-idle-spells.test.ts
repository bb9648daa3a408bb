import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { SWEEP_CYCLE_MS } from '../src/sweep/schedule';
import { USER_DIRECTORY_NAME } from '../src/vault/stubs';
import { API_KEY } from './test-bindings';
import { broker } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { directory, HOUR, storeStandinGrant } from './support/seed';
import { meterStorage, type StatementCursor } from './support/storage-meter';
import { twitch } from './support/twitch';

freshStateForEachTest();

/**
 * Idle spells (a user's token expired and nobody asked for another) cost as little as the
 * guarantees allow: Twitch's hourly validation covers every token in use, an idle user needs none,
 * a user brought back is validated within the hour, and nobody is lost.
 */

/** A user whose access token expired `expiredAgoMs` ago, on their moment in the sweep (as users in use are). */
async function idleUser(userId: string, expiredAgoMs: number): Promise<void> {
  await twitch.addUsers(1, Number(userId));
  await storeStandinGrant(userId, { expiresAt: Date.now() - expiredAgoMs, validatedAt: Date.now() - 5 * HOUR });
  await directory().registerMany([userId], Date.now() - 10 * 60_000);
}

/** Ten minutes on (the refresh's own proof past the skip window), every moment due: one batch validates the user with one call to Twitch. */
async function expectValidatedOnceTenMinutesOn(): Promise<void> {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 });
  try {
    await everyMomentDue();
    const before = (await twitch.counts()).validate;
    const counts = await directory().sweep();
    expect(counts.validated).toBe(1);
    expect((await twitch.counts()).validate - before).toBe(1);
  } finally {
    vi.useRealTimers();
  }
}

/** Counts the calls anyone makes into the directory object while `work` runs, by method. */
async function directoryCallsDuring(work: () => Promise<unknown>): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  const namespace = env.USER_DIRECTORY as unknown as { get: (id: DurableObjectId) => object };
  const get = namespace.get;
  namespace.get = (id: DurableObjectId) =>
    new Proxy(get.call(env.USER_DIRECTORY, id), {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          if (id.equals(env.USER_DIRECTORY.idFromName(USER_DIRECTORY_NAME))) calls[property] = (calls[property] ?? 0) + 1;
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, args) as unknown;
        };
      },
    });
  try {
    await work();
  } finally {
    namespace.get = get;
  }
  return calls;
}

/**
 * Runs one batch inside the directory and returns the rows it wrote for its users: statements on
 * the `users` table and counter-only updates of `sweep_state` (the batch's own position and
 * evidence rows, written whatever it finds, are left out).
 */
async function userRowsWrittenByBatch(): Promise<number> {
  return runInDurableObject(directory(), async (instance, ctx) => {
    const cursors: StatementCursor[] = [];
    const stop = meterStorage(ctx.storage, {
      onKeyValue() {},
      onStatement(cursor, query) {
        if (/^\s*(UPDATE|INSERT INTO) users\b|^\s*UPDATE sweep_state SET (in_use|idle|gone)\b/.test(query)) cursors.push(cursor);
      },
    });
    try {
      await instance.sweep();
    } finally {
      stop();
    }
    return cursors.reduce((sum, cursor) => sum + cursor.rowsWritten, 0);
  });
}

const userRow = (userId: string) =>
  runInDurableObject(directory(), (_instance, ctx) =>
    ctx.storage.sql
      .exec<{ active: number; sealed_access: string | null; copy_generation: number | null }>(
        'SELECT active, sealed_access, copy_generation FROM users WHERE user_id = ?',
        userId,
      )
      .one(),
  );

/** Moves the sweep's cursor a cycle back: every user's moment comes up at the next batch. */
const everyMomentDue = () =>
  runInDurableObject(directory(), (_instance, ctx) => {
    ctx.storage.sql.exec('UPDATE sweep_state SET cursor_at = ?, cursor_user = NULL', Date.now() - SWEEP_CYCLE_MS);
  });

const userToken = (userId: string) => broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });

describe('idle spells', () => {
  it('keeps a user whose token lapsed minutes ago in the sweep, writing nothing, and their new token is validated at their next moment without the vault telling the directory', async () => {
    const userId = '930001';
    await idleUser(userId, 10 * 60_000);
    await everyMomentDue();
    expect(await userRowsWrittenByBatch()).toBe(0);
    expect((await twitch.counts()).validate).toBe(0);
    expect(await directory().stats()).toMatchObject({ users: 1, active: 1, due: 0 });

    // A caller asks: the vault refreshes; the directory is not called at all.
    const directoryCalls = await directoryCallsDuring(async () => expect((await userToken(userId)).status).toBe(200));
    expect(directoryCalls).toEqual({});

    // The user's next moment, after the refresh's own proof has aged past the skip window: the vault
    // hands over the new token and the directory validates it.
    await expectValidatedOnceTenMinutesOn();
    expect((await userRow(userId)).sealed_access).not.toBeNull();
  });

  it('sets aside a user whose token lapsed an hour ago with one row written, and the caller bringing them back hands the directory the new copy', async () => {
    const userId = '930002';
    await idleUser(userId, 2 * HOUR);
    // The copy the directory held of the token that lapsed.
    await runInDurableObject(directory(), (_instance, ctx) => {
      ctx.storage.sql.exec(
        'UPDATE users SET sealed_access = ?, copy_generation = 0, copy_expires_at = ? WHERE user_id = ?',
        'lapsed-copy',
        Date.now() - 2 * HOUR,
        userId,
      );
    });
    await everyMomentDue();
    const idleBatch = await userRowsWrittenByBatch();
    expect(await directory().stats()).toMatchObject({ users: 1, active: 0 });
    expect((await userRow(userId)).active).toBe(2);
    // One row: idle and the copy forgotten together; the counters move with the batch's state row.
    expect(idleBatch).toBe(1);

    expect((await userToken(userId)).status).toBe(200);
    expect(await directory().stats()).toMatchObject({ users: 1, active: 1 });
    const row = await userRow(userId);
    expect(row.active).toBe(1);
    // The copy of the token the caller's refresh made: the next visit need not wake the vault for it.
    expect(row.sealed_access).not.toBeNull();

    const vaultCalls: string[] = [];
    const namespace = env.USER_VAULT as unknown as { get: (id: DurableObjectId) => object };
    const get = namespace.get;
    namespace.get = (id: DurableObjectId) => {
      vaultCalls.push(id.toString());
      return get.call(env.USER_VAULT, id);
    };
    try {
      await expectValidatedOnceTenMinutesOn();
      expect(vaultCalls).toEqual([]);
    } finally {
      namespace.get = get;
    }
  });
});
