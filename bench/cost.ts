/**
 * What the broker's own work costs, in dollars: runs bench/cost/measure.cost.ts inside workerd
 * (the real sweep and token code over simulated users, with the platform metered), turns its
 * counts into per-user-hour and per-request figures, prices them with Cloudflare's published
 * prices (bench/prices.ts; where and when they were read below) at 1k, 10k and 100k users on the
 * Paid plan, and finds the most users whose overhead fits in half of every Free daily quota. At
 * scale it runs the directory's own rule (rounds, `splitChecks` between its own calls and lanes,
 * six calls in flight per invocation) with Twitch answering in --latency-ms, and one vault wake
 * per token handed over (TOKEN_HOURS).
 *
 *   npm run bench:cost [-- --latency-ms 120] [-- --profile daily|always]
 *
 * Its last line is `cost: $X/month at 100k users (paid), free plan holds N users`, X being the
 * overhead above the $5 base for the chosen usage profile (default `daily`; see PROFILES).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { GB_PER_OBJECT, PRICES } from './prices';
import {
  CONNECTIONS_PER_INVOCATION,
  MAX_TICK_MS,
  MIN_TICK_MS,
  OWN_CHECKS_PER_BATCH,
  splitChecks,
  SWEEP_CYCLE_MS,
  sweepBatchSize,
  sweepConcurrency,
} from '../src/sweep/schedule';
import type { Usage } from './cost/usage';
import { parseCli } from '../scripts/cli-args';

/**
 * Cloudflare's prices and Free quotas, read 2026-11-29:
 * - Durable Objects: developers.cloudflare.com/durable-objects/platform/pricing/ (page "Last updated
 *   Jun 19, 2026"): requests 1 million/month + $0.15/million (Free 100,000/day; RPC calls and alarm
 *   invocations each count); duration 400,000 GB-s/month + $12.50/million GB-s (Free 13,000 GB-s/day;
 *   wall time while active or unable to hibernate, at 128 MB); SQLite rows read 25 billion/month +
 *   $0.001/million (Free 5 million/day); rows written 50 million/month + $1.00/million (Free
 *   100,000/day; each setAlarm is a row written; key-value calls are rows); stored data 5 GB-month +
 *   $0.20/GB-month (Free 5 GB).
 * - Workers KV: developers.cloudflare.com/kv/platform/pricing/: reads 10 million/month +
 *   $0.50/million (Free 100,000/day), writes 1 million/month + $5.00/million (Free 1,000/day).
 * - Workers: developers.cloudflare.com/workers/platform/pricing/ (Standard, as quoted on
 *   developers.cloudflare.com/workflows/reference/pricing/): requests 10 million/month +
 *   $0.30/million (Free 100,000/day); the broker's own Worker invocations are the hourly cron only.
 * - Limits: developers.cloudflare.com/workers/platform/limits/: subrequests 50/request Free,
 *   10,000/request Paid; 6 simultaneous outgoing connections per invocation; CPU 10 ms Free.
 * - Workers Logs: developers.cloudflare.com/workers/observability/logs/workers-logs/#pricing (and
 *   the volume pricing from 2026-12-01), as bench/prices.ts quotes them.
 */
const DAYS_PER_MONTH = 30;
const HOURS_PER_MONTH = 24 * DAYS_PER_MONTH;

/**
 * How users use the broker. Only a user with a token in use costs hourly validations: a token
 * that expired with nobody asking for another is set aside (idle) until a caller's refresh brings
 * the user back. Twitch user tokens live about four hours.
 * - `daily`: each user's token is fetched once a day, so it is in use about 4 h a day, then idle
 *   (one idle spell a day: one visit to set them aside, one call to bring them back).
 * - `always`: every user's token is in use every hour (a bot acting for every user all the time).
 */
const PROFILES = {
  daily: { inUseShare: 4 / 24, idleSpellsPerDay: 1 },
  always: { inUseShare: 1, idleSpellsPerDay: 0 },
} as const;

const USAGE = `
Usage: npm run bench:cost -- [--latency-ms N] [--profile daily|always]

What the broker's own work costs in dollars: measures the real sweep and token code inside workerd
(about a minute), prices it with Cloudflare's published prices at 1k, 10k and 100k users on the
Paid plan, and finds the most users whose overhead fits in half of every Free daily quota.

Options:
  --latency-ms N   ms per Twitch call at scale, 0 to 10000 (default: 120)
  --profile NAME   daily (each user's token in use 4 hours a day) or always (every hour) (default: daily)
  -h, --help       print this and exit

Environment: none read.
Exit code: 0 done; 1 the measurement failed; 2 bad arguments.
`;

const { values: flags } = parseCli({
  script: 'bench:cost',
  usage: USAGE,
  rules: { 'latency-ms': { min: 0, max: 10_000 }, profile: { oneOf: Object.keys(PROFILES) } },
  options: {
    'latency-ms': { type: 'string', default: '120' },
    profile: { type: 'string', default: 'daily' },
  },
});
const LATENCY_MS = Number(flags['latency-ms']);
const profileName = flags.profile as keyof typeof PROFILES;

interface Measurement {
  latencyMs: number;
  users: number;
  simulatedHours: number;
  clock: { alarms: number; crons: number };
  /** Vault wakes during the sweep phase: each user's first visit, the vault handing over its copy. */
  visits: number;
  batches: number;
  /** Copies the directory held after the sweep phase (one row written each). */
  copiesHeld: number;
  sweep: Usage;
  /** Every user due at once with copies held: large rounds, spread over lanes. */
  burst: { users: number; usage: Usage };
  idle: { users: number; visitsEstimate: number; usage: Usage; inUseUsers: number; durationMs: number };
  rejoin: { requests: number; usage: Usage };
  userRequest: { requests: number; usage: Usage };
  appRequest: { requests: number; usage: Usage };
  storage: { vaultBytes: number; directoryBytesPerUser: number };
}

/**
 * Hours a user access token lives (Twitch: about four; the stand-in's 14,400 s). The directory
 * validates a copy until the refresh margin, then wakes the vault once for the next token: one
 * vault wake (and one row written) per token, however many hours it is in use.
 */
const TOKEN_HOURS = 4;
/** Whether wrangler.toml leaves Workers Logs' invocation logs on (one log event per invocation). */
const INVOCATION_LOGS = !/^\s*invocation_logs\s*=\s*false/m.test(readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8'));

function measure(): Measurement {
  console.log('measuring inside workerd (bench/cost/measure.cost.ts, about a minute)…');
  const run = spawnSync('npx', ['vitest', 'run', '--config', 'bench/cost/vitest.config.ts'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const line = `${run.stdout}\n${run.stderr}`.split('\n').find((l) => l.includes('COST_MEASUREMENT '));
  if (run.status !== 0 || !line) {
    console.error(run.stdout.slice(-4000), run.stderr.slice(-4000));
    throw new Error('the measurement failed');
  }
  return JSON.parse(line.slice(line.indexOf('COST_MEASUREMENT ') + 'COST_MEASUREMENT '.length)) as Measurement;
}

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

/** Resource use per month (or per day, /30) of the broker's own work. */
interface Monthly {
  doRequests: number;
  gbSeconds: number;
  rowsRead: number;
  rowsWritten: number;
  kvReads: number;
  kvWrites: number;
  workerRequests: number;
  storageGb: number;
  twitchCalls: number;
  /** Workers Logs events: each invocation's own log, and each console line. */
  logEvents: number;
}

/** Unit costs derived from the measurement. */
function unitCosts(m: Measurement) {
  const s = m.sweep;
  const calls = m.clock.alarms + m.clock.crons;
  // Every validation of a user is one Twitch call by the directory or a lane (each cron adds the app token's).
  const checksPerUserHour = (s.twitchCalls - m.clock.crons) / (m.users * m.simulatedHours);
  // A vault woken to hand over its copy answers without calling Twitch: its wall time is its own overhead.
  const vaultWakeMs = (s.wallMs.UserVault ?? 0) / Math.max(1, m.visits);
  const perBatch = {
    // Less the vault record read and the copy row written on each handover, priced per handover below.
    rowsRead: Math.max(0, s.rowsRead - m.visits) / calls,
    rowsWritten: Math.max(0, s.rowsWritten - m.copiesHeld) / calls,
    // The directory's alarm beyond waiting for the vaults (Twitch answers at once here).
    overheadMs: Math.max(0, ((s.wallMs['UserDirectory.alarm'] ?? 0) - (s.wallMs.UserVault ?? 0)) / m.clock.alarms),
  };
  const b = m.burst.usage;
  // Lanes are directory objects holding no users (`sweepLane`): their calls are `laneCheck`.
  const laneCalls = b.requests['UserDirectory.laneCheck'] ?? 0;
  const lane = { calls: laneCalls, overheadMs: laneCalls > 0 ? (b.wallMs['UserDirectory.laneCheck'] ?? 0) / laneCalls : 0 };
  const perCron = {
    doRequests: 2, // the minter's check and the directory's batch
    twitchCalls: 1,
    kvWrites: s.kvWrites / m.clock.crons,
    minterMs: s.wallMs.AppTokenMinter! / m.clock.crons,
  };
  // Idle spells: the visit that sets a user aside (no Twitch call), and the call that brings them back.
  // The idle phase also visited the users in use: take their share of the sweep's use out.
  const cycleShare = m.idle.durationMs / 3600_000 / m.simulatedHours;
  const idle = m.idle.usage;
  const perIdleSpell = {
    doRequests: 2,
    rowsWritten: (idle.rowsWritten - s.rowsWritten * cycleShare) / m.idle.users + (m.rejoin.usage.rowsWritten / m.rejoin.requests - 2),
    rowsRead: Math.max(0, (idle.rowsRead - s.rowsRead * cycleShare) / m.idle.users) + m.rejoin.usage.rowsRead / m.rejoin.requests,
    wallMs: (m.rejoin.usage.wallMs.UserDirectory ?? 0) / m.rejoin.requests + 5,
  };
  const logLinesPerBatch = s.logLines / calls;
  return { checksPerUserHour, vaultWakeMs, perBatch, lane, perCron, perIdleSpell, logLinesPerBatch };
}

type Units = ReturnType<typeof unitCosts>;

/**
 * One batch of `checks` validations, `handoverShare` of them after waking the vault for its copy,
 * run by the directory's own rule (rounds, two flows at once, `splitChecks`): its wall time, its
 * lane calls and their wall time, with Twitch answering in `latencyMs` and six calls in flight per
 * invocation. Vault wakes and retries after a failed check are rare and left out.
 */
function batchOf(u: Units, checks: number, roundSize: number, handoverShare: number, latencyMs: number) {
  let ownLeft = OWN_CHECKS_PER_BATCH;
  let directoryMs = u.perBatch.overheadMs;
  let laneCalls = 0;
  let laneMs = 0;
  const step = (count: number) => {
    const { own, lanes } = splitChecks(Math.round(count), ownLeft);
    ownLeft -= own;
    laneCalls += lanes.length;
    let waves = Math.ceil(own / CONNECTIONS_PER_INVOCATION);
    for (const chunk of lanes) {
      const chunkWaves = Math.ceil(chunk / CONNECTIONS_PER_INVOCATION);
      laneMs += chunkWaves * latencyMs + u.lane.overheadMs;
      waves = Math.max(waves, chunkWaves);
    }
    return waves * latencyMs;
  };
  for (let done = 0; done < checks; done += roundSize) {
    const size = Math.min(roundSize, checks - done);
    const handedOver = size * handoverShare;
    // Two flows at once: copies held checked; vaults hand over theirs, checked on arrival.
    const held = step(size - handedOver);
    directoryMs += handedOver >= 0.5 ? Math.max(held, u.vaultWakeMs + step(handedOver)) : held;
  }
  return { directoryMs, laneCalls, laneMs };
}

/** The broker's own monthly use at `users` users with `profile`, Twitch answering in `latencyMs`. */
function monthly(m: Measurement, users: number, profile: (typeof PROFILES)[keyof typeof PROFILES], latencyMs: number): Monthly {
  const u = unitCosts(m);
  const inUse = Math.max(1, users * profile.inUseShare);
  const checksPerHour = inUse * u.checksPerUserHour;
  const handoversPerHour = inUse / TOKEN_HOURS;
  // Batches: spaced by the schedule while users wait, one a minute at most when few are due.
  const spacingMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, (SWEEP_CYCLE_MS / 2) * (sweepBatchSize(inUse) / inUse)));
  const batchesPerHour = Math.min(checksPerHour, 3600_000 / spacingMs);
  const batch = batchOf(u, checksPerHour / batchesPerHour, sweepConcurrency(inUse), Math.min(1, handoversPerHour / checksPerHour), latencyMs);
  const spellsPerMonth = users * profile.idleSpellsPerDay * DAYS_PER_MONTH;
  const h = HOURS_PER_MONTH;
  const perHour = {
    doRequests: batchesPerHour * (1 + batch.laneCalls) + handoversPerHour + u.perCron.doRequests,
    wallMs: batchesPerHour * (batch.directoryMs + batch.laneMs) + handoversPerHour * u.vaultWakeMs + u.perCron.minterMs,
  };
  return {
    doRequests: h * perHour.doRequests + spellsPerMonth * u.perIdleSpell.doRequests,
    gbSeconds: (GB_PER_OBJECT * (h * perHour.wallMs + spellsPerMonth * u.perIdleSpell.wallMs)) / 1000,
    rowsRead: h * (handoversPerHour * 1 + batchesPerHour * u.perBatch.rowsRead) + spellsPerMonth * u.perIdleSpell.rowsRead,
    rowsWritten: h * (handoversPerHour * 1 + batchesPerHour * u.perBatch.rowsWritten) + spellsPerMonth * u.perIdleSpell.rowsWritten,
    kvReads: 0,
    kvWrites: h * u.perCron.kvWrites,
    workerRequests: h,
    storageGb: (users * (m.storage.vaultBytes + m.storage.directoryBytesPerUser)) / 1e9,
    twitchCalls: h * (checksPerHour + u.perCron.twitchCalls),
    // The sweep's console lines; with invocation logs on, each Durable Object request and the cron add theirs.
    logEvents:
      h * (batchesPerHour * u.logLinesPerBatch + (INVOCATION_LOGS ? perHour.doRequests + 1 : 0)) + (INVOCATION_LOGS ? spellsPerMonth * u.perIdleSpell.doRequests : 0),
  };
}

/** Dollars above the $5 base for a month's use on the Paid plan, item by item. */
function paidDollars(use: Monthly): Record<string, number> {
  const over = (amount: number, price: { includedMonthly: number; perMillion: number }) => (Math.max(0, amount - price.includedMonthly) / 1e6) * price.perMillion;
  return {
    'DO requests': over(use.doRequests, PRICES.doRequests),
    'DO duration': over(use.gbSeconds, PRICES.doGbSeconds),
    'rows read': over(use.rowsRead, PRICES.rowsRead),
    'rows written': over(use.rowsWritten, PRICES.rowsWritten),
    storage: Math.max(0, use.storageGb - PRICES.storageGb.includedMonthly) * PRICES.storageGb.perGbMonth,
    'KV writes': over(use.kvWrites, PRICES.kvWrites),
    'Worker requests': over(use.workerRequests, PRICES.workerRequests),
    'Workers Logs': over(use.logEvents, PRICES.logEvents),
  };
}

/** A day's overhead as a share of each Free daily quota (storage: of the total). */
function freeShares(use: Monthly): Record<string, number> {
  const day = (n: number) => n / DAYS_PER_MONTH;
  return {
    'DO requests': day(use.doRequests) / PRICES.doRequests.freeDaily,
    'DO duration': day(use.gbSeconds) / PRICES.doGbSeconds.freeDaily,
    'rows read': day(use.rowsRead) / PRICES.rowsRead.freeDaily,
    'rows written': day(use.rowsWritten) / PRICES.rowsWritten.freeDaily,
    'KV reads': day(use.kvReads) / PRICES.kvReads.freeDaily,
    'KV writes': day(use.kvWrites) / PRICES.kvWrites.freeDaily,
    'Worker requests': day(use.workerRequests) / PRICES.workerRequests.freeDaily,
    'log events': day(use.logEvents) / PRICES.logEvents.freeDaily,
    storage: use.storageGb / PRICES.storageGb.freeTotal,
  };
}

/** Whether a day's overhead fits in half of every Free daily quota. */
const fitsHalfOfFree = (use: Monthly): boolean => Object.values(freeShares(use)).every((share) => share <= 0.5);

/** The quota a day's overhead uses most of, and how much. */
function tightestFreeQuota(use: Monthly): string {
  const [name, share] = Object.entries(freeShares(use)).sort((a, b) => b[1] - a[1])[0]!;
  return `${name} ${(share * 100).toFixed(0)}%`;
}

/** The most users whose overhead fits in half of every Free daily quota. */
function freePlanHolds(m: Measurement, profile: (typeof PROFILES)[keyof typeof PROFILES]): number {
  let low = 0;
  let high = 10_000_000;
  while (high - low > 10) {
    const mid = Math.floor((low + high) / 2);
    if (fitsHalfOfFree(monthly(m, mid, profile, LATENCY_MS))) low = mid;
    else high = mid;
  }
  return Math.floor(low / 100) * 100;
}

const money = (n: number) => `$${n.toFixed(2)}`;
const m = measure();
const u = unitCosts(m);
const perRequest = (entry: { requests: number; usage: Usage }) =>
  `${(sum(entry.usage.requests) / entry.requests).toFixed(2)} DO requests, ${(entry.usage.rowsRead / entry.requests).toFixed(1)} rows read, ${(entry.usage.rowsWritten / entry.requests).toFixed(1)} rows written, ${(entry.usage.kvReads / entry.requests).toFixed(2)} KV reads, ${(entry.usage.twitchCalls / entry.requests).toFixed(2)} Twitch calls`;

console.log(`\nMeasured in workerd: ${m.users} users in use for ${m.simulatedHours.toFixed(1)} simulated hours, Twitch answering in ${m.latencyMs} ms`);
console.log(`  per user-hour in use: ${u.checksPerUserHour.toFixed(3)} Twitch validations by the directory or a lane (0 DO requests, 0 rows written), and ${(1 / TOKEN_HOURS).toFixed(2)} vault wakes (one per ~${TOKEN_HOURS} h token, to hand over its copy: 1 DO request, 1 row written, ${u.vaultWakeMs.toFixed(1)} ms of the vault, no Twitch call); ${(m.sweep.logLines / m.users / m.simulatedHours).toFixed(2)} console lines`);
console.log(`  measured: ${m.visits} vault wakes for ${m.copiesHeld} copies handed over, ${m.sweep.twitchCalls - m.clock.crons} validations over ${m.clock.alarms + m.clock.crons} batches; every user at once: ${m.burst.usage.requests['UserDirectory.laneCheck'] ?? 0} lane calls (${u.lane.overheadMs.toFixed(1)} ms each beyond Twitch's answers), ${m.burst.usage.requests['UserVault.validate'] ?? 0} vault wakes for ${m.burst.users} users`);
console.log(`  per directory batch: ${u.perBatch.rowsRead.toFixed(1)} rows read, ${u.perBatch.rowsWritten.toFixed(1)} rows written (cursor, evidence, alarms), ${u.perBatch.overheadMs.toFixed(1)} ms beyond Twitch's answers, ${u.logLinesPerBatch.toFixed(2)} console lines; per hourly cron: 2 DO requests, 1 Twitch call, ${u.perCron.kvWrites.toFixed(0)} KV write`);
console.log(`  per idle spell (set aside, then brought back): ${u.perIdleSpell.doRequests} DO requests, ${u.perIdleSpell.rowsWritten.toFixed(1)} rows written`);
console.log(`  storage: ${(m.storage.vaultBytes / 1024).toFixed(1)} KiB per vault, ${m.storage.directoryBytesPerUser.toFixed(0)} bytes per user in the directory`);
console.log(`\nPer caller request (what callers pay for, not overhead):`);
console.log(`  GET /token/users/:id, warm: ${perRequest(m.userRequest)}`);
console.log(`  GET /token/app, warm: ${perRequest(m.appRequest)}`);
console.log(`  GET /token/users/:id bringing an idle user back (refresh + rejoin): ${perRequest(m.rejoin)}`);

console.log(`\nOverhead above the $${PRICES.baseMonthly} Paid base, per month (prices read ${PRICES.readOn}):`);
console.log('| profile | Twitch | users | DO requests | GB-s | rows written | log events | $ requests | $ duration | $ logs | $ other | $ total |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const [name, profile] of Object.entries(PROFILES)) {
  const rows: [number, number][] = [[1_000, LATENCY_MS], [10_000, LATENCY_MS], [100_000, LATENCY_MS]];
  if (LATENCY_MS !== 400) rows.push([100_000, 400]);
  for (const [users, latencyMs] of rows) {
    const use = monthly(m, users, profile, latencyMs);
    const dollars = paidDollars(use);
    const total = sum(dollars);
    const other = Math.max(0, total - dollars['DO requests']! - dollars['DO duration']! - dollars['Workers Logs']!);
    console.log(
      `| ${name} | ${latencyMs} ms | ${users.toLocaleString('en')} | ${(use.doRequests / 1e6).toFixed(2)} M | ${(use.gbSeconds / 1e3).toFixed(0)} k | ${(use.rowsWritten / 1e6).toFixed(2)} M | ${(use.logEvents / 1e6).toFixed(2)} M | ${money(dollars['DO requests']!)} | ${money(dollars['DO duration']!)} | ${money(dollars['Workers Logs']!)} | ${money(other)} | ${money(total)} |`,
    );
  }
}
for (const [name, profile] of Object.entries(PROFILES)) {
  const holds = freePlanHolds(m, profile);
  const tightest = tightestFreeQuota(monthly(m, holds, profile, LATENCY_MS));
  console.log(`free plan, ${name}: ${holds.toLocaleString('en')} users within half of every daily quota (tightest: ${tightest} of the daily quota)`);
  const shares = Object.entries(freeShares(monthly(m, holds, profile, LATENCY_MS))).map(([quota, share]) => `${quota} ${(share * 100).toFixed(1)}%`);
  console.log(`  shares of each daily quota there: ${shares.join(', ')}`);
}
{
  // From 2026-12-01 logs are priced by volume; at ~1 KB per event (an assumption: invocation logs carry their metadata) the same events come to:
  const use = monthly(m, 100_000, PROFILES.always, LATENCY_MS);
  const gb = use.logEvents / 1e6;
  const o = PRICES.observabilityFrom20261201;
  console.log(`Workers Logs: invocation logs ${INVOCATION_LOGS ? 'on' : 'off'} (wrangler.toml)`);
  console.log(`Workers Logs from 2026-12-01, always, 100,000 users: ~${gb.toFixed(0)} GB a month at ~1 KB an event (${o.includedMonthlyGb} GB included: $${(Math.max(0, gb - o.includedMonthlyGb) * o.perGb).toFixed(2)})`);
}
const profile = PROFILES[profileName];
const headline = sum(paidDollars(monthly(m, 100_000, profile, LATENCY_MS)));
console.log(`(profile ${profileName}: ${(profile.inUseShare * 100).toFixed(0)}% of users with a token in use at any time, ${profile.idleSpellsPerDay} idle spell(s) a day)`);
console.log(`cost: $${headline.toFixed(2)}/month at 100k users (paid), free plan holds ${freePlanHolds(m, profile)} users`);
