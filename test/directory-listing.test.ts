import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { complianceReport } from '../src/admin/compliance';
import { listDirectory, migrateDirectoryLogins } from '../src/sweep/directory-listing';
import { SWEEP_CYCLE_MS } from '../src/sweep/schedule';
import { freshStateForEachTest } from './support/reset';
import { directory } from './support/seed';

/**
 * The console's listing at 100,000 users: one statement fills the directory, then every kind of
 * page must read about one page of SQLite rows (the cursor's rowsRead), wherever it starts.
 */

freshStateForEachTest();

const USERS = 100_000;
const FIRST_ID = 10_000_000;

/** 100,000 directory rows as logins would have left them (`viewer_<n>`), in one statement; no vault, no alarm. */
async function fillDirectory(): Promise<void> {
  await runInDurableObject(directory(), async (_instance, ctx) => {
    ctx.storage.sql.exec(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO users (user_id, next_due_at, active, forced, slot, login)
       SELECT CAST(${FIRST_ID} + i AS TEXT), 0, 1, 0, (i * 7919) % ${SWEEP_CYCLE_MS}, 'viewer_' || i FROM n`,
      USERS,
    );
  });
}

describe('the directory listing at 100,000 users', () => {
  it('reads one page of rows per page, for the full list, a prefix search and an id, from the start or deep inside', async () => {
    await fillDirectory();
    const figures: Record<string, number> = {};
    const listing = async (label: string, query: Parameters<typeof listDirectory>[1]) => {
      const page = await directory().listUsers(query);
      figures[label] = page.rowsRead;
      return page;
    };

    const first = await listing('full list, first page', { search: null, after: null, limit: 25 });
    expect(first.entries).toHaveLength(25);
    expect(first.entries[0]).toMatchObject({ userId: String(FIRST_ID), login: 'viewer_0', sweep: 'in_use' });
    const deep = await listing('full list, page at 90,000', { search: null, after: String(FIRST_ID + 90_000), limit: 25 });
    expect(deep.entries[0]!.userId).toBe(String(FIRST_ID + 90_001));

    // viewer_9, viewer_90…, viewer_9999x: 11,111 logins start with viewer_9.
    const search = await listing('prefix viewer_9, first page', { search: { loginPrefix: 'viewer_9', userId: null }, after: null, limit: 25 });
    expect(search.entries.map((entry) => entry.login)).toEqual(search.entries.map((entry) => entry.login).sort());
    expect(search.entries.every((entry) => entry.login!.startsWith('viewer_9'))).toBe(true);
    const later = await listing('prefix viewer_9, page after viewer_99', {
      search: { loginPrefix: 'viewer_9', userId: null },
      after: `viewer_99:${FIRST_ID + 99}`,
      limit: 25,
    });
    expect(later.entries[0]!.login).toBe('viewer_990');
    const narrow = await listing('prefix viewer_99999 (one match)', { search: { loginPrefix: 'viewer_99999', userId: null }, after: null, limit: 25 });
    expect(narrow.entries.map((entry) => entry.login)).toEqual(['viewer_99999']);
    expect(narrow.next).toBeNull();
    const byId = await listing('exact id', { search: { loginPrefix: '', userId: String(FIRST_ID + 4242) }, after: null, limit: 25 });
    expect(byId.entries.map((entry) => entry.login)).toEqual(['viewer_4242']);
    const none = await listing('prefix with no match', { search: { loginPrefix: 'zzz', userId: null }, after: null, limit: 25 });
    expect(none.entries).toEqual([]);

    console.log(`rows read per page at ${USERS} users: ${JSON.stringify(figures)}`);
    // A page of 25 reads its rows and the one beyond (to know whether a next page exists), plus a seek step.
    for (const [label, rowsRead] of Object.entries(figures)) expect(rowsRead, label).toBeLessThanOrEqual(30);
  });

  it('adds the login column and its index to a directory made before logins were kept, keeping its rows', async () => {
    await runInDurableObject(directory(), async (_instance, ctx) => {
      const sql = ctx.storage.sql;
      // Back to the table as it was: no login column, no index.
      sql.exec('DROP INDEX users_by_login');
      sql.exec('ALTER TABLE users DROP COLUMN login');
      sql.exec("INSERT INTO users (user_id, next_due_at, active, forced, slot) VALUES ('100001', 0, 1, 0, 5)");
      migrateDirectoryLogins(sql);
      migrateDirectoryLogins(sql); // twice is harmless
      expect(
        sql
          .exec<{ name: string }>('PRAGMA table_info(users)')
          .toArray()
          .map((column) => column.name),
      ).toContain('login');
      expect(sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'users_by_login'").toArray()).toHaveLength(1);
      const page = listDirectory(sql, { search: null, after: null, limit: 10 });
      expect(page.entries).toMatchObject([{ userId: '100001', login: null, sweep: 'in_use' }]);
    });
  });
});

describe('the compliance verdict', () => {
  it("claims a share only once the hour's batches covered a whole cycle, counting listed failures against it", async () => {
    const now = Date.now();
    await runInDurableObject(directory(), async (_instance, ctx) => {
      const sql = ctx.storage.sql;
      sql.exec('UPDATE sweep_state SET in_use = 4');
      const batch = (number: number, startedAt: number, from: number, to: number, notValidated: string) =>
        sql.exec(
          `INSERT INTO sweep_evidence (ring, batch, started_at, finished_at, moments_from, moments_to, visited, validated, refreshed, revoked, failed, skipped, not_validated)
           VALUES (?, ?, ?, ?, ?, ?, 2, 1, 0, 0, ?, 0, ?)`,
          number,
          number,
          startedAt,
          startedAt + 1000,
          from,
          to,
          notValidated === '' ? 0 : 1,
          notValidated,
        );
      // Two batches within the hour covering 30 + 24 minutes of moments, back to back; one failure.
      batch(1, now - 50 * 60_000, now - 80 * 60_000, now - 50 * 60_000, '');
      batch(2, now - 10 * 60_000, now - 50 * 60_000, now - 26 * 60_000, '10000003:failed');
    });
    const full = await complianceReport(env, 1, now);
    expect(full.lastHour.complete).toBe(true);
    expect(full.lastHour.shareValidated).toBe(0.75);
    expect(full.lastHour.notValidated).toEqual([{ userId: '10000003', outcome: 'failed' }]);

    // An hour later, with only the second batch left in the window, the cycle is not covered.
    const partial = await complianceReport(env, 1, now + 45 * 60_000);
    expect(partial.lastHour.batches).toBe(1);
    expect(partial.lastHour.complete).toBe(false);
    expect(partial.lastHour.shareValidated).toBeNull();
  });
});
