import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { SWEEP_CYCLE_MS } from '../../src/sweep/schedule';
import { broker } from '../../test/support/broker';
import { resetAll } from '../../test/support/reset';
import { directory, seedUsers, vault } from '../../test/support/seed';
import { twitch } from '../../test/support/twitch';
import { API_KEY } from '../../test/test-bindings';
import type { Usage } from './usage';

/**
 * What the broker's own work costs, measured inside workerd on the real code: the sweep over
 * simulated users for two cycles of simulated time (the clock is faked; each user's first visit
 * wakes the vault to hand over its copy, later ones do not), every user due at once (rounds spread
 * over lanes), users going idle and coming back, and callers' token requests. The platform is
 * metered, not mocked: the runtime's storage methods and the Durable Object stubs are wrapped to
 * count what Cloudflare bills (Durable Object requests, SQLite rows read and written from each
 * cursor's `rowsRead` / `rowsWritten`, key-value storage calls as rows, KV operations, wall time
 * of each call), and the Twitch stand-in counts outbound calls. Prints one `COST_MEASUREMENT`
 * JSON line for bench/cost.ts to price.
 */

/** A smoke run (BENCH_SMOKE=1, bench/smoke.ts) measures fewer users over one cycle: its figures mean nothing. */
const SMOKE = (env as { BENCH_SMOKE?: string }).BENCH_SMOKE === '1';
const USERS = SMOKE ? 24 : 120;
const IDLE_USERS = SMOKE ? 8 : 40;
const CYCLES = SMOKE ? 1 : 2;
/**
 * Twitch answers at once here: what the vault and the directory spend beyond Twitch's answer is
 * measured, and bench/cost.ts adds the answer's latency (120 ms, 400 ms) to each call.
 */
const LATENCY_MS = 0;
const HOUR = 3600_000;


const emptyUsage = (): Usage => ({ requests: {}, alarms: 0, rowsRead: 0, rowsWritten: 0, kvReads: 0, kvWrites: 0, wallMs: {}, twitchCalls: 0, logLines: 0 });
let usage = emptyUsage();
/** The directory's stub without the meter, for the harness (runInDurableObject refuses a wrapped stub). */
let harnessDirectory: () => DurableObjectStub = () => directory();
let harnessVault: (userId: string) => DurableObjectStub = (userId) => vault(userId) as unknown as DurableObjectStub;
let metering = false;
const cursors: { rowsRead: number; rowsWritten: number }[] = [];

/** Wraps the runtime's storage and binding methods once, to count what they are billed for. */
async function installMeter(): Promise<void> {
  await runInDurableObject(directory(), (_instance, ctx) => {
    const sqlPrototype = Object.getPrototypeOf(ctx.storage.sql) as { exec: (...args: unknown[]) => { rowsRead: number; rowsWritten: number } };
    const exec = sqlPrototype.exec;
    sqlPrototype.exec = function (this: unknown, ...args: unknown[]) {
      const cursor = exec.apply(this, args);
      if (metering) cursors.push(cursor);
      return cursor;
    };
    const storagePrototype = Object.getPrototypeOf(ctx.storage) as Record<string, (...args: unknown[]) => unknown>;
    // Key-value methods are stored in a hidden SQLite table: one row per key; setAlarm is one row written.
    for (const [method, kind] of [['get', 'read'], ['put', 'write'], ['delete', 'write'], ['setAlarm', 'write'], ['deleteAlarm', 'write']] as const) {
      const original = storagePrototype[method]!;
      storagePrototype[method] = function (this: unknown, ...args: unknown[]) {
        if (metering) {
          const keys = Array.isArray(args[0]) ? args[0].length : 1;
          if (kind === 'read') usage.rowsRead += keys;
          else usage.rowsWritten += keys;
        }
        return original.apply(this, args);
      };
    }
  });
  const namespaces = { UserVault: env.USER_VAULT, UserDirectory: env.USER_DIRECTORY, AppTokenMinter: env.APP_TOKEN_MINTER, OneTimeStore: env.ONE_TIME_STORE };
  for (const [label, namespace] of Object.entries(namespaces)) {
    const get = namespace.get.bind(namespace) as (id: DurableObjectId) => object;
    if (label === 'UserVault') harnessVault = (userId) => get(env.USER_VAULT.idFromName(userId)) as DurableObjectStub;
    if (label === 'UserDirectory') {
      const id = env.USER_DIRECTORY.idFromName('directory');
      harnessDirectory = () => get(id) as DurableObjectStub;
    }
    (namespace as unknown as { get: unknown }).get = (id: DurableObjectId) =>
      new Proxy(get(id), {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (typeof value !== 'function' || typeof property !== 'string') return value;
          return (...args: unknown[]) => {
            const startedAt = performance.now();
            if (metering) usage.requests[`${label}.${property}`] = (usage.requests[`${label}.${property}`] ?? 0) + 1;
            const result = Reflect.apply(value as (...a: unknown[]) => unknown, target, args) as unknown;
            return Promise.resolve(result).finally(() => {
              if (metering) {
                const elapsed = performance.now() - startedAt;
                usage.wallMs[label] = (usage.wallMs[label] ?? 0) + elapsed;
                usage.wallMs[`${label}.${property}`] = (usage.wallMs[`${label}.${property}`] ?? 0) + elapsed;
              }
            });
          };
        },
      });
  }
  const kv = env.APP_TOKEN_CACHE as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, kind] of [['get', 'read'], ['put', 'write'], ['delete', 'write']] as const) {
    const original = kv[method]!.bind(kv);
    kv[method] = (...args: unknown[]) => {
      if (metering) usage[kind === 'read' ? 'kvReads' : 'kvWrites']++;
      return original(...args);
    };
  }
  const log = console.log.bind(console);
  console.log = (...args: unknown[]) => {
    if (metering) usage.logLines++;
    log(...args);
  };
}

/** Runs `work` with the meter on and returns what it used. */
async function metered(work: () => Promise<unknown>): Promise<Usage> {
  usage = emptyUsage();
  cursors.length = 0;
  const twitchBefore = await twitchCallCount();
  metering = true;
  try {
    await work();
  } finally {
    metering = false;
  }
  for (const cursor of cursors) {
    usage.rowsRead += cursor.rowsRead;
    usage.rowsWritten += cursor.rowsWritten;
  }
  usage.twitchCalls = (await twitchCallCount()) - twitchBefore;
  return usage;
}

async function twitchCallCount(): Promise<number> {
  const counts = await twitch.counts();
  return counts.validate + Object.values(counts.token).reduce((sum, n) => sum + n, 0);
}

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '0 * * * *', scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const scheduledAlarm = () => runInDurableObject(harnessDirectory(), (_instance, ctx) => ctx.storage.getAlarm());

/**
 * Advances the faked clock from now for `durationMs`, firing the directory's alarm whenever it is
 * due and the cron at every full hour, as the platform would. Returns the alarms and crons run.
 */
async function runClock(durationMs: number, meter: (work: () => Promise<unknown>) => Promise<void>): Promise<{ alarms: number; crons: number }> {
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
      await meter(runCron);
    } else {
      alarms++;
      await meter(async () => {
        const startedAt = performance.now();
        expect(await runDurableObjectAlarm(harnessDirectory())).toBe(true);
        usage.alarms++;
        usage.wallMs['UserDirectory.alarm'] = (usage.wallMs['UserDirectory.alarm'] ?? 0) + (performance.now() - startedAt);
      });
    }
  }
  vi.setSystemTime(end);
  return { alarms, crons };
}

/** Adds `from` into `into`. */
function add(into: Usage, from: Usage): void {
  for (const [key, n] of Object.entries(from.requests)) into.requests[key] = (into.requests[key] ?? 0) + n;
  for (const [key, n] of Object.entries(from.wallMs)) into.wallMs[key] = (into.wallMs[key] ?? 0) + n;
  into.alarms += from.alarms;
  into.rowsRead += from.rowsRead;
  into.rowsWritten += from.rowsWritten;
  into.kvReads += from.kvReads;
  into.kvWrites += from.kvWrites;
  into.twitchCalls += from.twitchCalls;
  into.logLines += from.logLines;
}

it('measures the broker’s own work and its callers’ requests', async () => {
  await resetAll();
  await installMeter();
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  try {
    // --- The sweep over users in use, on their moments, for two cycles. ---
    const inUse = await seedUsers(USERS, 700000, 10 * 60_000);
    await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } });
    if (LATENCY_MS > 0) await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: LATENCY_MS, times: -1 });
    const sweep = emptyUsage();
    const simulatedMs = CYCLES * SWEEP_CYCLE_MS;
    const clock = await runClock(simulatedMs, async (work) => add(sweep, await metered(work)));
    const visits = sweep.requests['UserVault.validate'] ?? 0;
    const batches = (await directory().evidence(10_000)).length;
    // Copies the vaults handed over (one row each): the first visit of each user.
    const copiesHeld = await runInDurableObject(harnessDirectory(), (_instance, ctx) =>
      ctx.storage.sql.exec<{ n: number }>('SELECT COUNT(sealed_access) AS n FROM users').one().n,
    );

    // --- Every user due at once, copies held: large rounds spread over lanes. ---
    await runInDurableObject(harnessDirectory(), (_instance, ctx) => {
      ctx.storage.sql.exec('UPDATE users SET next_due_at = ?', Date.now());
    });
    const burst = await metered(async () => {
      for (let guard = 0; guard < 20 && (await (harnessDirectory() as unknown as { stats(): Promise<{ due: number }> }).stats()).due > 0; guard++) {
        const startedAt = performance.now();
        expect(await runDurableObjectAlarm(harnessDirectory())).toBe(true);
        usage.alarms++;
        usage.wallMs['UserDirectory.alarm'] = (usage.wallMs['UserDirectory.alarm'] ?? 0) + (performance.now() - startedAt);
      }
    });

    // --- Users going idle: their tokens expired hours ago and nobody asked for another. ---
    const idle = await seedUsers(IDLE_USERS, 800000, 5 * HOUR);
    for (const userId of idle) {
      const grant = await twitch.grant(userId);
      await vault(userId).storeGrant({
        userId, login: `idle_${userId}`, accessToken: grant.access_token, refreshToken: grant.refresh_token,
        expiresAt: Date.now() - HOUR, scopes: grant.scope, validatedAt: Date.now() - 5 * HOUR,
      });
    }
    await directory().registerMany(idle, Date.now() - 10 * 60_000);
    const idleSpell = emptyUsage();
    // A cycle and two minutes: the directory wakes at most once a minute, so the users whose
    // moments fall in a cycle's last minute are visited just after it.
    const idleMs = SWEEP_CYCLE_MS + 2 * 60_000;
    await runClock(idleMs, async (work) => add(idleSpell, await metered(work)));
    const idleVisits = (idleSpell.requests['UserVault.validate'] ?? 0) - (sweep.requests['UserVault.validate'] ?? 0) * (idleMs / simulatedMs);
    expect((await directory().stats()).active).toBe(USERS);

    // --- Callers. A request for an idle user: refresh, then the user rejoins the sweep. ---
    const rejoin = await metered(async () => {
      for (const userId of idle) expect((await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    });
    expect((await directory().stats()).active).toBe(USERS + IDLE_USERS);
    // A warm request for a user in use (no refresh), and for the app token (isolate memory / KV).
    const userRequest = await metered(async () => {
      for (const userId of inUse) expect((await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    });
    const appRequest = await metered(async () => {
      for (let i = 0; i < 100; i++) expect((await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    });

    // Storage: one vault (grant and audit trail) and the directory, per user.
    const vaultBytes = await runInDurableObject(harnessVault(inUse[0]!), (_instance, ctx) => ctx.storage.sql.databaseSize);
    const directoryBytes = await runInDurableObject(harnessDirectory(), (_instance, ctx) => ctx.storage.sql.databaseSize);

    console.log(
      `COST_MEASUREMENT ${JSON.stringify({
        latencyMs: LATENCY_MS,
        users: USERS,
        simulatedHours: simulatedMs / HOUR,
        clock,
        visits,
        batches,
        copiesHeld,
        sweep,
        burst: { users: USERS, usage: burst },
        idle: { users: IDLE_USERS, visitsEstimate: idleVisits, usage: idleSpell, inUseUsers: USERS, durationMs: idleMs },
        rejoin: { requests: IDLE_USERS, usage: rejoin },
        userRequest: { requests: USERS, usage: userRequest },
        appRequest: { requests: 100, usage: appRequest },
        storage: { vaultBytes, directoryBytesPerUser: directoryBytes / (USERS + IDLE_USERS) },
      })}`,
    );
  } finally {
    vi.useRealTimers();
  }
});
