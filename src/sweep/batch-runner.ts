import type { Config } from '../config';
import { logEvent } from '../log';
import type { AccessCopy, UserValidation, ValidateOptions, ValidationOutcome } from '../vault/vault-types';
import { copyFromRow, CopyValidator, type LanePort } from './access-copies';
import { recordLogins } from './directory-listing';
import { type CounterChanges, cursorFrom, type Cursor, type DirectoryRows, noCounterChanges } from './directory-rows';
import { GONE, IDLE, ON_MOMENT } from './directory-schema';
import { SET_ASIDE_AFTER_MS } from '../vault/timing';
import { cycleStart, nextVisit, slotOf, SWEEP_CYCLE_MS, sweepBatchSize, sweepConcurrency, VALIDATION_SKIP_WINDOW_MS } from './schedule';
import { emptySweepCounts, type SweepCounts } from './sweep-counts';
import { recordEvidence } from './sweep-evidence';

/**
 * One batch of the hourly validation, over the directory's rows and two ports: the vaults and the
 * lanes. In production the ports are Durable Object RPCs (src/sweep/user-directory.ts); a test of
 * the batch logic may answer for them (the port is the seam, not our code mocked away: the sweep's
 * end-to-end tests run over real vaults).
 *
 * Users are visited in rounds; after each round, in one synchronous block (so they commit
 * together), the rows that change are moved, the batch's evidence row is updated and the position
 * reached is saved. A crash mid-round redoes that round only.
 */

/** How the batch reaches a user's vault. A port that throws counts as a failure to retry. */
export interface VaultPort {
  validate(userId: string, options: ValidateOptions): Promise<UserValidation>;
}

/** What the batch needs. */
export interface BatchDeps {
  sql: SqlStorage;
  rows: DirectoryRows;
  config: Config;
  vaults: VaultPort;
  lanes: LanePort;
  tracking: VisitTracking;
}

/**
 * Users a batch is visiting right now, and what callers did to them meanwhile: kept in memory by
 * the directory, since callers' RPCs interleave with a batch's awaits.
 */
export class VisitTracking {
  /** Users a batch is visiting right now. */
  private readonly visiting = new Set<string>();
  /** Users a caller brought back while a batch was visiting them: their `idle` answer is stale. */
  private readonly rejoined = new Set<string>();
  /** Users whose vault replaced or dropped its token while a batch was visiting them: the copy it brings back may be stale. */
  private readonly copyForgotten = new Set<string>();

  /** A caller brought the user back (or registered them) now. */
  noteRejoined(userId: string): void {
    if (this.visiting.has(userId)) this.rejoined.add(userId);
  }

  /** The user's vault replaced or dropped its token now. */
  noteCopyForgotten(userId: string): void {
    if (this.visiting.has(userId)) this.copyForgotten.add(userId);
  }

  start(userId: string): void {
    this.visiting.add(userId);
  }

  /** Ends a visit: whether the user was brought back, and whether their copy was forgotten, during it. */
  finish(userId: string): { rejoined: boolean; forgotten: boolean } {
    this.visiting.delete(userId);
    return { rejoined: this.rejoined.delete(userId), forgotten: this.copyForgotten.delete(userId) };
  }
}

interface Visit {
  userId: string;
  force: boolean;
  /** `next_due_at` when the user was picked: a user owed a visit has their row moved on. */
  owed: boolean;
  /** The sealed copy of the user's access token the directory holds, if any. */
  copy: AccessCopy | null;
  /** The login the directory searches by (null: registered before logins were kept). */
  login: string | null;
}

/** Runs one batch: users owed a visit, then a forced pass if one is under way, then users whose moment has come. */
export async function runBatch(deps: BatchDeps): Promise<SweepCounts> {
  const { rows } = deps;
  const startedAt = Date.now();
  const state = rows.state();
  const concurrency = sweepConcurrency(state.in_use);
  let budget = sweepBatchSize(state.in_use);
  const counts = emptySweepCounts();
  /** Users set aside or gone in the current round: written with its position. */
  const counters = noCounterChanges();
  // One per batch: it keeps count of the calls to Twitch this invocation makes itself.
  const validator = new CopyValidator(deps.config, (userId, options) => validateOne(deps.vaults, userId, options), deps.lanes);
  const notValidated: string[] = [];
  // Set, not incremented, with each round's position: a batch that dies before its first round reuses the number.
  const batch = state.batches + 1;
  let cursor = cursorFrom(state, startedAt);
  const momentsFrom = cursor.at;
  let forcedSlot: number | null = state.forced_slot;
  let forcedUser: string | null = state.forced_user;

  /** Visits one round of users at once, then records it (see the module comment). */
  const visitRound = async (round: Visit[], position: 'cursor' | 'forced' | 'none', savePosition: () => void = () => {}) => {
    for (const user of round) deps.tracking.start(user.userId);
    const results = await validator.visit(round);
    round.forEach((user, i) => {
      const result = results[i]!;
      recordOutcome(deps, user, result, cursor.at, counters);
      countOutcome(counts, result.outcome);
      if (result.outcome === 'revoked' || result.outcome === 'failed') notValidated.push(`${user.userId}:${result.outcome}`);
    });
    savePosition();
    rows.savePosition(
      batch,
      position === 'cursor' ? { cursor } : position === 'forced' ? { forced: { slot: forcedSlot, userId: forcedUser } } : null,
      counters,
    );
    recordEvidence(deps.sql, { batch, startedAt, momentsFrom, momentsTo: cursor.at, counts, notValidated });
  };

  // 1. Users owed a visit (overdue at registration, retries).
  const owed = rows
    .owedBy(startedAt, budget)
    .map(
      (row): Visit => ({ userId: row.user_id, force: row.forced === 1 || state.forced_slot !== null, owed: true, copy: copyFromRow(row), login: row.login }),
    );
  const visitedOwed = new Set(owed.map((user) => user.userId));
  for (let i = 0; i < owed.length; i += concurrency) await visitRound(owed.slice(i, i + concurrency), 'none');
  budget -= owed.length;

  // 2. A forced pass, if one is under way: every user in use, in (slot, user_id) order.
  if (budget > 0 && state.forced_slot !== null) {
    const forced = rows.usersAfter(state.forced_slot, state.forced_user, SWEEP_CYCLE_MS - 1, budget, false);
    // Fewer than asked for: the pass ends with this batch (a null position ends it).
    const passEnds = forced.length < budget;
    for (let i = 0; i < forced.length; i += concurrency) {
      const round = forced.slice(i, i + concurrency);
      const last = round[round.length - 1]!;
      const final = passEnds && i + concurrency >= forced.length;
      await visitRound(
        // Users just visited as owed (with force, since a forced pass is under way) are not visited twice.
        round
          .filter((row) => !visitedOwed.has(row.user_id))
          .map((row) => ({ userId: row.user_id, force: true, owed: row.next_due_at > ON_MOMENT, copy: copyFromRow(row), login: row.login })),
        'forced',
        () => {
          forcedSlot = final ? null : last.slot;
          forcedUser = final ? null : last.user_id;
        },
      );
    }
    if (forced.length === 0) rows.endForcedPass();
    budget -= forced.length;
  }

  // 3. Users whose moment has come since the cursor, cycle by cycle.
  while (budget > 0 && cursor.at <= startedAt) {
    const base = cycleStart(cursor.at);
    const segmentEnd = Math.min(startedAt, base + SWEEP_CYCLE_MS - 1);
    const users = rows.usersAfter(cursor.at - base, cursor.userId, segmentEnd - base, budget, true);
    // Fewer than asked for: the segment is exhausted, and every moment up to its end is done.
    const exhausted = users.length < budget;
    for (let i = 0; i < users.length; i += concurrency) {
      const round = users.slice(i, i + concurrency);
      const last = round[round.length - 1]!;
      const final = exhausted && i + concurrency >= users.length;
      await visitRound(
        round.map((row) => ({ userId: row.user_id, force: false, owed: false, copy: copyFromRow(row), login: row.login })),
        'cursor',
        () => {
          cursor = final ? { at: segmentEnd + 1, userId: null } : { at: base + last.slot, userId: last.user_id };
        },
      );
    }
    budget -= users.length;
    if (exhausted && users.length === 0) {
      cursor = { at: segmentEnd + 1, userId: null } satisfies Cursor;
      rows.saveCursor(cursor);
    }
  }

  counts.remaining = rows.owedCount(rows.state(), Date.now());
  return counts;
}

/** Wakes the user's vault to validate (or to hand over its copy); a vault that cannot be reached is a failure to retry. */
async function validateOne(vaults: VaultPort, userId: string, options: ValidateOptions): Promise<UserValidation> {
  try {
    return await vaults.validate(userId, options);
  } catch (error) {
    logEvent('sweep.vault_unreachable', { userId, reason: error instanceof Error ? error.name : 'unknown' });
    return { outcome: 'failed', lastValidatedAt: null };
  }
}

/**
 * Writes the user's row only when the visit changes something (see `nextVisit` in schedule.ts). A
 * user whose token expired less than SET_ASIDE_AFTER_MS ago stays in use, unwritten: the vault
 * refreshing that token tells the directory nothing, since the next visit meets the new one.
 */
function recordOutcome(deps: BatchDeps, user: Visit, result: UserValidation, cursorAt: number, counters: CounterChanges): void {
  const { rows } = deps;
  const now = Date.now();
  let next = nextVisit(result.outcome, now);
  const { rejoined, forgotten } = deps.tracking.finish(user.userId);
  if (next.kind === 'idle' && rejoined) return;
  // An answer without the expiry (none should come) is set aside, as before the grace existed.
  if (next.kind === 'idle' && result.expiredAt !== undefined && now - result.expiredAt < SET_ASIDE_AFTER_MS) next = { kind: 'moment' };
  // A copy handed over before a new login registered the user (or the vault replaced its token) may be stale.
  if (!rejoined && !forgotten && next.kind !== 'idle' && next.kind !== 'gone') rows.storeCopy(user.userId, user.copy, result.copy);
  // A renamed user is found by the new login; compared with the row the batch read, so an
  // unchanged login costs no statement.
  if (result.login && result.login.toLowerCase() !== user.login) recordLogins(deps.sql, [{ userId: user.userId, login: result.login }]);
  if (next.kind === 'moment') {
    if (user.owed) {
      // Back on their moment, unless it comes up within the skip window (or the cursor has yet
      // to reach it): then the one after, owed, so the visit just made is not made twice.
      const slot = slotOf(user.userId);
      let moment = cycleStart(cursorAt) + slot;
      if (moment < cursorAt) moment += SWEEP_CYCLE_MS;
      const dueAt = moment - now < VALIDATION_SKIP_WINDOW_MS ? moment + SWEEP_CYCLE_MS : ON_MOMENT;
      rows.setDue(user.userId, dueAt, { clearForced: true });
    }
  } else if (next.kind === 'retry') {
    rows.setDue(user.userId, next.at, { clearForced: false });
  } else {
    // An expired or dead token is worth nothing to keep: the vault hands over the next one.
    rows.leaveSweep(user.userId, next.kind === 'idle' ? IDLE : GONE, counters);
  }
}

function countOutcome(counts: SweepCounts, outcome: ValidationOutcome): void {
  // `handed_over` never reaches here (the validator checks the copy); counted as skipped should it.
  if (outcome === 'inactive' || outcome === 'idle' || outcome === 'handed_over') counts.skipped++;
  else counts[outcome]++;
}
