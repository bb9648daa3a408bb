import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import type { LanePort } from '../src/sweep/access-copies';
import { runBatch, type VaultPort, VisitTracking } from '../src/sweep/batch-runner';
import { DirectoryRows } from '../src/sweep/directory-rows';
import { SWEEP_BATCH_SIZE } from '../src/sweep/schedule';
import { visitedIn } from '../src/sweep/sweep-counts';
import { freshStateForEachTest } from './support/reset';
import { directory, HOUR } from './support/seed';

freshStateForEachTest();

/**
 * The batch runner over the directory's real rows, with a vault port that answers for 300 vaults:
 * what is tested here is how batches divide the users (all reached, each once, no batch over its
 * size), which 300 real vaults would only slow down. The sweep over real vaults and a real Twitch
 * stand-in is tested end to end in sweep.test.ts and faults/sweep-crash.test.ts.
 */
describe('the batch runner', () => {
  it('reaches every one of 300 due users once, in batches that stay far below the subrequest limit', async () => {
    const userIds = Array.from({ length: 300 }, (_, i) => String(300000 + i));
    await directory().registerMany(userIds, Date.now() - 2 * HOUR);

    const visits = new Map<string, number>();
    let visitsThisBatch = 0;
    const vaults: VaultPort = {
      validate: async (userId) => {
        visits.set(userId, (visits.get(userId) ?? 0) + 1);
        visitsThisBatch++;
        return { outcome: 'validated', lastValidatedAt: Date.now() };
      },
    };
    // Rows registered without a copy: every visit goes to the vault, none to a lane.
    const lanes: LanePort = {
      check: () => Promise.reject(new Error('no copy was handed over, so no lane should be asked')),
    };
    const visitsPerBatch = await runInDurableObject(directory(), async (_instance, ctx) => {
      const deps = { sql: ctx.storage.sql, rows: new DirectoryRows(ctx.storage.sql), config: getConfig(env), vaults, lanes, tracking: new VisitTracking() };
      const perBatch: number[] = [];
      for (let guard = 0; guard < 50; guard++) {
        visitsThisBatch = 0;
        const counts = await runBatch(deps);
        perBatch.push(visitsThisBatch);
        expect(counts.failed).toBe(0);
        if (counts.remaining === 0) break;
      }
      return perBatch;
    });

    expect([...visits.keys()].sort()).toEqual([...userIds].sort());
    expect([...visits.values()].every((count) => count === 1)).toBe(true);
    expect(visitsPerBatch.length).toBeGreaterThan(1);
    expect(Math.max(...visitsPerBatch)).toBeLessThanOrEqual(SWEEP_BATCH_SIZE);
    expect(SWEEP_BATCH_SIZE).toBeLessThan(1000);
    expect(await directory().stats()).toMatchObject({ users: 300, active: 300, due: 0 });
  });
});

describe('the directory over more users than one batch takes', () => {
  it('arms its alarm for the next batch while users are left, and its alarms reach every one of 300 users', async () => {
    const userIds = Array.from({ length: 300 }, (_, i) => String(310000 + i));
    await directory().registerMany(userIds, Date.now() - 2 * HOUR);
    // The vaults hold no grant (only the directory's rows were written): each visit finds the user gone.
    const first = await directory().sweep();
    expect(visitedIn(first)).toBeGreaterThan(0);
    expect(visitedIn(first)).toBeLessThanOrEqual(SWEEP_BATCH_SIZE);
    expect(first.remaining).toBeGreaterThan(0);
    const armed = await runInDurableObject(directory(), (_instance, ctx) => ctx.storage.getAlarm());
    expect(armed).not.toBeNull();

    for (let guard = 0; guard < 10 && (await directory().stats()).due > 0; guard++) {
      expect(await runDurableObjectAlarm(directory())).toBe(true);
    }
    const batches = await directory().evidence();
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.reduce((sum, batch) => sum + batch.visited, 0)).toBe(300);
    expect(await directory().stats()).toMatchObject({ users: 300, due: 0 });
  });
});
