import type { AccessCopy } from '../vault/vault-types';
import { type AccessCopyRow, copyFromRow, isUsable } from './access-copies';
import { type GONE, IDLE, IN_USE, ON_MOMENT, type StateRow } from './directory-schema';
import { cycleStart, slotOf, SWEEP_CYCLE_MS } from './schedule';

/**
 * Every statement the sweep runs on the directory's `users` and `sweep_state` tables, in one place,
 * so what each costs in rows read and written can be read off here (docs/storage.md). Holds no
 * state of its own: the SQLite database is the truth.
 */

/** A position in the sweep's order: the moment (epoch ms) and, within it, the last user done. */
export interface Cursor {
  at: number;
  /** Users of moment `at` up to and including this id are done; null: none of that moment yet. */
  userId: string | null;
}

/** A user in use as a batch reads them: position, whether owed, login and copy. */
export type UserRow = { user_id: string; slot: number; next_due_at: number; login: string | null } & AccessCopyRow;
/** A user owed a visit as a batch reads them. */
export type OwedRow = { user_id: string; forced: number; login: string | null } & AccessCopyRow;

/** Where a user stands in the sweep: in use, set aside (idle), or out (gone). */
export type UserState = typeof IN_USE | typeof IDLE | typeof GONE;

const counterOf = (state: number) => (state === IN_USE ? 'in_use' : state === IDLE ? 'idle' : 'gone');

/** Changes to the `sweep_state` counters a batch makes, written with the round's position (the same row). */
export type CounterChanges = Record<'in_use' | 'idle' | 'gone', number>;
/** No change yet. */
export const noCounterChanges = (): CounterChanges => ({ in_use: 0, idle: 0, gone: 0 });

/** The directory's rows (see the module comment). */
export class DirectoryRows {
  constructor(private readonly sql: SqlStorage) {}

  /** The one `sweep_state` row. */
  state(): StateRow {
    return this.sql.exec<StateRow>('SELECT * FROM sweep_state').one();
  }

  /**
   * Moves a user between in use, idle and gone, keeping the counters. `dueAt`: ON_MOMENT, or when
   * they are owed a visit.
   */
  setUser(userId: string, active: UserState, dueAt: number): void {
    const previous = this.sql.exec<{ active: number; next_due_at: number }>('SELECT active, next_due_at FROM users WHERE user_id = ?', userId).toArray()[0];
    if (!previous) {
      this.sql.exec('INSERT INTO users (user_id, next_due_at, active, forced, slot) VALUES (?, ?, ?, 0, ?)', userId, dueAt, active, slotOf(userId));
    } else if (previous.next_due_at !== dueAt) {
      this.sql.exec('UPDATE users SET active = ?, next_due_at = ?, forced = 0 WHERE user_id = ?', active, dueAt, userId);
    } else if (previous.active !== active) {
      // Only the column that changed: no index entry is rewritten.
      this.sql.exec('UPDATE users SET active = ? WHERE user_id = ?', active, userId);
    }
    if (previous?.active === active) return;
    const from = previous ? `, ${counterOf(previous.active)} = ${counterOf(previous.active)} - 1` : '';
    this.sql.exec(`UPDATE sweep_state SET ${counterOf(active)} = ${counterOf(active)} + 1${from}`);
  }

  /**
   * Takes a user a batch found in use out of the sweep, idle or gone, forgetting their copy: one row
   * written (no indexed column changes unless they were owed a visit). The counters move in
   * `counters`, which the batch writes with the round's position: no second row.
   */
  leaveSweep(userId: string, to: typeof IDLE | typeof GONE, counters: CounterChanges): void {
    const previous = this.sql.exec<{ active: number; next_due_at: number }>('SELECT active, next_due_at FROM users WHERE user_id = ?', userId).toArray()[0];
    if (!previous) return;
    if (previous.active === to) {
      this.clearCopy(userId);
      return;
    }
    const onMoment = previous.next_due_at === ON_MOMENT ? '' : `, next_due_at = ${ON_MOMENT}, forced = 0`;
    this.sql.exec(`UPDATE users SET active = ?, sealed_access = NULL, copy_expires_at = NULL${onMoment} WHERE user_id = ?`, to, userId);
    counters[counterOf(previous.active)]--;
    counters[counterOf(to)]++;
  }

  /**
   * A caller brought the user back: in use again, on their moment, holding the copy of the token
   * the caller's refresh made (unless one of a later generation is held): one row and the counters'
   * row. Returns whether the user was out of the sweep (a user still in use only has the copy kept).
   */
  rejoin(userId: string, copy: AccessCopy | undefined): boolean {
    const row = this.sql
      .exec<{ active: number; next_due_at: number } & AccessCopyRow>(
        'SELECT active, next_due_at, sealed_access, copy_generation, copy_expires_at FROM users WHERE user_id = ?',
        userId,
      )
      .toArray()[0];
    if (row?.active === IN_USE) {
      this.storeCopy(userId, copyFromRow(row), copy);
      return false;
    }
    if (!row) {
      this.setUser(userId, IN_USE, ON_MOMENT);
      this.storeCopy(userId, null, copy);
      return true;
    }
    const takeCopy = copy && isUsable(copy, Date.now()) && (row.copy_generation === null || row.copy_generation <= copy.generation);
    const onMoment = row.next_due_at === ON_MOMENT ? '' : `, next_due_at = ${ON_MOMENT}, forced = 0`;
    if (takeCopy) {
      this.sql.exec(
        `UPDATE users SET active = ${IN_USE}, sealed_access = ?, copy_generation = ?, copy_expires_at = ?${onMoment} WHERE user_id = ?`,
        copy.sealedAccessToken,
        copy.generation,
        copy.expiresAt,
        userId,
      );
    } else {
      this.sql.exec(`UPDATE users SET active = ${IN_USE}${onMoment} WHERE user_id = ?`, userId);
    }
    this.sql.exec(`UPDATE sweep_state SET in_use = in_use + 1, ${counterOf(row.active)} = ${counterOf(row.active)} - 1`);
    return true;
  }

  /** Puts an owed user back on their moment (`ON_MOMENT`) or owes them a visit at `dueAt`. */
  setDue(userId: string, dueAt: number, options: { clearForced: boolean }): void {
    this.sql.exec(`UPDATE users SET next_due_at = ?${options.clearForced ? ', forced = 0' : ''} WHERE user_id = ?`, dueAt, userId);
  }

  /**
   * Keeps a copy a visit brought back, when it is newer than the one held, or the same token
   * sealed anew or with an earlier expiry (Twitch's word); a copy past use is not kept.
   */
  storeCopy(userId: string, held: AccessCopy | null, copy: AccessCopy | undefined): void {
    if (!copy || (!isUsable(copy, Date.now()) && !held)) return;
    if (held && copy.generation < held.generation) return;
    const sameAsHeld =
      held && copy.generation === held.generation && copy.sealedAccessToken === held.sealedAccessToken && copy.expiresAt >= held.expiresAt - 60_000;
    if (sameAsHeld) return;
    this.sql.exec(
      // The generation check in SQL too: a later generation stored meanwhile is never overwritten.
      `UPDATE users SET sealed_access = ?, copy_generation = ?, copy_expires_at = ?
       WHERE user_id = ? AND (copy_generation IS NULL OR copy_generation <= ?)`,
      copy.sealedAccessToken,
      copy.generation,
      copy.expiresAt,
      userId,
      copy.generation,
    );
  }

  /**
   * Forgets a user's copy (a new login, gone idle or out of the sweep); writes nothing when there is
   * none. The generation stays, so a copy older than the forgotten one is never stored again.
   */
  clearCopy(userId: string): void {
    this.sql.exec('UPDATE users SET sealed_access = NULL, copy_expires_at = NULL WHERE user_id = ? AND sealed_access IS NOT NULL', userId);
  }

  /** Users in use owed a visit by `now` (overdue at registration, retries), soonest first. */
  owedBy(now: number, limit: number): OwedRow[] {
    return this.sql
      .exec<OwedRow>(
        `SELECT user_id, forced, login, sealed_access, copy_generation, copy_expires_at FROM users WHERE active = ${IN_USE} AND next_due_at > ${ON_MOMENT} AND next_due_at <= ?
         ORDER BY next_due_at LIMIT ?`,
        now,
        limit,
      )
      .toArray();
  }

  /**
   * Users in use after (`slot`, `userId`) up to slot `lastSlot`, in order. `onMomentOnly` leaves
   * out users owed a visit (the batch takes them first).
   */
  usersAfter(slot: number, userId: string | null, lastSlot: number, limit: number, onMomentOnly: boolean): UserRow[] {
    return this.sql
      .exec<UserRow>(
        `SELECT user_id, slot, next_due_at, login, sealed_access, copy_generation, copy_expires_at FROM users
         WHERE (slot, user_id) > (?, ?) AND slot <= ? AND active = ${IN_USE}
         ${onMomentOnly ? `AND next_due_at = ${ON_MOMENT}` : ''}
         ORDER BY slot, user_id LIMIT ?`,
        // A row-value comparison, so SQLite walks the (slot, user_id) index from the cursor instead
        // of scanning every user: rows read grow with the users passed, not with the directory.
        slot,
        // Before any id: no user of `slot` is done yet.
        userId ?? '',
        lastSlot,
        limit,
      )
      .toArray();
  }

  /** Users owed a visit now: overdue or retried, and those a forced pass has not reached yet. */
  owedCount(state: StateRow, now: number): number {
    const owed = this.sql
      .exec<{ owed: number }>(`SELECT COUNT(*) AS owed FROM users WHERE active = ${IN_USE} AND next_due_at > ${ON_MOMENT} AND next_due_at <= ?`, now)
      .one().owed;
    if (state.forced_slot === null) return owed;
    const forced = this.sql
      .exec<{ forced: number }>(
        `SELECT COUNT(*) AS forced FROM users WHERE (slot, user_id) > (?, ?) AND active = ${IN_USE}
         AND NOT (next_due_at > ${ON_MOMENT} AND next_due_at <= ?)`,
        state.forced_slot,
        state.forced_user ?? '',
        now,
      )
      .one().forced;
    return owed + forced;
  }

  /** The soonest time a user in use is owed a visit, or null. */
  earliestOwed(): number | null {
    return this.sql.exec<{ at: number | null }>(`SELECT MIN(next_due_at) AS at FROM users WHERE active = ${IN_USE} AND next_due_at > ${ON_MOMENT}`).one().at;
  }

  /** When the next user on their moment falls due after the cursor (this cycle or the next), or null. */
  nextMomentAfter(cursor: Cursor): number | null {
    const base = cycleStart(cursor.at);
    const next = this.usersAfter(cursor.at - base, cursor.userId, SWEEP_CYCLE_MS - 1, 1, true)[0];
    if (next) return base + next.slot;
    const first = this.usersAfter(-1, null, SWEEP_CYCLE_MS - 1, 1, true)[0];
    return first ? base + SWEEP_CYCLE_MS + first.slot : null;
  }

  /** Starts a forced pass over every user in use (the operator's "validate everything now"). */
  startForcedPass(): void {
    this.sql.exec('UPDATE sweep_state SET forced_slot = -1, forced_user = NULL');
  }

  /** Ends a forced pass that found nobody left to visit. */
  endForcedPass(): void {
    this.sql.exec('UPDATE sweep_state SET forced_slot = NULL, forced_user = NULL');
  }

  /** Saves the cursor alone. */
  saveCursor(cursor: Cursor): void {
    this.sql.exec('UPDATE sweep_state SET cursor_at = ?, cursor_user = ?', cursor.at, cursor.userId);
  }

  /**
   * Saves, after a round, the position the batch reached (the cursor's, a forced pass's, or none),
   * its number and the round's counter changes (then cleared): one row.
   */
  savePosition(
    batch: number,
    position: { cursor: Cursor } | { forced: { slot: number | null; userId: string | null } } | null,
    counters: CounterChanges,
  ): void {
    const moved = `in_use = in_use + ${counters.in_use}, idle = idle + ${counters.idle}, gone = gone + ${counters.gone}`;
    if (position && 'cursor' in position) {
      this.sql.exec(`UPDATE sweep_state SET cursor_at = ?, cursor_user = ?, batches = ?, ${moved}`, position.cursor.at, position.cursor.userId, batch);
    } else if (position) {
      this.sql.exec(`UPDATE sweep_state SET forced_slot = ?, forced_user = ?, batches = ?, ${moved}`, position.forced.slot, position.forced.userId, batch);
    } else {
      this.sql.exec(`UPDATE sweep_state SET batches = ?, ${moved}`, batch);
    }
    Object.assign(counters, noCounterChanges());
  }
}

/** The saved cursor; after a pause longer than a cycle, one cycle back (everyone once, not twice). */
export function cursorFrom(state: StateRow, now: number): Cursor {
  if (now - state.cursor_at > SWEEP_CYCLE_MS) return { at: now - SWEEP_CYCLE_MS, userId: null };
  return { at: state.cursor_at, userId: state.cursor_user };
}
