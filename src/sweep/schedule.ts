import { VALIDATION_SKIP_WINDOW_MS } from '../vault/timing';
import type { ValidationOutcome } from '../vault/vault-types';

/**
 * The sweep's scheduling rule, kept pure so the benchmarks (bench/sweep-scale.ts, bench/cost.ts)
 * run the very same rule over a million users in memory. Times are epoch milliseconds.
 *
 * Each user has a fixed moment in a repeating cycle, from a hash of their id: the sweep visits a
 * user when the clock passes that moment, so knowing who is due needs no per-user write. Only
 * exceptions are written: a failure to retry, a user registered overdue, a token gone idle.
 */

/**
 * The cycle. Shorter than the hour Twitch allows by the vault's skip window (a user proven alive
 * within it is not validated again at their moment, so the next visit is at most skip window +
 * cycle later) and by three minutes of slack for batching lag: 3 + 54 + 3 = 60.
 */
export const SWEEP_CYCLE_MS = 54 * 60_000;
/** Users per batch (per alarm), at most: each one subrequest from the invocation running it. */
export const SWEEP_BATCH_SIZE = 250;
/** Vault calls in flight at once while the directory is small; see `sweepConcurrency`. */
export const SWEEP_CONCURRENCY = 25;
/**
 * Users per round, at most. A round lasts about two Twitch round trips whatever its size (its copies
 * spread over lanes), so a million users at 400 ms need rounds of ~620 to keep up at twice the pace.
 */
export const MAX_SWEEP_CONCURRENCY = 1_000;
/**
 * The largest batch. Its subrequests to Cloudflare services (a vault RPC per user without a copy, a
 * lane call per 12 copies) stay under 1,000 while a Free plan's users could be in use (Free allows
 * 1,000 per invocation; a batch this large needs some 600,000 users in use), and far under Paid's 10,000.
 */
export const MAX_SWEEP_BATCH_SIZE = 2_000;
/**
 * Calls to Twitch in flight at once from one invocation: it has six simultaneous outgoing
 * connections (developers.cloudflare.com/workers/platform/limits, read 2026-11-29); more only queue.
 */
export const CONNECTIONS_PER_INVOCATION = 6;
/**
 * Copies of access tokens the directory validates itself in one batch (one invocation); lanes check
 * the rest. The Free plan allows 50 subrequests to the internet and 10 ms of CPU per invocation: a
 * copy costs about 0.16 ms of CPU (unseal, request, answer; `npm run bench:micro`), 30 about 5 ms.
 */
export const OWN_CHECKS_PER_BATCH = 30;
/** Copies per lane call: two waves of six connections, so a lane answers in about two Twitch round trips. */
export const COPIES_PER_LANE = 12;
/** Lanes a batch spreads its chunks over, in turn: more than one round's chunks, so no two chunks in flight share a lane. */
export const LANE_POOL = 256;
/** A step this small the directory checks alone (while its allowance lasts): a lane call would cost more than it saves. */
export const CHECKED_ALONE_UP_TO = 25;

/**
 * How one step of a round splits `count` copies to check: how many the directory checks itself
 * (of the `ownLeft` calls its batch may still make), and the sizes of the chunks sent to lanes,
 * all at once. Small steps stay in the directory; large ones spread so a step lasts about two
 * Twitch round trips however many users are due.
 */
export function splitChecks(count: number, ownLeft: number): { own: number; lanes: number[] } {
  const own = Math.max(0, Math.min(ownLeft, count <= CHECKED_ALONE_UP_TO ? count : COPIES_PER_LANE));
  const lanes: number[] = [];
  for (let rest = count - own; rest > 0; rest -= COPIES_PER_LANE) lanes.push(Math.min(COPIES_PER_LANE, rest));
  return { own, lanes };
}

/** Bounds on the gap between two batches while users are due. */
export const MIN_TICK_MS = 1_000;
export const MAX_TICK_MS = 60_000;
/** A user whose validation failed (Twitch down) is retried this much later. */
export const RETRY_AFTER_FAILURE_MS = 5 * 60_000;
/** A registered user whose last proof of life is older than this is validated at once, not at their moment. */
export const OVERDUE_AFTER_MS = SWEEP_CYCLE_MS;

/** Where a user falls in the cycle: FNV-1a of the id, in milliseconds from the cycle's start. */
export function slotOf(userId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % SWEEP_CYCLE_MS;
}

/** The start of the cycle that `at` falls in. */
export const cycleStart = (at: number): number => at - (at % SWEEP_CYCLE_MS);

/**
 * Users per round for `activeUsers`: enough that rounds, each lasting about two Twitch round trips
 * (its copies checked in waves of six, on lanes, or one vault call), get through a cycle's visits
 * in half the cycle at 400 ms per call; at least `SWEEP_CONCURRENCY`.
 */
export function sweepConcurrency(activeUsers: number): number {
  const visitsPerSecond = activeUsers / (SWEEP_CYCLE_MS / 1000 / 2);
  return Math.min(MAX_SWEEP_CONCURRENCY, Math.max(SWEEP_CONCURRENCY, Math.ceil(2 * visitsPerSecond)));
}

/** Users per batch for `activeUsers`: four rounds, between `SWEEP_BATCH_SIZE` and `MAX_SWEEP_BATCH_SIZE`. */
export function sweepBatchSize(activeUsers: number): number {
  return Math.min(MAX_SWEEP_BATCH_SIZE, Math.max(SWEEP_BATCH_SIZE, 4 * sweepConcurrency(activeUsers)));
}

/** What the directory knows when it plans its next batch. */
export interface DirectoryState {
  activeUsers: number;
  /** Whether users are waiting now (overdue, retries, a forced pass, moments already passed). */
  workWaiting: boolean;
  /** The soonest moment anyone falls due (a user's moment or a retry), or null when none will. */
  nextDueAt: number | null;
}

/**
 * When the next batch runs. While users wait, batches are spaced so full batches would get
 * through a cycle's visits in half the cycle, `SWEEP_CYCLE_MS / 2 × batch / active` apart (twice
 * the pace needed, to catch up after a burst; one a second at most, one a minute at least), counted from
 * when the last batch started (`batchStartedAt`, default `now`) so slow batches do not stretch the
 * cadence; otherwise the alarm waits for the next user to fall due, and at least a minute, which
 * batches small, spread-out user bases. Null when nobody will fall due.
 */
export function nextBatchAt(now: number, state: DirectoryState, batchStartedAt = now): number | null {
  if (state.activeUsers === 0 || state.nextDueAt === null) return state.workWaiting ? now + MIN_TICK_MS : null;
  if (state.workWaiting) {
    const spacing = (SWEEP_CYCLE_MS / 2) * (sweepBatchSize(state.activeUsers) / state.activeUsers);
    return Math.max(now, batchStartedAt + Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, spacing)));
  }
  return Math.max(state.nextDueAt, batchStartedAt + MAX_TICK_MS, now + MIN_TICK_MS);
}

/**
 * What the directory records after one visit: the user stays on their moment (`'moment'`), is
 * retried at a time, goes idle (their token expired and nobody asked for another: nothing in use
 * to validate until a caller brings them back), or leaves the sweep (revoked, logged out, gone).
 */
export type NextVisit = { kind: 'moment' } | { kind: 'retry'; at: number } | { kind: 'idle' } | { kind: 'gone' };

/** The directory's rule for one visit's outcome. */
export function nextVisit(outcome: ValidationOutcome, now: number): NextVisit {
  if (outcome === 'inactive' || outcome === 'revoked') return { kind: 'gone' };
  if (outcome === 'idle') return { kind: 'idle' };
  if (outcome === 'failed') return { kind: 'retry', at: now + RETRY_AFTER_FAILURE_MS };
  return { kind: 'moment' };
}

/** Re-exported for the benchmarks: a user proven alive more recently than this is not validated again. */
export { VALIDATION_SKIP_WINDOW_MS };
