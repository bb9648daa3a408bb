/**
 * The hourly sweep at scale, in memory: runs the directory's own scheduling rule
 * (src/sweep/schedule.ts: each user's moment in the cycle, batch sizes, rounds, batch spacing,
 * retries, `splitChecks` between the directory's own calls to Twitch and lanes, six calls in flight
 * per invocation) over many users for several simulated hours, with callers refreshing each token
 * every four hours (its copy handed over again by the vault) and the vault's rule for skipping
 * users proven alive within the skip window, and reports whether every user is validated within
 * the hour, how many subrequests each invocation makes, how busy the one directory is, and how
 * late visits run. Durable Objects are not created here: the local runtime
 * slows down with their number, so the workers tests cover a few hundred real ones
 * (test/sweep.test.ts, test/faults/sweep-crash.test.ts) and this covers the rule at a million.
 *
 *   npx tsx bench/sweep-scale.ts [--users 100000] [--hours 4] [--latency-ms 120] [--failure-rate 0]
 *
 * Without --users it runs 100,000 users at 120 ms and 1,000,000 users at 400 ms per Twitch call.
 */
import { parseCli } from '../scripts/cli-args';
import { USER_REFRESH_MARGIN_MS } from '../src/vault/timing';
import {
  CONNECTIONS_PER_INVOCATION,
  COPIES_PER_LANE,
  MAX_TICK_MS,
  nextBatchAt,
  OWN_CHECKS_PER_BATCH,
  splitChecks,
  nextVisit,
  slotOf,
  SWEEP_CYCLE_MS,
  sweepBatchSize,
  sweepConcurrency,
  VALIDATION_SKIP_WINDOW_MS,
} from '../src/sweep/schedule';
import { announceSmoke, SMOKE } from './smoke';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/**
 * Subrequests one invocation may make (developers.cloudflare.com/workers/platform/limits, read
 * 2026-11-29): Paid 10,000 by default; Free 50 external plus 1,000 to Cloudflare services. The
 * directory's are vault RPCs (Cloudflare services); each vault's Twitch call is its own invocation's.
 */
const SUBREQUEST_LIMIT_PAID = 10_000;
const SUBREQUEST_LIMIT_FREE_CLOUDFLARE = 1_000;

const USAGE = `
Usage: npm run bench:sweep -- [--users N] [--hours N] [--latency-ms N] [--failure-rate R]

The hourly sweep at scale, in memory: runs the directory's own scheduling rule over many users for
several simulated hours and reports whether every user is validated within the hour, subrequests
per invocation, how busy the directory is, and how late visits run.

Options:
  --users N         users in use, 1 to 10000000 (default: two runs, 100,000 users at 120 ms and
                    1,000,000 users at 400 ms per Twitch call)
  --hours N         simulated hours, 1 to 48 (default: 4)
  --latency-ms N    ms per Twitch call, 0 to 10000, with --users (default: 120)
  --failure-rate R  share of Twitch calls that fail, 0 to 1 (default: 0)
  -h, --help        print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
Exit code: 0 done; 2 bad arguments.
`;

const { values: flags } = parseCli({
  script: 'bench:sweep',
  usage: USAGE,
  rules: {
    users: { min: 1, max: 10_000_000 },
    hours: { min: 1, max: 48 },
    'latency-ms': { min: 0, max: 10_000 },
    'failure-rate': { min: 0, max: 1, fractions: true },
  },
  options: {
    users: { type: 'string' },
    hours: { type: 'string', default: '4' },
    'latency-ms': { type: 'string', default: '120' },
    'failure-rate': { type: 'string', default: '0' },
  },
});
/** A smoke run (BENCH_SMOKE=1) simulates two hours of 2,000 users, whatever the arguments asked for. */
const HOURS = SMOKE ? 2 : Number(flags.hours);
/** A user token's life: Twitch's are about four hours (callers refresh them at the margin). */
const TOKEN_MS = 4 * HOUR;
/** A vault woken to hand over its copy answers without calling Twitch: an RPC and a storage read. */
const VAULT_WAKE_MS = 20;
/** A lane call's own time before its first call to Twitch. */
const LANE_CALL_MS = 10;
const FAILURE_RATE = Number(flags['failure-rate']);

/** A min-heap of users owed a visit, by when. */
class OwedHeap {
  private readonly at: number[] = [];
  private readonly user: number[] = [];
  get size(): number {
    return this.at.length;
  }
  peek(): number | null {
    return this.at[0] ?? null;
  }
  push(at: number, userIndex: number): void {
    this.at.push(at);
    this.user.push(userIndex);
    for (let i = this.at.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.at[parent]! <= this.at[i]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): number {
    const top = this.user[0]!;
    const lastAt = this.at.pop()!;
    const lastUser = this.user.pop()!;
    if (this.at.length > 0) {
      this.at[0] = lastAt;
      this.user[0] = lastUser;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < this.at.length && this.at[left]! < this.at[smallest]!) smallest = left;
        if (right < this.at.length && this.at[right]! < this.at[smallest]!) smallest = right;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }
  private swap(a: number, b: number): void {
    [this.at[a], this.at[b]] = [this.at[b]!, this.at[a]!];
    [this.user[a], this.user[b]] = [this.user[b]!, this.user[a]!];
  }
}

interface Report {
  scenario: string;
  users: number;
  latencyMs: number;
  invocations: number;
  alarmInvocations: number;
  cronInvocations: number;
  /** Vault RPCs and lane calls (subrequests to Cloudflare services) in one invocation, at most. */
  maxSubrequestsPerInvocation: number;
  /** Calls to Twitch the directory makes itself in one invocation, at most (subrequests to the internet). */
  maxOwnCallsPerInvocation: number;
  laneCalls: number;
  vaultWakes: number;
  validations: number;
  skips: number;
  failures: number;
  /** Longest time any user went without a proof of life, after the first hour. */
  maxGapMs: number;
  gapsOverAnHour: number;
  /** How late a visit ran after the user's moment, at most (after the first hour). */
  maxLagMs: number;
  /** Share of the last hour the directory spent running batches. */
  busyShare: number;
}

/** Simulates the sweep from `start` for HOURS hours; `overdueAtStart`: every user registered overdue. */
function simulate(scenario: string, users: number, latencyMs: number, start: number, overdueAtStart: boolean): Report {
  // The directory's order: (moment in the cycle, user id).
  const ids = Array.from({ length: users }, (_, i) => String(10_000_000 + i));
  const slot = Float64Array.from(ids, slotOf);
  const order = Array.from({ length: users }, (_, i) => i).sort((a, b) => slot[a]! - slot[b]! || (ids[a]! < ids[b]! ? -1 : 1));
  const owedAt = new Float64Array(users).fill(0);
  // Each user's token: when it expires (callers refresh it at the margin), its generation, and the generation of the directory's copy.
  const tokenExpiresAt = new Float64Array(users);
  const tokenGeneration = new Int32Array(users);
  // No copies yet after a burst of registrations; in the steady state, each user's current token.
  const copyGeneration = new Int32Array(users).fill(overdueAtStart ? -1 : 0);
  const owed = new OwedHeap();
  const lastProof = new Float64Array(users);
  for (let i = 0; i < users; i++) {
    if (overdueAtStart) {
      lastProof[i] = start - 2 * HOUR;
      owed.push(start, i);
      owedAt[i] = start;
    } else {
      // Proven at their moment in the previous cycle: the steady state.
      const moment = start - (start % SWEEP_CYCLE_MS) + slot[i]!;
      lastProof[i] = moment <= start ? moment : moment - SWEEP_CYCLE_MS;
    }
  }
  const end = start + HOURS * HOUR;
  const steadyFrom = start + HOUR;
  let phase = 54321;
  for (let i = 0; i < users; i++) {
    phase = (phase * 1103515245 + 12345) & 0x7fffffff;
    tokenExpiresAt[i] = start + USER_REFRESH_MARGIN_MS + (phase / 0x7fffffff) * TOKEN_MS;
  }
  const report: Report = {
    scenario,
    users,
    latencyMs,
    invocations: 0,
    alarmInvocations: 0,
    cronInvocations: 0,
    maxSubrequestsPerInvocation: 0,
    maxOwnCallsPerInvocation: 0,
    laneCalls: 0,
    vaultWakes: 0,
    validations: 0,
    skips: 0,
    failures: 0,
    maxGapMs: 0,
    gapsOverAnHour: 0,
    maxLagMs: 0,
    busyShare: 0,
  };
  let random = 12345;
  const nextRandom = () => {
    random = (random * 1103515245 + 12345) & 0x7fffffff;
    return random / 0x7fffffff;
  };
  // Cursor: the cycle and the position in `order` of the next user on their moment.
  let cursorCycle = Math.floor(start / SWEEP_CYCLE_MS);
  let cursorIndex = order.findIndex((i) => slot[i]! > start % SWEEP_CYCLE_MS);
  if (cursorIndex < 0) {
    cursorCycle++;
    cursorIndex = 0;
  }
  const momentOf = (cycle: number, index: number) => cycle * SWEEP_CYCLE_MS + slot[order[index]!]!;
  const concurrency = sweepConcurrency(users);
  const batchSize = sweepBatchSize(users);
  let busyInLastHour = 0;

  /** Completion times of `count` calls to Twitch from one invocation starting at `from`: six in flight at a time. */
  const waves = (count: number, from: number): number[] => {
    const free = new Array<number>(Math.min(CONNECTIONS_PER_INVOCATION, count)).fill(from);
    const done: number[] = [];
    for (let i = 0; i < count; i++) {
      let worker = 0;
      for (let w = 1; w < free.length; w++) if (free[w]! < free[worker]!) worker = w;
      free[worker] = free[worker]! + latencyMs * (0.75 + 0.75 * nextRandom());
      done.push(free[worker]!);
    }
    return done;
  };

  /** A proof of life for `user` at `at` (a validation or a caller's refresh), with the gap since the last. */
  const prove = (user: number, at: number) => {
    if (at >= steadyFrom) {
      const gap = at - lastProof[user]!;
      report.maxGapMs = Math.max(report.maxGapMs, gap);
      if (gap > HOUR) report.gapsOverAnHour++;
    }
    lastProof[user] = Math.max(lastProof[user]!, at);
  };

  /** Callers refresh each token when its last USER_REFRESH_MARGIN_MS begin: a new token (and a proof) every TOKEN_MS. */
  const refreshUpTo = (user: number, at: number) => {
    while (at >= tokenExpiresAt[user]! - USER_REFRESH_MARGIN_MS) {
      const refreshedAt = tokenExpiresAt[user]! - USER_REFRESH_MARGIN_MS;
      prove(user, refreshedAt);
      tokenExpiresAt[user] = refreshedAt + TOKEN_MS;
      tokenGeneration[user]!++;
    }
  };

  /**
   * One batch starting at `now`, by the directory's rule (src/sweep/access-copies.ts): rounds of
   * `concurrency` users; in each, copies held are checked (`splitChecks`: the directory's own calls,
   * at most OWN_CHECKS_PER_BATCH a batch, and lanes of COPIES_PER_LANE, six calls in flight each)
   * while vaults without a usable copy hand theirs over to be checked on arrival; the vaults of
   * copies Twitch did not answer for validate with retries. Returns when it ends.
   */
  const runBatch = (now: number): number => {
    const picked: { user: number; moment: number | null }[] = [];
    while (picked.length < batchSize && owed.size > 0 && owed.peek()! <= now) picked.push({ user: owed.pop(), moment: null });
    while (picked.length < batchSize && momentOf(cursorCycle, cursorIndex) <= now) {
      const user = order[cursorIndex]!;
      if (owedAt[user] === 0) picked.push({ user, moment: momentOf(cursorCycle, cursorIndex) });
      if (++cursorIndex === users) {
        cursorIndex = 0;
        cursorCycle++;
      }
    }
    let ownLeft = OWN_CHECKS_PER_BATCH;
    const invocation = { own: 0, lanes: 0, vaults: 0 };
    /** Checks `toCheck` from `from`: completion time and whether Twitch answered, per user. */
    const check = (toCheck: number[], from: number) => {
      const { own, lanes } = splitChecks(toCheck.length, ownLeft);
      ownLeft -= own;
      invocation.own += own;
      invocation.lanes += lanes.length;
      const times = [...waves(own, from), ...lanes.flatMap((chunk) => waves(chunk, from + LANE_CALL_MS))];
      return toCheck.map((user, i) => ({ user, at: times[i]!, answered: nextRandom() >= FAILURE_RATE }));
    };
    const settle = (user: number, at: number, outcome: 'validated' | 'skipped' | 'failed') => {
      if (outcome === 'validated') {
        prove(user, at);
        report.validations++;
      } else if (outcome === 'skipped') report.skips++;
      else report.failures++;
      const next = nextVisit(outcome, at);
      if (next.kind === 'retry') {
        owed.push(next.at, user);
        owedAt[user] = next.at;
      } else owedAt[user] = 0;
    };
    let clock = now;
    for (let r = 0; r < picked.length; r += concurrency) {
      const round = picked.slice(r, r + concurrency);
      const direct: number[] = [];
      const wake: number[] = [];
      for (const { user, moment } of round) {
        if (moment !== null && now >= steadyFrom) report.maxLagMs = Math.max(report.maxLagMs, now - moment);
        refreshUpTo(user, clock);
        (copyGeneration[user] === tokenGeneration[user] ? direct : wake).push(user);
      }
      // Two flows at once: copies held are checked; vaults without a usable copy hand theirs over
      // (no Twitch call) and those copies are checked on arrival. Copies Twitch did not answer for
      // go to their vault, which validates with retries.
      let roundEnd = clock;
      const toVault: { user: number; from: number }[] = [];
      const checkFlow = (toCheck: number[], from: number) => {
        const results = check(toCheck, from);
        const flowEnd = results.reduce((latest, result) => Math.max(latest, result.at), from);
        roundEnd = Math.max(roundEnd, flowEnd);
        for (const { user, at, answered } of results) {
          if (answered) settle(user, at, 'validated');
          else toVault.push({ user, from: flowEnd });
        }
      };
      checkFlow(direct, clock);
      const handedOver: number[] = [];
      invocation.vaults += wake.length;
      report.vaultWakes += wake.length;
      for (const user of wake) {
        const at = clock + VAULT_WAKE_MS;
        roundEnd = Math.max(roundEnd, at);
        copyGeneration[user] = tokenGeneration[user]!;
        if (at - lastProof[user]! < VALIDATION_SKIP_WINDOW_MS) settle(user, at, 'skipped');
        else handedOver.push(user);
      }
      checkFlow(handedOver, clock + VAULT_WAKE_MS);
      invocation.vaults += toVault.length;
      report.vaultWakes += toVault.length;
      for (const { user, from } of toVault) {
        const at = from + VAULT_WAKE_MS + latencyMs * (0.75 + 0.75 * nextRandom());
        roundEnd = Math.max(roundEnd, at);
        settle(user, at, nextRandom() < FAILURE_RATE ? 'failed' : 'validated');
      }
      clock = roundEnd;
    }
    report.maxOwnCallsPerInvocation = Math.max(report.maxOwnCallsPerInvocation, invocation.own);
    report.maxSubrequestsPerInvocation = Math.max(report.maxSubrequestsPerInvocation, invocation.lanes + invocation.vaults);
    report.laneCalls += invocation.lanes;
    if (clock > end - HOUR) busyInLastHour += clock - Math.max(now, end - HOUR);
    return clock;
  };

  const plan = (now: number, batchStartedAt = now): number | null => {
    const nextMoment = momentOf(cursorCycle, cursorIndex);
    const nextDueAt = owed.size > 0 ? Math.min(owed.peek()!, nextMoment) : nextMoment;
    return nextBatchAt(now, { activeUsers: users, workWaiting: nextDueAt <= now, nextDueAt }, batchStartedAt);
  };

  let alarmAt: number | null = plan(start);
  let nextCron = start + HOUR - (start % HOUR);
  let busyUntil = start;
  while (true) {
    const cronFirst = alarmAt === null || nextCron <= alarmAt;
    // Batches never overlap: whoever comes while one runs waits for it.
    const now = Math.max(cronFirst ? nextCron : alarmAt!, busyUntil);
    if (now >= end) break;
    report.invocations++;
    if (cronFirst) {
      report.cronInvocations++;
      busyUntil = runBatch(now);
      const wanted = plan(busyUntil);
      if (alarmAt === null || (wanted !== null && wanted < alarmAt)) alarmAt = wanted;
      nextCron += HOUR;
    } else {
      report.alarmInvocations++;
      busyUntil = runBatch(now);
      alarmAt = plan(busyUntil, now);
    }
  }
  // Anyone not validated since the first hour ended counts as a gap too.
  for (let i = 0; i < users; i++) {
    const gap = end - lastProof[i]!;
    if (lastProof[i]! < steadyFrom && gap > report.maxGapMs) report.maxGapMs = gap;
    if (gap > HOUR) report.gapsOverAnHour++;
  }
  report.busyShare = busyInLastHour / HOUR;
  return report;
}

function print(report: Report): void {
  const perThousand = (n: number) => ((n / HOURS / report.users) * 1000).toFixed(0);
  console.log(
    `\n## ${report.scenario}: ${report.users.toLocaleString('en')} users in use, ${HOURS} h simulated, ${report.latencyMs} ms per Twitch call, failure rate ${FAILURE_RATE}`,
  );
  console.log(`  every user validated within the hour (after the first): ${report.gapsOverAnHour === 0 && report.maxGapMs <= HOUR ? 'yes' : 'NO'}`);
  console.log(`  longest gap between two validations of one user: ${(report.maxGapMs / MINUTE).toFixed(2)} min (${report.gapsOverAnHour} gaps over 60 min)`);
  console.log(`  latest visit after a user's moment: ${(report.maxLagMs / 1000).toFixed(1)} s`);
  console.log(
    `  most subrequests in one directory invocation: ${report.maxOwnCallsPerInvocation} to Twitch (limit 50 on Free), ${report.maxSubrequestsPerInvocation} vault RPCs and lane calls (limits: ${SUBREQUEST_LIMIT_PAID.toLocaleString('en')} Paid, ${SUBREQUEST_LIMIT_FREE_CLOUDFLARE.toLocaleString('en')} to Cloudflare services on Free); each lane makes at most ${COPIES_PER_LANE} calls to Twitch`,
  );
  // Keeping up: nobody waits past the longest gap between two batches for their moment.
  console.log(
    `  keeps up (no visit more than a minute late): ${report.maxLagMs <= MAX_TICK_MS ? 'yes' : 'NO'}; directory busy running batches ${(report.busyShare * 100).toFixed(0)}% of the last hour`,
  );
  console.log(
    `  invocations: ${report.invocations} (${report.alarmInvocations} alarms, ${report.cronInvocations} crons), ${Math.round(report.invocations / HOURS)} an hour`,
  );
  console.log(`  validations: ${report.validations}, skipped ${report.skips}, failed ${report.failures}`);
  console.log(
    `  per 1,000 users per hour: ${perThousand(report.invocations)} directory invocations, ${perThousand(report.laneCalls)} lane calls, ${perThousand(report.vaultWakes)} vault wakes, ${perThousand(report.validations + report.failures)} validations`,
  );
}

const start = Date.UTC(2026, 0, 1, 0, 0, 0);
const startedAt = Date.now();
announceSmoke();
const runs: [number, number][] = SMOKE
  ? [[2_000, 120]]
  : flags.users
    ? [[Number(flags.users), Number(flags['latency-ms'])]]
    : [
        [100_000, 120],
        [1_000_000, 400],
      ];
for (const [users, latencyMs] of runs) {
  // Every user due at once: a fresh deployment importing users, or a directory back from a long stop.
  print(simulate('burst (every user registered overdue at the start)', users, latencyMs, start, true));
  // Users on their moments, each proven at their moment in the previous cycle.
  print(simulate('steady (every user on their moment)', users, latencyMs, start, false));
}
console.log(`\n(simulated in ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
