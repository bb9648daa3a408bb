/**
 * What the broker costs an operator, in dollars, callers included: runs bench/cost/measure.cost.ts
 * inside workerd (the real sweep and token code over simulated users, the platform metered and
 * every count tagged with the operation that caused it), turns its counts into figures per
 * operation (a batch, a handover, a lane call, an idle spell, a caller's refresh or warm request),
 * prices them with Cloudflare's published prices (bench/prices.ts; where and when they were read
 * below) at 1k, 10k and 100k users on the Paid plan for each usage profile (PROFILES) with Twitch
 * answering in 120 and 400 ms, and finds the most users whose use fits in half of every Free daily
 * quota. At scale it runs the directory's own rule (rounds, `splitChecks` between its own calls and
 * lanes, six calls in flight per invocation), and one vault wake per token handed over (TOKEN_HOURS).
 *
 *   npm run bench:cost [-- --latency-ms 120] [-- --profile daily|hourly|spells|spells3h|always]
 *
 * --profile picks whose details are printed; the headline is the worst profile at 120 or 400 ms.
 * Its last line is `cost: $X/month at 100k users (paid, worst profile, callers included), free plan
 * holds N users`: X above the $5 base, N the fewest users any profile fits in half of every Free
 * daily quota (callers' requests included).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { GB_PER_OBJECT, PRICES } from './prices';
import { announceSmoke } from './smoke';
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
import type { CpuMeasurement, Measurement, Operation, OperationUsage } from './cost/usage';
import { SET_ASIDE_AFTER_MS } from '../src/vault/timing';
import { parseCli } from '../scripts/cli-args';

/**
 * Cloudflare's prices and Free quotas. Read 2026-11-29, and checked again for this version against
 * the pages below (as stored by the docs search, 2026-12):
 * - Durable Objects: developers.cloudflare.com/durable-objects/platform/pricing/: requests
 *   1 million/month + $0.15/million (Free 100,000/day; HTTP requests, RPC sessions (each RPC method
 *   call on a stub is one), WebSocket messages and alarm invocations); duration 400,000 GB-s/month
 *   + $12.50/million GB-s (Free 13,000 GB-s/day; wall time while active or unable to hibernate; the
 *   page's own example bills 128 MB as 128 MB / 1 GB = 0.128 GB); SQLite rows read 25 billion/month
 *   + $0.001/million (Free 5 million/day); rows written 50 million/month + $1.00/million (Free
 *   100,000/day; each setAlarm is a row written; key-value calls are rows); stored data
 *   5 GB-month + $0.20/GB-month (Free 5 GB). The SQLite row and storage figures were not in the
 *   stored copy of the page; D1's pricing page, which the Durable Objects page mirrors, has the same.
 * - Workers KV: developers.cloudflare.com/kv/platform/pricing/ and /kv/platform/limits/: reads
 *   10 million/month + $0.50/million (Free 100,000/day), writes 1 million/month + $5.00/million
 *   (Free 1,000/day).
 * - Workers (Standard, as quoted on developers.cloudflare.com/workflows/reference/pricing/):
 *   requests 10 million/month + $0.30/million (Free 100,000/day, developers.cloudflare.com/workers/
 *   platform/limits/); CPU 30 million ms/month + $0.02/million ms (Free: 10 ms per invocation).
 *   Every caller's request is a Worker request, and so is each hourly cron.
 * - Limits: developers.cloudflare.com/workers/platform/limits/: subrequests 50/request Free,
 *   10,000/request Paid; 6 simultaneous outgoing connections per invocation; CPU 10 ms Free.
 * - Workers Logs: developers.cloudflare.com/workers/observability/logs/workers-logs/#pricing (and
 *   the volume pricing from 2026-12-01), as bench/prices.ts quotes them.
 */
const DAYS_PER_MONTH = 30;
const HOURS_PER_MONTH = 24 * DAYS_PER_MONTH;

/**
 * How callers use the broker, per user. Only a user with a token in use costs hourly validations:
 * a token that expired with nobody asking for another is idle. Twitch user tokens live about four
 * hours (TOKEN_HOURS). An idle spell shorter than SET_ASIDE_AFTER_MS costs a vault visit at each
 * of the user's moments it spans and nothing else; a longer one also sets the user aside and the
 * caller's refresh brings them back (see `spellCosts`). Callers' requests:
 * - `daily`: each user's token fetched once a day: in use ~4 h, then idle 20 h; one request a day,
 *   which refreshes, and one idle spell.
 * - `hourly`: a dashboard or scheduler asking the broker every hour (a fresh process each time, so
 *   no client-side cache): always in use, 24 requests a day, 6 of which refresh (a 4-hour token
 *   is fetched fresh, then served warm three times).
 * - `spells`: fetched every 5 hours: in use 4 h of every 5, each request a refresh after an idle
 *   hour: 4.8 requests, refreshes and idle spells a day.
 * - `spells3h`: fetched every 7 hours: in use 4 h of every 7, each request a refresh after 3 idle
 *   hours, long enough to be set aside every time: 3.4 requests, refreshes and spells a day.
 * - `always`: a long-running bot holding every user's token with the client package's cache
 *   (client/token-cache.ts lets go two minutes before expiry, inside the broker's refresh margin):
 *   always in use, 6 requests a day, each a refresh.
 */
const PROFILES = {
  daily: { inUseShare: 4 / 24, idleSpellsPerDay: 1, idleHoursPerSpell: 20, refreshesPerDay: 1, warmRequestsPerDay: 0 },
  hourly: { inUseShare: 1, idleSpellsPerDay: 0, idleHoursPerSpell: 0, refreshesPerDay: 6, warmRequestsPerDay: 18 },
  spells: { inUseShare: 4 / 5, idleSpellsPerDay: 24 / 5, idleHoursPerSpell: 1, refreshesPerDay: 24 / 5, warmRequestsPerDay: 0 },
  spells3h: { inUseShare: 4 / 7, idleSpellsPerDay: 24 / 7, idleHoursPerSpell: 3, refreshesPerDay: 24 / 7, warmRequestsPerDay: 0 },
  always: { inUseShare: 1, idleSpellsPerDay: 0, idleHoursPerSpell: 0, refreshesPerDay: 6, warmRequestsPerDay: 0 },
} as const;
type Profile = (typeof PROFILES)[keyof typeof PROFILES];
/** Twitch's answer time on each call, the two ends the tables show. */
const LATENCIES = [120, 400] as const;
/**
 * CPU per Worker request (a caller's), assumed, not measured in workerd: `npm run bench:micro`
 * measures the token paths at 0.1–0.3 ms in Node; 1 ms leaves room. Only the Paid plan bills it.
 */
const ASSUMED_CPU_MS_PER_WORKER_REQUEST = 1;

const USAGE = `
Usage: npm run bench:cost -- [--latency-ms N] [--profile daily|hourly|spells|spells3h|always]

What the broker's own work costs in dollars: measures the real sweep and token code inside workerd
(about a minute), prices it with Cloudflare's published prices at 1k, 10k and 100k users on the
Paid plan, and finds the most users whose overhead fits in half of every Free daily quota.

Options:
  --latency-ms N   ms per Twitch call at scale, 0 to 10000 (default: 120)
  --profile NAME   which profile's itemised line to print: daily, hourly, spells, spells3h or always (default: daily);
                   the headline is always the worst profile
  -h, --help       print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
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

/**
 * Hours a user access token lives (Twitch: about four; the stand-in's 14,400 s). The directory
 * validates a copy until the refresh margin, then wakes the vault once for the next token: one
 * handover per token, however many hours it is in use.
 */
const TOKEN_HOURS = 4;
/** Whether wrangler.toml leaves Workers Logs' invocation logs on (one log event per invocation). */
const INVOCATION_LOGS = !/^\s*invocation_logs\s*=\s*false/m.test(readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8'));

function measure(): { usage: Measurement; cpu: CpuMeasurement } {
  announceSmoke();
  console.log('measuring inside workerd (bench/cost/measure.cost.ts and cpu.cost.ts, about a minute)…');
  const run = spawnSync('npx', ['vitest', 'run', '--config', 'bench/cost/vitest.config.ts', 'bench/cost/measure.cost.ts', 'bench/cost/cpu.cost.ts'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = `${run.stdout}\n${run.stderr}`.split('\n');
  const parsed = <T>(tag: string): T | null => {
    const line = lines.find((l) => l.includes(`${tag} `));
    return line ? (JSON.parse(line.slice(line.indexOf(`${tag} `) + tag.length + 1)) as T) : null;
  };
  const usage = parsed<Measurement>('COST_MEASUREMENT');
  const cpu = parsed<CpuMeasurement>('CPU_MEASUREMENT');
  if (run.status !== 0 || !usage || !cpu) {
    console.error(run.stdout.slice(-4000), run.stderr.slice(-4000));
    throw new Error('the measurement failed');
  }
  return { usage, cpu };
}

/** What one occurrence of `operation` used: its measured totals over its occurrences (zero if it never happened). */
function perOccurrence(m: Measurement, operation: Operation): Omit<OperationUsage, 'occurrences'> {
  const used = m.usage[operation];
  const n = Math.max(1, used?.occurrences ?? 0);
  return {
    doRequests: (used?.doRequests ?? 0) / n,
    workerRequests: (used?.workerRequests ?? 0) / n,
    rowsRead: (used?.rowsRead ?? 0) / n,
    rowsWritten: (used?.rowsWritten ?? 0) / n,
    kvReads: (used?.kvReads ?? 0) / n,
    kvWrites: (used?.kvWrites ?? 0) / n,
    wallMs: (used?.wallMs ?? 0) / n,
    twitchCalls: (used?.twitchCalls ?? 0) / n,
    logLines: (used?.logLines ?? 0) / n,
  };
}

/** Adds figures of the same shape. */
const plus = <T extends Record<string, number>>(a: T, b: T): T => Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! + b[k]!])) as T;

/** The figures per operation the prices are applied to, each counted from that operation alone. */
function unitCosts(m: Measurement) {
  const vaultVisit = perOccurrence(m, 'vault-visit');
  // A directory batch alone: the alarms that woke no vault and called no lane (Twitch answering at once).
  const quiet = m.alarms.filter((alarm) => alarm.vaultWakes === 0 && alarm.laneCalls === 0);
  const timed = quiet.length > 0 ? quiet : m.alarms;
  const batch = { ...perOccurrence(m, 'batch'), wallMs: timed.reduce((sum, alarm) => sum + alarm.wallMs, 0) / Math.max(1, timed.length) };
  return {
    // Every validation of a user in use is one Twitch call by the directory or a lane.
    checksPerUserHour: m.validations / (m.users * m.simulatedHours),
    batch,
    batchesTimed: { alarms: timed.length, quiet: quiet.length > 0 },
    // A vault woken to hand over its copy, and the directory storing it; the vault's own reads on any visit.
    handover: plus(perOccurrence(m, 'handover'), vaultVisit),
    lane: perOccurrence(m, 'lane'),
    idleVisit: plus(perOccurrence(m, 'idle-visit'), vaultVisit),
    setAside: plus(perOccurrence(m, 'set-aside'), vaultVisit),
    bringBack: perOccurrence(m, 'bring-back'),
    cron: perOccurrence(m, 'cron'),
    refresh: perOccurrence(m, 'caller-refresh'),
    warm: perOccurrence(m, 'caller-warm'),
    app: perOccurrence(m, 'caller-app'),
  };
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
  let directoryMs = u.batch.wallMs;
  let laneCalls = 0;
  let laneMs = 0;
  const step = (count: number) => {
    const { own, lanes } = splitChecks(Math.round(count), ownLeft);
    ownLeft -= own;
    laneCalls += lanes.length;
    let waves = Math.ceil(own / CONNECTIONS_PER_INVOCATION);
    for (const chunk of lanes) {
      const chunkWaves = Math.ceil(chunk / CONNECTIONS_PER_INVOCATION);
      laneMs += chunkWaves * latencyMs + u.lane.wallMs;
      waves = Math.max(waves, chunkWaves);
    }
    return waves * latencyMs;
  };
  for (let done = 0; done < checks; done += roundSize) {
    const size = Math.min(roundSize, checks - done);
    const handedOver = size * handoverShare;
    // Two flows at once: copies held checked; vaults hand over theirs, checked on arrival.
    const held = step(size - handedOver);
    directoryMs += handedOver >= 0.5 ? Math.max(held, u.handover.wallMs + step(handedOver)) : held;
  }
  return { directoryMs, laneCalls, laneMs };
}

/**
 * What one idle spell of `hours` costs, by the directory's rule: the user's moments come every
 * SWEEP_CYCLE_MS, the first at a uniformly random point of the first cycle after the token lapsed;
 * each visit before SET_ASIDE_AFTER_MS is an idle visit; the first one after sets the user aside
 * (then the caller's refresh brings them back with the new copy, sparing the handover that
 * would otherwise follow). Averaged over 540 starting points.
 */
function spellCosts(hours: number): { idleVisits: number; setAsideShare: number } {
  const spellMs = hours * 3600_000;
  const starts = 540;
  let idleVisits = 0;
  let setAside = 0;
  for (let i = 1; i <= starts; i++) {
    for (let at = (i / starts) * SWEEP_CYCLE_MS; at < spellMs; at += SWEEP_CYCLE_MS) {
      if (at >= SET_ASIDE_AFTER_MS) {
        setAside++;
        break;
      }
      idleVisits++;
    }
  }
  return { idleVisits: idleVisits / starts, setAsideShare: setAside / starts };
}

/** Resource use per month (or per day, /30). */
interface Monthly {
  doRequests: number;
  gbSeconds: number;
  rowsRead: number;
  rowsWritten: number;
  kvReads: number;
  kvWrites: number;
  workerRequests: number;
  workerCpuMs: number;
  storageGb: number;
  twitchCalls: number;
  /** Workers Logs events: each invocation's own log (if on), and each console line. */
  logEvents: number;
}

/** The broker's own work (the sweep, idle spells, the cron, storage) per month at `users` users. */
function overhead(m: Measurement, u: Units, users: number, profile: Profile, latencyMs: number): Monthly {
  const inUse = Math.max(1, users * profile.inUseShare);
  const checksPerHour = inUse * u.checksPerUserHour;
  const spellsPerHour = (users * profile.idleSpellsPerDay) / 24;
  const spellRule = spellCosts(profile.idleHoursPerSpell);
  // A user brought back hands the directory the new token's copy: that token needs no handover.
  const handoversPerHour = Math.max(0, inUse / TOKEN_HOURS - spellsPerHour * spellRule.setAsideShare);
  // Batches: spaced by the schedule while users wait, one a minute at most when few are due.
  const spacingMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, (SWEEP_CYCLE_MS / 2) * (sweepBatchSize(inUse) / inUse)));
  const batchesPerHour = Math.min(checksPerHour, 3600_000 / spacingMs);
  const batch = batchOf(u, checksPerHour / batchesPerHour, sweepConcurrency(inUse), Math.min(1, handoversPerHour / checksPerHour), latencyMs);
  const spells = users * profile.idleSpellsPerDay * DAYS_PER_MONTH;
  const h = HOURS_PER_MONTH;
  const perHour = {
    doRequests: batchesPerHour * (u.batch.doRequests + batch.laneCalls) + handoversPerHour * u.handover.doRequests + u.cron.doRequests,
    wallMs: batchesPerHour * (batch.directoryMs + batch.laneMs) + handoversPerHour * u.handover.wallMs + u.cron.wallMs,
    rowsRead: batchesPerHour * u.batch.rowsRead + handoversPerHour * u.handover.rowsRead + u.cron.rowsRead,
    rowsWritten: batchesPerHour * u.batch.rowsWritten + handoversPerHour * u.handover.rowsWritten + u.cron.rowsWritten,
  };
  // Per spell: its idle visits, and (for the share set aside) setting aside and bringing back.
  const scaled = <T extends Record<string, number>>(x: T, k: number): T => Object.fromEntries(Object.keys(x).map((key) => [key, x[key]! * k])) as T;
  const spell = plus(scaled(u.idleVisit, spellRule.idleVisits), scaled(plus(u.setAside, u.bringBack), spellRule.setAsideShare));
  return {
    doRequests: h * perHour.doRequests + spells * spell.doRequests,
    gbSeconds: (GB_PER_OBJECT * (h * perHour.wallMs + spells * spell.wallMs)) / 1000,
    rowsRead: h * perHour.rowsRead + spells * spell.rowsRead,
    rowsWritten: h * perHour.rowsWritten + spells * spell.rowsWritten,
    kvReads: h * u.cron.kvReads,
    kvWrites: h * u.cron.kvWrites,
    workerRequests: h * u.cron.workerRequests,
    workerCpuMs: 0,
    storageGb: (users * (m.storage.vaultBytes + m.storage.directoryBytesPerUser)) / 1e9,
    twitchCalls: h * (checksPerHour + u.cron.twitchCalls),
    // The sweep's console lines; with invocation logs on, each Durable Object request and the cron add theirs.
    logEvents: h * batchesPerHour * u.batch.logLines + (INVOCATION_LOGS ? h * (perHour.doRequests + 1) + spells * spell.doRequests : 0),
  };
}

/** Callers' token requests per month at `users` users: each a Worker request and a vault request; refreshes wait on Twitch. */
function callers(u: Units, users: number, profile: Profile, latencyMs: number): Monthly {
  const refreshes = users * profile.refreshesPerDay * DAYS_PER_MONTH;
  const warm = users * profile.warmRequestsPerDay * DAYS_PER_MONTH;
  const both = (pick: (unit: Units['refresh']) => number) => refreshes * pick(u.refresh) + warm * pick(u.warm);
  const requests = both((unit) => unit.workerRequests);
  return {
    doRequests: both((unit) => unit.doRequests),
    // The vault waits for Twitch's answer to each refresh.
    gbSeconds: (GB_PER_OBJECT * (both((unit) => unit.wallMs) + refreshes * latencyMs)) / 1000,
    rowsRead: both((unit) => unit.rowsRead),
    rowsWritten: both((unit) => unit.rowsWritten),
    kvReads: both((unit) => unit.kvReads),
    kvWrites: both((unit) => unit.kvWrites),
    workerRequests: requests,
    workerCpuMs: requests * ASSUMED_CPU_MS_PER_WORKER_REQUEST,
    storageGb: 0,
    twitchCalls: both((unit) => unit.twitchCalls),
    logEvents: both((unit) => unit.logLines) + (INVOCATION_LOGS ? requests + both((unit) => unit.doRequests) : 0),
  };
}

/** Dollars above the $5 base for a month's use on the Paid plan, item by item (included amounts subtracted once, from the whole). */
function paidDollars(use: Monthly): Record<string, number> {
  const over = (amount: number, price: { includedMonthly: number; perMillion: number }) =>
    (Math.max(0, amount - price.includedMonthly) / 1e6) * price.perMillion;
  return {
    'DO requests': over(use.doRequests, PRICES.doRequests),
    'DO duration': over(use.gbSeconds, PRICES.doGbSeconds),
    'rows read': over(use.rowsRead, PRICES.rowsRead),
    'rows written': over(use.rowsWritten, PRICES.rowsWritten),
    storage: Math.max(0, use.storageGb - PRICES.storageGb.includedMonthly) * PRICES.storageGb.perGbMonth,
    'KV reads': over(use.kvReads, PRICES.kvReads),
    'KV writes': over(use.kvWrites, PRICES.kvWrites),
    'Worker requests': over(use.workerRequests, PRICES.workerRequests),
    'Worker CPU': over(use.workerCpuMs, PRICES.workerCpuMs),
    // Priced by volume since 2026-12-01 (developers.cloudflare.com/observability/pricing/).
    'Workers Logs': Math.max(0, logGb(use.logEvents) - PRICES.observabilityFrom20261201.includedMonthlyGb) * PRICES.observabilityFrom20261201.perGb,
  };
}

/** A day's use as a share of each Free daily quota (storage: of the total). */
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
    'log volume': logGb(day(use.logEvents)) / PRICES.observabilityFrom20261201.freeDailyGb,
    storage: use.storageGb / PRICES.storageGb.freeTotal,
  };
}

/**
 * Workers Logs volume of `events` log events, in GB: about 1 KB an event, assumed (a request's
 * log line is a few hundred bytes of JSON; Cloudflare adds the invocation's metadata).
 */
const ASSUMED_BYTES_PER_LOG_EVENT = 1_000;
const logGb = (events: number) => (events * ASSUMED_BYTES_PER_LOG_EVENT) / 1e9;

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
const money = (n: number) => `$${n.toFixed(2)}`;

const measured = measure();
const m = measured.usage;
const u = unitCosts(m);
/** Overhead, callers and their sum at `users` users. */
const bill = (users: number, profile: Profile, latencyMs: number) => {
  const own = overhead(m, u, users, profile, latencyMs);
  const theirs = callers(u, users, profile, latencyMs);
  const total = plus(own as unknown as Record<string, number>, theirs as unknown as Record<string, number>) as unknown as Monthly;
  return { own, theirs, total };
};

/** The most users whose use (callers included) fits in half of every Free daily quota, at both answer times. */
function freePlanHolds(profile: Profile): number {
  const fits = (users: number) =>
    LATENCIES.every((latencyMs) => Object.values(freeShares(bill(users, profile, latencyMs).total)).every((share) => share <= 0.5));
  let low = 0;
  let high = 10_000_000;
  while (high - low > 10) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return Math.floor(low / 100) * 100;
}

// --- What was measured, per operation. ---
const figures = (x: Omit<OperationUsage, 'occurrences'>) =>
  `${x.doRequests.toFixed(2)} DO req, ${x.workerRequests.toFixed(2)} Worker req, ${x.rowsRead.toFixed(1)} rows read, ${x.rowsWritten.toFixed(1)} rows written, ${x.kvWrites.toFixed(2)} KV writes, ${x.wallMs.toFixed(1)} ms, ${x.twitchCalls.toFixed(2)} Twitch calls`;
const occurrences = (operation: Operation) => m.usage[operation]?.occurrences ?? 0;
console.log(
  `\nMeasured in workerd${m.smoke ? ' (SMOKE RUN)' : ''}: ${m.users} users in use for ${m.simulatedHours.toFixed(1)} simulated hours, Twitch answering at once; each figure counted from what that operation did (bench/cost/usage.ts)`,
);
console.log(
  `  per user-hour in use: ${u.checksPerUserHour.toFixed(3)} validations by the directory or a lane (${m.validations} over ${m.clock.alarms + m.clock.crons} batches)`,
);
console.log(
  `  per batch (${occurrences('batch')}; wall time from ${u.batchesTimed.alarms} alarms that ${u.batchesTimed.quiet ? 'woke no vault and called no lane' : 'ran (none was quiet)'}): ${figures(u.batch)}`,
);
console.log(`  per handover (${occurrences('handover')}; vault wake + copy stored): ${figures(u.handover)}`);
console.log(`  per lane call (${occurrences('lane')}): ${figures(u.lane)}`);
console.log(
  `  per idle spell: idle visits (${occurrences('idle-visit')}; token lapsed under ${SET_ASIDE_AFTER_MS / 60_000} min, nothing written): ${figures(u.idleVisit)}`,
);
console.log(`                  set aside (${occurrences('set-aside')}): ${figures(u.setAside)}`);
console.log(`                  brought back (${occurrences('bring-back')}): ${figures(u.bringBack)}`);
console.log(`  per hourly cron (${occurrences('cron')}), beyond its batch: ${figures(u.cron)}`);
console.log(`  per caller refresh (${occurrences('caller-refresh')}; GET /token/users/:id, token expired): ${figures(u.refresh)}`);
console.log(`  per caller warm request (${occurrences('caller-warm')}): ${figures(u.warm)}`);
console.log(`  per GET /token/app, warm (${occurrences('caller-app')}): ${figures(u.app)}`);
console.log(
  `  left out: the harness's own calls, ${m.usage.harness?.rowsWritten ?? 0} rows written (runDurableObjectAlarm's deleteAlarm), seen and not counted; one-off login writes, ${m.usage.login?.rowsWritten ?? 0} rows; the burst phase's batches (the harness made every user due), ${m.usage.burst?.rowsWritten ?? 0} rows`,
);
console.log(
  `  storage: ${(m.storage.vaultBytes / 1024).toFixed(1)} KiB per vault, ${m.storage.directoryBytesPerUser.toFixed(0)} bytes per user in the directory`,
);
{
  const cpu = measured.cpu;
  // Free allows 10 ms of CPU per invocation (developers.cloudflare.com/workers/platform/limits/).
  console.log(
    `CPU per invocation inside workerd (bench/cost/cpu.cost.ts, Twitch's answers stubbed, median of ${cpu.runs}${cpu.smoke ? ', SMOKE RUN' : ''}): ` +
      `a directory batch of ${cpu.batch.copies} copies ${cpu.batch.medianMs} ms (slowest ${cpu.batch.maxMs} ms), a lane call of ${cpu.lane.copies} ${cpu.lane.medianMs} ms (slowest ${cpu.lane.maxMs} ms); an empty run ${cpu.floorMs} ms; the Free plan allows 10 ms`,
  );
}
for (const [name, profile] of Object.entries(PROFILES)) {
  if (profile.idleSpellsPerDay === 0) continue;
  const rule = spellCosts(profile.idleHoursPerSpell);
  console.log(
    `  a ${profile.idleHoursPerSpell} h idle spell (${name}): ${rule.idleVisits.toFixed(2)} idle visits, set aside ${(rule.setAsideShare * 100).toFixed(0)}% of the time`,
  );
}
const units = {
  batch: u.batch,
  handover: u.handover,
  lane: u.lane,
  idleVisit: u.idleVisit,
  setAside: u.setAside,
  bringBack: u.bringBack,
  cron: u.cron,
  refresh: u.refresh,
  warm: u.warm,
  app: u.app,
};
const negative = Object.entries(units).flatMap(([operation, x]) =>
  Object.entries(x)
    .filter(([, n]) => n < 0)
    .map(([figure]) => `${operation}.${figure}`),
);
console.log(`COST_UNITS ${JSON.stringify({ units, harnessCounted: 0, negative })}`);
if (negative.length > 0) throw new Error(`negative per-operation figures: ${negative.join(', ')}`);

// --- Priced. ---
console.log(
  `\nPer month on the Paid plan, above the $${PRICES.baseMonthly} base (prices read ${PRICES.readOn}); overhead: the broker's own work; total: with callers' requests:`,
);
console.log(
  "| profile | Twitch | users | overhead DO req | overhead GB-s | overhead rows written | callers' Worker req | callers' DO req | total GB-s | overhead $ | total $ |",
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
let worst = { name: '', latencyMs: 0, own: 0, total: -1 };
for (const [name, profile] of Object.entries(PROFILES)) {
  for (const [users, latencyMs] of [
    [1_000, 120],
    [10_000, 120],
    [100_000, 120],
    [100_000, 400],
  ] as const) {
    const { own, theirs, total } = bill(users, profile, latencyMs);
    const ownDollars = sum(paidDollars(own));
    const totalDollars = sum(paidDollars(total));
    if (users === 100_000 && totalDollars > worst.total) worst = { name, latencyMs, own: ownDollars, total: totalDollars };
    const M = (n: number) => `${(n / 1e6).toFixed(2)} M`;
    console.log(
      `| ${name} | ${latencyMs} ms | ${users.toLocaleString('en')} | ${M(own.doRequests)} | ${(own.gbSeconds / 1e3).toFixed(0)} k | ${M(own.rowsWritten)} | ${M(theirs.workerRequests)} | ${M(theirs.doRequests)} | ${(total.gbSeconds / 1e3).toFixed(0)} k | ${money(ownDollars)} | ${money(totalDollars)} |`,
    );
  }
}
{
  const profile = PROFILES[profileName];
  const { total } = bill(100_000, profile, LATENCY_MS);
  const items = Object.entries(paidDollars(total))
    .filter(([, dollars]) => dollars >= 0.005)
    .map(([item, dollars]) => `${item} ${money(dollars)}`);
  console.log(`${profileName} at ${LATENCY_MS} ms, 100,000 users, total by item: ${items.join(', ') || 'nothing above the included amounts'}`);
}
let fewest = Infinity;
for (const [name, profile] of Object.entries(PROFILES)) {
  const holds = freePlanHolds(profile);
  fewest = Math.min(fewest, holds);
  const shares = freeShares(bill(holds, profile, 400).total);
  const [tightest, share] = Object.entries(shares).sort((a, b) => b[1] - a[1])[0]!;
  console.log(
    `free plan, ${name}: ${holds.toLocaleString('en')} users within half of every daily quota, callers included (tightest: ${tightest} ${(share * 100).toFixed(0)}%)`,
  );
}
console.log(
  `Workers Logs: invocation logs ${INVOCATION_LOGS ? 'on' : 'off'} (wrangler.toml); Workers Logs priced by volume (since 2026-12-01) at an assumed ${ASSUMED_BYTES_PER_LOG_EVENT} bytes an event; Worker CPU assumed ${ASSUMED_CPU_MS_PER_WORKER_REQUEST} ms per caller request (Paid only)`,
);
console.log(`worst profile: ${worst.name} at ${worst.latencyMs} ms: overhead ${money(worst.own)}, total ${money(worst.total)} a month at 100,000 users`);
console.log(`cost: ${money(worst.total)}/month at 100k users (paid, worst profile, callers included), free plan holds ${fewest} users`);
