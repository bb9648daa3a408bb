import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { SWEEP_CYCLE_MS } from '../../src/sweep/schedule';
import { SET_ASIDE_AFTER_MS } from '../../src/vault/timing';
import { broker } from '../../test/support/broker';
import { resetAll } from '../../test/support/reset';
import { directory, HOUR, seedUsers, storeStandinGrant, vault } from '../../test/support/seed';
import { meterStorage } from '../../test/support/storage-meter';
import { twitch } from '../../test/support/twitch';
import { API_KEY } from '../../test/test-bindings';
import type { AlarmRecord, Measurement, Operation, OperationUsage, Usage } from './usage';

/**
 * What the broker's work costs, measured inside workerd on the real code: the sweep over simulated
 * users for two cycles of simulated time (the clock is faked; each user's first visit wakes the
 * vault to hand over its copy, later ones do not), every user due at once (rounds spread over
 * lanes), users going idle and callers bringing them back, and callers' token requests.
 *
 * The platform is metered, not mocked, and every count is tagged with the operation that caused it
 * (bench/cost/usage.ts): each SQL statement (its cursor's `rowsRead` / `rowsWritten`) and each
 * key-value storage call (one row per key; `setAlarm` / `deleteAlarm` one row written) by the code
 * that ran it, read from its stack; each Durable Object request by the method called and, for a
 * vault's visit, what it answered; wall time per request. Nothing is derived by subtraction. Calls
 * made by the test harness itself (no frame of the broker's code on the stack) are seen but never
 * counted. Prints one `COST_MEASUREMENT` JSON line for bench/cost.ts to price.
 */

/** A smoke run (BENCH_SMOKE=1, bench/smoke.ts) measures fewer users over one cycle: its figures mean nothing. */
const SMOKE = (env as { BENCH_SMOKE?: string }).BENCH_SMOKE === '1';
const USERS = SMOKE ? 24 : 120;
const IDLE_USERS = SMOKE ? 8 : 40;
/** Users whose token lapsed a minute ago: visited once while idle, within SET_ASIDE_AFTER_MS, never set aside. */
const SHORT_IDLE_USERS = SMOKE ? 8 : 40;
const CYCLES = SMOKE ? 1 : 2;

/** What the harness is doing: callers' requests are told apart by it (a refresh or a warm read). */
type Phase = 'setup' | 'sweep' | 'burst' | 'idle' | 'refresh' | 'warm' | 'app';
let phase: Phase = 'setup';
let metering = false;
const usage: Usage = {};
const alarmRecords: AlarmRecord[] = [];
/** Alarms the harness fired while metering: each makes runDurableObjectAlarm delete the alarm it runs. */
let alarmsFired = 0;
/** Vault wakes and lane calls since the current alarm began. */
const inAlarm = { vaultWakes: 0, laneCalls: 0 };

/**
 * Wall-clock time, real (Date is faked) and the same in every request's context (performance.now()
 * counts from each request's own origin in workerd). Like every clock there, it moves on I/O only.
 */
const realNow = () => vi.getRealSystemTime();

const emptyOperation = (): OperationUsage => ({
  occurrences: 0,
  doRequests: 0,
  workerRequests: 0,
  rowsRead: 0,
  rowsWritten: 0,
  kvReads: 0,
  kvWrites: 0,
  wallMs: 0,
  twitchCalls: 0,
  logLines: 0,
});

/** Adds `amounts` to what `operation` used (only while metering). */
function charge(operation: Operation, amounts: Partial<OperationUsage>): void {
  if (!metering) return;
  // biome-ignore lint/suspicious/noAssignInExpressions: created on first use
  const into = (usage[operation] ??= emptyOperation());
  for (const [key, n] of Object.entries(amounts) as [keyof OperationUsage, number][]) into[key] += n;
}

/** The files of the UserVault Durable Object (src/vault/user-vault.ts and the modules it is made of). */
const USER_VAULT_MODULES = [
  'user-vault.ts',
  'grant-store.ts',
  'token-lifecycle.ts',
  'sweep-validation.ts',
  'login-grant.ts',
  'grant-ending.ts',
  'vault-console.ts',
  'vault-effects.ts',
].map((file) => `/src/vault/${file}`);

/**
 * The operation whose code ran a storage call, from its stack: the innermost frames of the
 * broker's code name it. No frame of `src/`: the harness's own call.
 */
function operationOf(stack: string): Operation {
  if (!stack.includes('/src/')) return 'harness';
  const has = (name: string) => stack.includes(name);
  if (has('recordLogins') || has('storeGrant') || has('LoginGrant.store') || has('registerMany') || has('registerWithLogin')) return 'login';
  if (has('UserDirectory.rejoin')) return 'bring-back';
  if (has('DirectoryRows.storeCopy')) return 'handover';
  if (has('recordOutcome') && (has('DirectoryRows.leaveSweep') || has('DirectoryRows.setUser') || has('DirectoryRows.clearCopy'))) return 'set-aside';
  if (has('SweepLane.laneCheck')) return 'lane';
  if (USER_VAULT_MODULES.some(has)) {
    if (has('UserVault.validate') || has('SweepValidation.validate')) return 'vault-visit';
    if (has('UserVault.getAccessToken') || has('TokenLifecycle.serve') || has('TokenLifecycle.refresh')) {
      return phase === 'warm' ? 'caller-warm' : 'caller-refresh';
    }
    return 'other';
  }
  if (has('/src/sweep/')) {
    // The directory's own bookkeeping. Outside the sweep phases no batch runs: the statements a
    // rejoin runs after its first await (its alarm) have only the scheduler on their stack.
    // The burst's batches are made by the harness pushing every user due at once (one row written
    // per user): they are measured for their lanes, not priced as batches.
    if (phase === 'burst') return 'burst';
    return phase === 'sweep' || phase === 'idle' ? 'batch' : 'bring-back';
  }
  if (has('app-token')) return phase === 'app' ? 'caller-app' : 'cron';
  // The Worker's own code (routing, its request log): the callers' phases run nothing else.
  return phase === 'refresh' ? 'caller-refresh' : phase === 'warm' ? 'caller-warm' : phase === 'app' ? 'caller-app' : 'other';
}

/** Wraps the runtime's storage and binding methods once, to count what they are billed for, by operation. */
async function installMeter(): Promise<void> {
  // V8 keeps 10 frames by default; the operation is named further down the stack.
  (Error as { stackTraceLimit?: number }).stackTraceLimit = 60;
  const stackNow = () => new Error().stack ?? '';
  await runInDurableObject(directory(), (_instance, ctx) => {
    meterStorage(ctx.storage, {
      onKeyValue(kind, rows) {
        if (metering) charge(operationOf(stackNow()), kind === 'read' ? { rowsRead: rows } : { rowsWritten: rows });
      },
      onStatement(cursor) {
        if (metering) pendingCursors.push({ operation: operationOf(stackNow()), cursor });
      },
    });
  });
  const namespaces = {
    UserVault: env.USER_VAULT,
    UserDirectory: env.USER_DIRECTORY,
    SweepLane: env.SWEEP_LANE,
    AppTokenMinter: env.APP_TOKEN_MINTER,
    OneTimeStore: env.ONE_TIME_STORE,
  };
  for (const [label, namespace] of Object.entries(namespaces)) {
    const get = namespace.get.bind(namespace) as (id: DurableObjectId) => object;
    // The harness drives the unwrapped stubs: runInDurableObject and runDurableObjectAlarm refuse a proxy.
    if (label === 'UserDirectory') directoryStub = () => get(env.USER_DIRECTORY.idFromName('directory')) as DurableObjectStub;
    if (label === 'UserVault') vaultStub = (userId) => get(env.USER_VAULT.idFromName(userId)) as DurableObjectStub;
    (namespace as unknown as { get: unknown }).get = (id: DurableObjectId) =>
      new Proxy(get(id), {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (typeof value !== 'function' || typeof property !== 'string') return value;
          return (...args: unknown[]) => {
            const startedAt = realNow();
            const byHarness = !stackNow().includes('/src/');
            const result = Reflect.apply(value as (...a: unknown[]) => unknown, target, args) as unknown;
            if (label === 'UserVault' && property === 'validate') inAlarm.vaultWakes++;
            if (label === 'SweepLane' && property === 'laneCheck') inAlarm.laneCalls++;
            return Promise.resolve(result).then((answer) => {
              const operation = byHarness ? 'harness' : requestOperation(label, property, answer);
              // A request is one occurrence of the operation it serves, except a vault's visit,
              // which also counts under `vault-visit` (what any visit costs the vault).
              // Callers' requests and the cron are counted once each where they begin (a Worker request).
              const counted = operation === 'caller-refresh' || operation === 'caller-warm' || operation === 'cron';
              charge(operation, { doRequests: 1, wallMs: realNow() - startedAt, occurrences: counted ? 0 : 1 });
              if (label === 'UserVault' && property === 'validate' && !byHarness && operation !== 'vault-visit') charge('vault-visit', { occurrences: 1 });
              return answer;
            });
          };
        },
      });
  }
  const kv = env.APP_TOKEN_CACHE as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, kind] of [
    ['get', 'read'],
    ['put', 'write'],
    ['delete', 'write'],
  ] as const) {
    const original = kv[method]!.bind(kv);
    kv[method] = (...args: unknown[]) => {
      charge(operationOf(stackNow()), kind === 'read' ? { kvReads: 1 } : { kvWrites: 1 });
      return original(...args);
    };
  }
  const log = console.log.bind(console);
  console.log = (...args: unknown[]) => {
    if (metering && !String(args[0]).startsWith('COST_MEASUREMENT')) charge(operationOf(stackNow()), { logLines: 1 });
    log(...args);
  };
}

/** The operation a Durable Object request serves: by the method called and, for a vault's visit, its answer. */
function requestOperation(label: string, method: string, answer: unknown): Operation {
  const key = `${label}.${method}`;
  if (key === 'UserVault.validate') {
    const outcome = (answer as { outcome?: string } | undefined)?.outcome;
    if (outcome === 'idle') {
      // Within the grace the directory writes nothing and keeps the user: a visit, not a set-aside.
      const expiredAt = (answer as { expiredAt?: number }).expiredAt;
      return expiredAt !== undefined && Date.now() - expiredAt < SET_ASIDE_AFTER_MS ? 'idle-visit' : 'set-aside';
    }
    return outcome === 'handed_over' ? 'handover' : 'vault-visit';
  }
  if (key === 'SweepLane.laneCheck') return 'lane';
  if (key === 'UserDirectory.rejoin') return 'bring-back';
  if (key === 'UserDirectory.sweep') return phase === 'burst' ? 'burst' : 'batch';
  if (key === 'UserVault.getAccessToken') return phase === 'warm' ? 'caller-warm' : 'caller-refresh';
  if (label === 'AppTokenMinter') return phase === 'app' ? 'caller-app' : 'cron';
  return 'other';
}

/** SQL cursors are read once their statement has run to the end: their rows are charged after the work. */
const pendingCursors: { operation: Operation; cursor: { rowsRead: number; rowsWritten: number } }[] = [];

/** Runs `work` with the meter on, in `during`. */
async function metered(during: Phase, work: () => Promise<unknown>): Promise<void> {
  phase = during;
  metering = true;
  try {
    await work();
  } finally {
    for (const { operation, cursor } of pendingCursors) charge(operation, { rowsRead: cursor.rowsRead, rowsWritten: cursor.rowsWritten });
    pendingCursors.length = 0;
    metering = false;
    phase = 'setup';
  }
}

async function twitchCounts(): Promise<{ validate: number; refresh: number; clientCredentials: number }> {
  const counts = await twitch.counts();
  return { validate: counts.validate, refresh: counts.token.refresh_token ?? 0, clientCredentials: counts.token.client_credentials ?? 0 };
}

const scheduledAlarm = () => runInDurableObject(directoryStub(), (_instance, ctx) => ctx.storage.getAlarm());
/** The directory's and a vault's stubs, unwrapped (set by installMeter). */
let directoryStub: () => DurableObjectStub = () => directory();
let vaultStub: (userId: string) => DurableObjectStub = (userId) => vault(userId) as unknown as DurableObjectStub;

/** Runs the directory's alarm as the platform would: one Durable Object request, its wall time the batch's. */
async function fireAlarm(): Promise<void> {
  inAlarm.vaultWakes = 0;
  inAlarm.laneCalls = 0;
  const startedAt = realNow();
  expect(await runDurableObjectAlarm(directoryStub())).toBe(true);
  if (metering) alarmsFired++;
  const wallMs = realNow() - startedAt;
  charge(phase === 'burst' ? 'burst' : 'batch', { occurrences: 1, doRequests: 1, wallMs });
  if (metering && phase !== 'burst') alarmRecords.push({ wallMs, vaultWakes: inAlarm.vaultWakes, laneCalls: inAlarm.laneCalls });
}

/** The hourly cron, as the platform runs it: one Worker request (its batch and the app token check count themselves). */
async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '0 * * * *', scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
  charge('cron', { occurrences: 1, workerRequests: 1 });
  // The cron's batch is a batch like an alarm's (its Durable Object request was counted by the stub).
}

/**
 * Advances the faked clock from now for `durationMs`, firing the directory's alarm whenever it is
 * due and the cron at every full hour, as the platform would. Returns the alarms and crons run.
 */
async function runClock(during: Phase, durationMs: number): Promise<{ alarms: number; crons: number }> {
  const end = Date.now() + durationMs;
  let alarms = 0;
  let crons = 0;
  for (;;) {
    const now = Date.now();
    const alarmAt = (await scheduledAlarm()) ?? Infinity;
    const cronAt = now - (now % HOUR) + HOUR;
    const at = Math.max(now, Math.min(alarmAt, cronAt));
    if (at >= end) break;
    vi.setSystemTime(at);
    if (at === cronAt) {
      crons++;
      await metered(during, runCron);
    } else {
      alarms++;
      await metered(during, fireAlarm);
    }
  }
  vi.setSystemTime(end);
  return { alarms, crons };
}

it('measures the broker’s work and its callers’ requests, per operation', async () => {
  await resetAll();
  await installMeter();
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  try {
    // --- The sweep over users in use, on their moments, for CYCLES cycles. ---
    const inUse = await seedUsers(USERS, 700000, 10 * 60_000);
    await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } });
    const before = await twitchCounts();
    const simulatedMs = CYCLES * SWEEP_CYCLE_MS;
    const clock = await runClock('sweep', simulatedMs);
    const afterSweep = await twitchCounts();
    const validations = afterSweep.validate - before.validate;

    // --- Every user due at once, copies held: large rounds spread over lanes. ---
    await runInDurableObject(directoryStub(), (_instance, ctx) => {
      ctx.storage.sql.exec('UPDATE users SET next_due_at = ?', Date.now());
    });
    for (let guard = 0; guard < 20 && (await (directoryStub() as unknown as { stats(): Promise<{ due: number }> }).stats()).due > 0; guard++) {
      await metered('burst', fireAlarm);
    }

    // --- Users going idle: their tokens expired an hour ago (set aside at their moment) or a
    // minute ago (visited, kept in use, nothing written), and nobody asked for another. Both are
    // on their moments and the directory holds the copy of the token that lapsed, as users who
    // were in use are. ---
    const lapsed = async (count: number, firstId: number, expiredAgoMs: number) => {
      const ids = await seedUsers(count, firstId, 10 * 60_000);
      for (const userId of ids) await storeStandinGrant(userId, { expiresAt: Date.now() - expiredAgoMs, validatedAt: Date.now() - 5 * HOUR });
      await runInDurableObject(directoryStub(), (_instance, ctx) => {
        for (const userId of ids) {
          ctx.storage.sql.exec(
            'UPDATE users SET sealed_access = ?, copy_generation = 0, copy_expires_at = ? WHERE user_id = ?',
            'lapsed',
            Date.now() - expiredAgoMs,
            userId,
          );
        }
      });
      return ids;
    };
    const idle = await lapsed(IDLE_USERS, 800000, HOUR);
    const shortIdle = await lapsed(SHORT_IDLE_USERS, 850000, 60_000);
    // A cycle and two minutes: the directory wakes at most once a minute, so the users whose
    // moments fall in a cycle's last minute are visited just after it.
    await runClock('idle', SWEEP_CYCLE_MS + 2 * 60_000);
    expect((await (directoryStub() as unknown as { stats(): Promise<{ active: number }> }).stats()).active).toBe(USERS + SHORT_IDLE_USERS);

    // --- Callers. A request for an idle user: a refresh; for one set aside, it brings the user back with the new copy. ---
    const refreshesBefore = (await twitchCounts()).refresh;
    await metered('refresh', async () => {
      for (const userId of [...idle, ...shortIdle]) {
        expect((await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
        charge('caller-refresh', { occurrences: 1, workerRequests: 1 });
      }
    });
    // Brought back holding the new token's copy: their next visit wakes no vault (no handover).
    const held = await runInDurableObject(
      directoryStub(),
      (_instance, ctx) =>
        ctx.storage.sql
          .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM users WHERE user_id IN (${idle.map(() => '?').join(', ')}) AND copy_generation > 0`, ...idle)
          .one().n,
    );
    expect(held).toBe(IDLE_USERS);
    const refreshes = (await twitchCounts()).refresh - refreshesBefore;
    expect((await (directoryStub() as unknown as { stats(): Promise<{ active: number }> }).stats()).active).toBe(USERS + IDLE_USERS + SHORT_IDLE_USERS);
    // A warm request for a user in use (no refresh), and for the app token (isolate memory / KV).
    await metered('warm', async () => {
      for (const userId of inUse) {
        expect((await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
        charge('caller-warm', { occurrences: 1, workerRequests: 1 });
      }
    });
    await metered('app', async () => {
      for (let i = 0; i < 100; i++) {
        expect((await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
        charge('caller-app', { occurrences: 1, workerRequests: 1 });
      }
    });
    // Calls to Twitch, by the operation that makes them: copies validated by batches and lanes, refreshes by callers.
    metering = true;
    charge('batch', { twitchCalls: validations });
    charge('caller-refresh', { twitchCalls: refreshes });
    charge('cron', { twitchCalls: clock.crons });
    metering = false;

    // Storage: one vault (grant and audit trail) and the directory, per user.
    const vaultBytes = await runInDurableObject(vaultStub(inUse[0]!), (_instance, ctx) => ctx.storage.sql.databaseSize);
    const directoryBytes = await runInDurableObject(directoryStub(), (_instance, ctx) => ctx.storage.sql.databaseSize);

    // The harness's own calls were seen and none was counted: runDurableObjectAlarm deleted the
    // alarm it ran each time, and every one of those rows is the harness's. No figure is negative.
    expect(alarmsFired).toBeGreaterThan(0);
    expect(usage.harness?.rowsWritten ?? 0).toBe(alarmsFired);
    for (const [operation, used] of Object.entries(usage)) {
      for (const [figure, n] of Object.entries(used)) expect(n, `${operation}.${figure}`).toBeGreaterThanOrEqual(0);
    }

    const measurement: Measurement = {
      smoke: SMOKE,
      users: USERS,
      simulatedHours: simulatedMs / HOUR,
      clock,
      validations,
      usage,
      alarms: alarmRecords,
      storage: { vaultBytes, directoryBytesPerUser: directoryBytes / (USERS + IDLE_USERS + SHORT_IDLE_USERS) },
    };
    console.log(`COST_MEASUREMENT ${JSON.stringify(measurement)}`);
  } finally {
    vi.useRealTimers();
  }
});
