import { VALIDATION_SKIP_WINDOW_MS } from '../vault/timing';
import type { ValidationOutcome } from '../vault/vault-types';

/**
 * The sweep's scheduling rule, kept pure so the benchmark (bench/sweep-scale.ts) can run the very
 * same rule over 100,000 users in memory. Times are epoch milliseconds.
 */

/**
 * Users per batch. Each validation is one subrequest (an RPC to that user's vault) from the
 * invocation running the batch; Workers allow 1,000 per invocation, so this keeps a wide margin.
 */
export const SWEEP_BATCH_SIZE = 250;
/** The backlog is spread over this much of each hour rather than drained in a burst. */
export const SPREAD_WINDOW_MS = 50 * 60_000;
/** Bounds on the gap between two batches while users are due. */
export const MIN_TICK_MS = 1_000;
export const MAX_TICK_MS = 60_000;
/** A user whose validation failed (Twitch down) is retried this much later. */
export const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

/**
 * A user falls due this long after their last validation: five minutes before the hour Twitch
 * allows, so batching lag (seconds at 100,000 users, up to a minute at small scale) never takes a
 * user past the hour. It equals the vault's skip window, so a due user is never skipped.
 */
export const VALIDATION_DUE_AFTER_MS = VALIDATION_SKIP_WINDOW_MS;

/** What the directory knows when it plans its next batch. */
export interface DirectoryState {
  activeUsers: number;
  dueUsers: number;
  /** The soonest `next_due_at` of an active user, or null when none is active. */
  earliestDueAt: number | null;
}

/**
 * When the next batch runs. While users are due, batches are spaced so the backlog drains over the
 * spread window (one a second at most, one a minute at least), counted from when the last batch
 * started (`batchStartedAt`, default `now`) so that slow batches do not stretch the cadence;
 * otherwise the alarm waits for the next user to fall due, and at least a minute. Null when no
 * user is active.
 */
export function nextBatchAt(now: number, state: DirectoryState, batchStartedAt = now): number | null {
  if (state.activeUsers === 0 || state.earliestDueAt === null) return null;
  if (state.dueUsers > 0) {
    const spacing = (SPREAD_WINDOW_MS * SWEEP_BATCH_SIZE) / state.activeUsers;
    return Math.max(now, batchStartedAt + Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, spacing)));
  }
  // Waiting at least a minute batches users who fall due one by one (a small, spread-out user
  // base) instead of waking once per user; the five minutes of slack in the due time absorb it.
  return Math.max(state.earliestDueAt, batchStartedAt + MAX_TICK_MS, now + MIN_TICK_MS);
}

/**
 * When a user is next due after one validation: shortly before an hour after the last proof the grant lives, soon
 * after a failure, or never (null) once the user is revoked or gone.
 */
export function nextDueAt(outcome: ValidationOutcome, lastValidatedAt: number | null, now: number): number | null {
  if (outcome === 'inactive' || outcome === 'revoked') return null;
  if (outcome === 'failed') return now + RETRY_AFTER_FAILURE_MS;
  return Math.max((lastValidatedAt ?? now) + VALIDATION_DUE_AFTER_MS, now + MIN_TICK_MS);
}
