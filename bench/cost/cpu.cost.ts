import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { expect, it } from 'vitest';
import { SWEEP_CYCLE_MS } from '../../src/sweep/schedule';
import { sweepLane } from '../../src/vault/stubs';
import { resetAll } from '../../test/support/reset';
import { directory, seedUsers, vault } from '../../test/support/seed';
import type { CpuMeasurement } from './usage';

/**
 * CPU per invocation, measured inside workerd: a directory batch validating 30 copies itself (its
 * OWN_CHECKS_PER_BATCH) and a lane call validating 12 (COPIES_PER_LANE), the Free plan's 10 ms per
 * invocation in mind. workerd's clocks stand still while code runs and move on I/O (a Spectre
 * mitigation; performance.now() as much as Date.now()), so each run is timed across a timer that
 * fires after it, with Twitch's answers stubbed by a `fetch` that answers at once (no I/O): what
 * the clock moved is the run's own CPU (the real code: unsealing, building requests, parsing
 * answers, the batch's SQL and alarm), plus whatever the machine's other load stole, so the median
 * of many runs is reported. Prints one `CPU_MEASUREMENT` line for bench/cost.ts.
 */

const SMOKE = (env as { BENCH_SMOKE?: string }).BENCH_SMOKE === '1';
const RUNS = SMOKE ? 3 : 40;
const BATCH_COPIES = 30;
const LANE_COPIES = 12;

/** Lets the runtime's clock catch up: a timer is I/O. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The median wall time of `runs` runs of `run`, each timed from a tick to a tick. */
async function medianMs(runs: number, run: () => Promise<unknown>): Promise<{ medianMs: number; samples: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    await tick();
    const startedAt = Date.now();
    await run();
    await tick();
    samples.push(Date.now() - startedAt);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)]!, samples };
}

/** Runs `work` with `fetch` answering Twitch's /oauth2/validate at once, as Twitch would for these tokens. */
async function withStubbedTwitch<T>(tokens: Map<string, string>, work: () => Promise<T>): Promise<T> {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const token = request.headers.get('Authorization')?.replace(/^OAuth /, '') ?? '';
    const userId = tokens.get(token);
    if (!userId) return new Response(JSON.stringify({ status: 401, message: 'invalid access token' }), { status: 401 });
    const body = { client_id: 'stub', login: `user_${userId}`, user_id: userId, scopes: ['user:read:email'], expires_in: 14_000 };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch;
  try {
    return await work();
  } finally {
    globalThis.fetch = realFetch;
  }
}

it('measures the CPU of a directory batch of 30 copies and a lane call of 12, inside workerd', async () => {
  await resetAll();
  const users = await seedUsers(BATCH_COPIES, 900000, 10 * 60_000);
  // Once for real, every moment come: every vault hands over its copy.
  await runInDurableObject(directory(), (_instance, ctx) => {
    ctx.storage.sql.exec('UPDATE sweep_state SET cursor_at = ?, cursor_user = NULL', Date.now() - SWEEP_CYCLE_MS);
  });
  await directory().sweep({ force: false });
  const tokens = new Map<string, string>();
  for (const userId of users) {
    const answer = await vault(userId).getAccessToken();
    if (!answer.ok) throw new Error(`no token for ${userId}`);
    tokens.set(answer.token.accessToken, userId);
  }
  const copies = await runInDurableObject(directory(), (_instance, ctx) =>
    ctx.storage.sql.exec<{ user_id: string; sealed_access: string | null }>('SELECT user_id, sealed_access FROM users').toArray(),
  );
  expect(copies.filter((row) => row.sealed_access !== null)).toHaveLength(BATCH_COPIES);

  // A batch: all 30 users' moments come up at once (the cursor a cycle back); copies held, checked by the directory itself.
  const batch = await runInDurableObject(directory(), async (instance, ctx) =>
    withStubbedTwitch(tokens, () =>
      medianMs(RUNS, async () => {
        ctx.storage.sql.exec('UPDATE sweep_state SET cursor_at = ?, cursor_user = NULL', Date.now() - SWEEP_CYCLE_MS);
        const counts = await instance.sweep();
        if (counts.validated !== BATCH_COPIES) throw new Error(`the batch validated ${counts.validated} users, not ${BATCH_COPIES}`);
      }),
    ),
  );

  // A lane call of 12 copies.
  const chunk = copies.slice(0, LANE_COPIES).map((row) => ({ userId: row.user_id, sealedAccessToken: row.sealed_access! }));
  const lane = await runInDurableObject(sweepLane(env, 1), async (instance) =>
    withStubbedTwitch(tokens, () =>
      medianMs(RUNS, async () => {
        const checked = await instance.laneCheck(chunk);
        if (checked.some((check) => check.outcome !== 'alive')) throw new Error('a lane check did not come back alive');
      }),
    ),
  );

  // An empty run, timed the same way: the floor of the method.
  const floor = await medianMs(RUNS, async () => {});

  const measurement: CpuMeasurement = {
    smoke: SMOKE,
    runs: RUNS,
    batch: { copies: BATCH_COPIES, medianMs: batch.medianMs, maxMs: Math.max(...batch.samples) },
    lane: { copies: LANE_COPIES, medianMs: lane.medianMs, maxMs: Math.max(...lane.samples) },
    floorMs: floor.medianMs,
  };
  console.log(`CPU_MEASUREMENT ${JSON.stringify(measurement)}`);
});
