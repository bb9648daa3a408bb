/**
 * The hourly sweep at scale, in memory: runs the directory's own scheduling rule
 * (src/sweep/schedule.ts) over many users for several simulated hours, with the vault's rule for
 * skipping users validated within the hour, and reports whether every user is validated within
 * the hour, how many subrequests each invocation makes, how batches and validations are spread,
 * and what the sweep costs. Durable Objects are not created here: the local runtime slows down
 * quadratically with their number, so the workers tests cover a few hundred real ones
 * (test/sweep.test.ts, test/faults/sweep-crash.test.ts) and this covers the rule at 100,000.
 *
 *   npx tsx bench/sweep-scale.ts [--users 100000] [--hours 4] [--latency-ms 120] [--failure-rate 0]
 */
import { parseArgs } from 'node:util';
import { nextBatchAt, nextDueAt, SWEEP_BATCH_SIZE, VALIDATION_DUE_AFTER_MS } from '../src/sweep/schedule';
import { VALIDATION_SKIP_WINDOW_MS } from '../src/vault/timing';

/** Vault calls in flight at once within a batch (SWEEP_CONCURRENCY in user-directory.ts). */
const CONCURRENCY = 25;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SUBREQUEST_LIMIT = 1_000;

const { values: flags } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    hours: { type: 'string', default: '4' },
    'latency-ms': { type: 'string', default: '120' },
    'failure-rate': { type: 'string', default: '0' },
  },
});
const USERS = Number(flags.users);
const HOURS = Number(flags.hours);
const LATENCY_MS = Number(flags['latency-ms']);
const FAILURE_RATE = Number(flags['failure-rate']);

/** A min-heap of users by when they are next due. */
class DueHeap {
  private readonly dueAt: number[] = [];
  private readonly user: number[] = [];
  get size(): number {
    return this.dueAt.length;
  }
  peek(): number | null {
    return this.dueAt[0] ?? null;
  }
  push(at: number, userIndex: number): void {
    this.dueAt.push(at);
    this.user.push(userIndex);
    let i = this.dueAt.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.dueAt[parent]! <= this.dueAt[i]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): { at: number; userIndex: number } {
    const top = { at: this.dueAt[0]!, userIndex: this.user[0]! };
    const lastAt = this.dueAt.pop()!;
    const lastUser = this.user.pop()!;
    if (this.dueAt.length > 0) {
      this.dueAt[0] = lastAt;
      this.user[0] = lastUser;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < this.dueAt.length && this.dueAt[left]! < this.dueAt[smallest]!) smallest = left;
        if (right < this.dueAt.length && this.dueAt[right]! < this.dueAt[smallest]!) smallest = right;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }
  /** How many are due at `now` (a scan; only used for the rule's "any due?" and for reports). */
  countDue(now: number): number {
    let due = 0;
    for (const at of this.dueAt) if (at <= now) due++;
    return due;
  }
  private swap(a: number, b: number): void {
    [this.dueAt[a], this.dueAt[b]] = [this.dueAt[b]!, this.dueAt[a]!];
    [this.user[a], this.user[b]] = [this.user[b]!, this.user[a]!];
  }
}

interface Report {
  scenario: string;
  invocations: number;
  alarmInvocations: number;
  cronInvocations: number;
  maxSubrequestsPerInvocation: number;
  validations: number;
  skips: number;
  failures: number;
  /** Longest time any user went without a proof of life (a validation), after the first hour. */
  maxGapMs: number;
  gapsOverAnHour: number;
  tickSpacingMs: number[];
  validationsPerMinute: number[];
}

/**
 * Simulates the sweep from `start` for HOURS hours. `lastValidatedAt` gives each user's state at
 * the start; users are registered due as a login registers them.
 */
function simulate(scenario: string, start: number, lastValidatedAt: Float64Array): Report {
  const heap = new DueHeap();
  for (let i = 0; i < USERS; i++) heap.push(lastValidatedAt[i]! + VALIDATION_DUE_AFTER_MS, i);
  const lastProof = Float64Array.from(lastValidatedAt);
  const end = start + HOURS * HOUR;
  const steadyFrom = start + HOUR; // the first hour drains whatever backlog the scenario starts with
  const report: Report = {
    scenario, invocations: 0, alarmInvocations: 0, cronInvocations: 0, maxSubrequestsPerInvocation: 0,
    validations: 0, skips: 0, failures: 0, maxGapMs: 0, gapsOverAnHour: 0, tickSpacingMs: [], validationsPerMinute: [],
  };
  const perMinute = new Array<number>(HOURS * 60).fill(0);
  let random = 12345;
  const nextRandom = () => ((random = (random * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

  /** One batch at `now`; returns when it ends. */
  const runBatch = (now: number): number => {
    let taken = 0;
    const finished: { at: number; userIndex: number }[] = [];
    while (taken < SWEEP_BATCH_SIZE && heap.size > 0 && heap.peek()! <= now) {
      const { userIndex } = heap.pop();
      finished.push({ at: now + (Math.floor(taken / CONCURRENCY) + 1) * LATENCY_MS, userIndex });
      taken++;
    }
    report.maxSubrequestsPerInvocation = Math.max(report.maxSubrequestsPerInvocation, taken);
    for (const { at, userIndex } of finished) {
      // The vault's own rule: a user validated within the skip window is not validated again.
      let outcome: 'validated' | 'skipped' | 'failed';
      if (at - lastProof[userIndex]! < VALIDATION_SKIP_WINDOW_MS) outcome = 'skipped';
      else outcome = nextRandom() < FAILURE_RATE ? 'failed' : 'validated';
      if (outcome === 'validated') {
        if (at >= steadyFrom) {
          const gap = at - lastProof[userIndex]!;
          report.maxGapMs = Math.max(report.maxGapMs, gap);
          if (gap > HOUR) report.gapsOverAnHour++;
        }
        lastProof[userIndex] = at;
        report.validations++;
        const minute = Math.floor((at - start) / MINUTE);
        if (minute < perMinute.length) perMinute[minute]!++;
      } else if (outcome === 'skipped') report.skips++;
      else report.failures++;
      heap.push(nextDueAt(outcome, lastProof[userIndex]!, at)!, userIndex);
    }
    return finished.length > 0 ? finished[finished.length - 1]!.at : now;
  };

  const plan = (now: number, batchStartedAt = now): number | null =>
    nextBatchAt(now, { activeUsers: USERS, dueUsers: heap.peek()! <= now ? 1 : 0, earliestDueAt: heap.peek() }, batchStartedAt);

  let alarmAt: number | null = plan(start);
  let nextCron = start + HOUR - (start % HOUR);
  let lastAlarm: number | null = null;
  while (true) {
    const cronFirst = alarmAt === null || nextCron <= alarmAt;
    const now = cronFirst ? nextCron : alarmAt!;
    if (now >= end) break;
    report.invocations++;
    if (cronFirst) {
      // The cron runs one batch and keeps an earlier alarm.
      report.cronInvocations++;
      const batchEnd = runBatch(now);
      const wanted = plan(batchEnd);
      if (alarmAt === null || (wanted !== null && wanted < alarmAt)) alarmAt = wanted;
      nextCron += HOUR;
    } else {
      report.alarmInvocations++;
      if (lastAlarm !== null && now >= steadyFrom) report.tickSpacingMs.push(now - lastAlarm);
      lastAlarm = now;
      alarmAt = plan(runBatch(now), now);
    }
  }
  // Anyone never validated since the first hour ended counts as a gap too.
  for (let i = 0; i < USERS; i++) {
    const gap = end - lastProof[i]!;
    if (gap > report.maxGapMs && lastProof[i]! < steadyFrom) report.maxGapMs = gap;
  }
  report.validationsPerMinute = perMinute.slice((HOURS - 1) * 60);
  return report;
}

function histogram(values: number[], edges: number[], label: (low: number, high: number | undefined) => string): string {
  const counts = new Array<number>(edges.length).fill(0);
  for (const value of values) {
    let bucket = 0;
    while (bucket + 1 < edges.length && value >= edges[bucket + 1]!) bucket++;
    counts[bucket]!++;
  }
  return counts.map((count, i) => (count ? `    ${label(edges[i]!, edges[i + 1])}: ${count}` : null)).filter(Boolean).join('\n');
}

function print(report: Report): void {
  const hoursSimulated = HOURS;
  const perHour = (n: number) => Math.round(n / hoursSimulated);
  const perThousand = (n: number) => ((n / hoursSimulated / USERS) * 1000).toFixed(1);
  const minutes = report.validationsPerMinute;
  const fiveMinute = Array.from({ length: 12 }, (_, i) => minutes.slice(i * 5, i * 5 + 5).reduce((a, b) => a + b, 0));
  console.log(`\n## ${report.scenario}: ${USERS.toLocaleString('en')} users, ${HOURS} h simulated, ${LATENCY_MS} ms per validation, failure rate ${FAILURE_RATE}`);
  console.log(`  every user validated within the hour (after the first): ${report.gapsOverAnHour === 0 && report.maxGapMs <= HOUR ? 'yes' : 'NO'}`);
  console.log(`  longest gap between two validations of one user: ${(report.maxGapMs / MINUTE).toFixed(2)} min (${report.gapsOverAnHour} gaps over 60 min)`);
  console.log(`  most subrequests (vault RPCs) in one invocation: ${report.maxSubrequestsPerInvocation} (limit ${SUBREQUEST_LIMIT})`);
  console.log(`  invocations: ${report.invocations} (${report.alarmInvocations} alarms, ${report.cronInvocations} crons), ${perHour(report.invocations)} an hour`);
  console.log(`  validations: ${report.validations}, skipped ${report.skips}, failed ${report.failures}`);
  console.log(`  per 1,000 users per hour: ${perThousand(report.invocations)} directory invocations, ${perThousand(report.validations + report.skips + report.failures)} vault RPCs, ${perThousand(report.validations + report.failures)} Twitch validate calls`);
  console.log('  spacing between alarm batches after the first hour:');
  console.log(histogram(report.tickSpacingMs, [0, 1_000, 2_000, 5_000, 7_000, 8_000, 10_000, 30_000, 60_000, 61_000, 10 * MINUTE],
    (low, high) => `${(low / 1000).toString().padStart(5)} s – ${high === undefined ? '…' : `${high / 1000} s`}`));
  console.log(`  validations per minute in the last hour: min ${Math.min(...minutes)}, max ${Math.max(...minutes)}, mean ${(minutes.reduce((a, b) => a + b, 0) / 60).toFixed(0)}`);
  console.log(`  validations per 5 minutes in the last hour: ${fiveMinute.join(' ')}`);
}

const start = Date.UTC(2026, 0, 1, 0, 0, 0);
const startedAt = Date.now();
// Every user due at once: a fresh deployment, or `POST /admin/sweep` making everyone due.
print(simulate('burst (all users due at the start)', start, new Float64Array(USERS).fill(start - 2 * HOUR)));
// Users who logged in at random moments over the last hour.
const spread = new Float64Array(USERS);
let seed = 7;
for (let i = 0; i < USERS; i++) spread[i] = start - HOUR * ((seed = (seed * 16807) % 2147483647) / 2147483647);
print(simulate('steady (last validations spread over the hour)', start, spread));
console.log(`\n(simulated in ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
