import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { getConfig } from '../config';
import { ConfigError } from '../errors';
import { logEvent } from '../log';
import { observeBatch } from '../metrics/metrics';
import { userVault } from '../vault/stubs';
import type { AccessCopy, UserValidation, ValidateOptions, ValidationOutcome } from '../vault/vault-types';
import { type AccessCopyRow, copyFromRow, CopyValidator, isUsable } from './access-copies';
import { checkCopies, type CopyCheck, type CopyToCheck } from './copy-check';
import {
  cycleStart,
  MAX_TICK_MS,
  nextBatchAt,
  nextVisit,
  OVERDUE_AFTER_MS,
  slotOf,
  SWEEP_CYCLE_MS,
  sweepBatchSize,
  sweepConcurrency,
  VALIDATION_SKIP_WINDOW_MS,
} from './schedule';
import { checkSweepSettings } from './sweep-settings';
import { listDirectory, migrateDirectoryLogins, recordLogins, type DirectoryPage, type DirectoryQuery } from './directory-listing';
import { emptySweepCounts, visitedIn, type SweepCounts } from './sweep-counts';

export { SWEEP_BATCH_SIZE, SWEEP_CONCURRENCY } from './schedule';

/** `users.active`: in the sweep, set aside until a caller brings them back, or out for good. */
const IN_USE = 1;
const IDLE = 2;
const GONE = 0;
/** `users.next_due_at` of a user visited at their moment in the cycle, with nothing owed besides. */
const ON_MOMENT = 0;
/** Batches whose evidence is kept (a ring): a day at 100,000 users, longer with fewer. */
const EVIDENCE_KEPT = 10_000;

/** A position in the sweep's order: the moment (epoch ms) and, within it, the last user done. */
interface Cursor {
  at: number;
  /** Users of moment `at` up to and including this id are done; null: none of that moment yet. */
  userId: string | null;
}

type StateRow = {
  cursor_at: number;
  cursor_user: string | null;
  forced_slot: number | null;
  forced_user: string | null;
  in_use: number;
  idle: number;
  gone: number;
  batches: number;
};

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

/**
 * The index of every user with a grant, and the driver of the hourly validation. Each user has a
 * fixed moment in a 54-minute cycle (a hash of the id, `slotOf`): the alarm visits users in batches
 * as the clock passes their moments, keeping one cursor, so a routine validation writes nothing
 * per user; each batch leaves one evidence row. Rows are written only for exceptions: a user to
 * retry, registered overdue, gone idle (no token in use) or gone. A crash mid-batch resumes from
 * the cursor, saved after every round of calls, so at most one round of visits is repeated.
 * Batches never overlap: the cron, `/admin/sweep` and the alarm queue behind one another.
 */
export class UserDirectory extends DurableObject<Env> {
  private batchQueue: Promise<unknown> = Promise.resolve();
  /** Users a batch is visiting right now. */
  private readonly visiting = new Set<string>();
  /** Users a caller brought back while a batch was visiting them: their `idle` answer is stale. */
  private readonly rejoined = new Set<string>();
  /** Users whose vault replaced or dropped its token while a batch was visiting them: the copy it brings back may be stale. */
  private readonly copyForgotten = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS users (
      user_id TEXT PRIMARY KEY,
      next_due_at INTEGER NOT NULL,
      active INTEGER NOT NULL DEFAULT 1,
      forced INTEGER NOT NULL DEFAULT 0
    )`);
    // `forced` and `slot` came after the first version of the table: add them to tables made before.
    const columns = sql.exec<{ name: string }>('PRAGMA table_info(users)').toArray();
    if (!columns.some((column) => column.name === 'forced')) sql.exec('ALTER TABLE users ADD COLUMN forced INTEGER NOT NULL DEFAULT 0');
    if (!columns.some((column) => column.name === 'slot')) {
      sql.exec('ALTER TABLE users ADD COLUMN slot INTEGER NOT NULL DEFAULT 0');
      // Rows of the first version keep their `next_due_at`: each is visited once more at that time.
      for (const { user_id: userId } of sql.exec<{ user_id: string }>('SELECT user_id FROM users').toArray()) {
        sql.exec('UPDATE users SET slot = ? WHERE user_id = ?', slotOf(userId), userId);
      }
    }
    // Neither index holds `active`: a user going idle or coming back rewrites one row, no index
    // entry. `users_schedule` serves both the owed (next_due_at > 0, by time) and the users on
    // their moment (next_due_at = 0, in (slot, user_id) order from the cursor); `users_by_moment`
    // serves a forced pass over everyone.
    this.migrateAccessCopies();
    sql.exec('DROP INDEX IF EXISTS users_due');
    sql.exec('CREATE INDEX IF NOT EXISTS users_schedule ON users (next_due_at, slot, user_id)');
    sql.exec('CREATE INDEX IF NOT EXISTS users_by_moment ON users (slot, user_id)');
    sql.exec(`CREATE TABLE IF NOT EXISTS sweep_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      cursor_at INTEGER NOT NULL,
      cursor_user TEXT,
      forced_slot INTEGER,
      forced_user TEXT,
      in_use INTEGER NOT NULL,
      idle INTEGER NOT NULL,
      gone INTEGER NOT NULL,
      batches INTEGER NOT NULL
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS sweep_evidence (
      ring INTEGER PRIMARY KEY,
      batch INTEGER NOT NULL,
      started_at INTEGER NOT NULL,
      finished_at INTEGER NOT NULL,
      moments_from INTEGER NOT NULL,
      moments_to INTEGER NOT NULL,
      visited INTEGER NOT NULL,
      validated INTEGER NOT NULL,
      refreshed INTEGER NOT NULL,
      revoked INTEGER NOT NULL,
      failed INTEGER NOT NULL,
      skipped INTEGER NOT NULL,
      not_validated TEXT NOT NULL
    )`);
    if (sql.exec('SELECT 1 FROM sweep_state').toArray().length === 0) {
      // Counters instead of scans; a directory from before counts its rows once, here.
      const counts = sql
        .exec<{ in_use: number; idle: number; gone: number }>(
          `SELECT COALESCE(SUM(active = ${IN_USE}), 0) AS in_use, COALESCE(SUM(active = ${IDLE}), 0) AS idle,
                  COALESCE(SUM(active = ${GONE}), 0) AS gone FROM users`,
        )
        .one();
      sql.exec(
        'INSERT INTO sweep_state (id, cursor_at, cursor_user, in_use, idle, gone, batches) VALUES (1, ?, NULL, ?, ?, ?, 0)',
        Date.now(),
        counts.in_use,
        counts.idle,
        counts.gone,
      );
    }
    // The admin console's logins and search (src/sweep/directory-listing.ts).
    migrateDirectoryLogins(sql);
  }

  /**
   * Migration step (issue 12): the sealed copy of each user's current access token, which the sweep
   * validates without waking the vault (src/sweep/access-copies.ts). No index holds these columns,
   * so storing a copy (once per token a vault hands over) writes one row and no index entry.
   */
  private migrateAccessCopies(): void {
    const sql = this.ctx.storage.sql;
    const columns = sql.exec<{ name: string }>('PRAGMA table_info(users)').toArray();
    if (columns.some((column) => column.name === 'sealed_access')) return;
    sql.exec('ALTER TABLE users ADD COLUMN sealed_access TEXT');
    sql.exec('ALTER TABLE users ADD COLUMN copy_generation INTEGER');
    sql.exec('ALTER TABLE users ADD COLUMN copy_expires_at INTEGER');
  }

  private state(): StateRow {
    return this.ctx.storage.sql.exec<StateRow>('SELECT * FROM sweep_state').one();
  }

  /**
   * Moves a user between in use, idle and gone, keeping the counters. `dueAt`: ON_MOMENT, or when
   * they are owed a visit.
   */
  private setUser(userId: string, active: number, dueAt: number): void {
    const sql = this.ctx.storage.sql;
    const previous = sql.exec<{ active: number; next_due_at: number }>('SELECT active, next_due_at FROM users WHERE user_id = ?', userId).toArray()[0];
    if (!previous) {
      sql.exec('INSERT INTO users (user_id, next_due_at, active, forced, slot) VALUES (?, ?, ?, 0, ?)', userId, dueAt, active, slotOf(userId));
    } else if (previous.next_due_at !== dueAt) {
      sql.exec('UPDATE users SET active = ?, next_due_at = ?, forced = 0 WHERE user_id = ?', active, dueAt, userId);
    } else if (previous.active !== active) {
      // Only the column that changed: no index entry is rewritten.
      sql.exec('UPDATE users SET active = ? WHERE user_id = ?', active, userId);
    }
    if (previous?.active === active) return;
    const column = (state: number) => (state === IN_USE ? 'in_use' : state === IDLE ? 'idle' : 'gone');
    const from = previous ? `, ${column(previous.active)} = ${column(previous.active)} - 1` : '';
    sql.exec(`UPDATE sweep_state SET ${column(active)} = ${column(active)} + 1${from}`);
  }

  /** Adds or re-activates a user last proven alive at `validatedAt`. */
  async register(userId: string, validatedAt: number): Promise<void> {
    await this.registerMany([userId], validatedAt);
  }

  /** Bulk form of `register`, for imports and tests. */
  async registerMany(userIds: string[], validatedAt: number): Promise<void> {
    const now = Date.now();
    // A proof older than a cycle may be older than the hour by the user's moment: validate at once.
    const dueAt = now - validatedAt >= OVERDUE_AFTER_MS ? now : ON_MOMENT;
    for (const userId of userIds) {
      if (this.visiting.has(userId)) this.rejoined.add(userId);
      this.setUser(userId, IN_USE, dueAt);
      // A new login replaced the token the copy holds: the next visit asks the vault for the new one.
      this.clearCopy(userId);
    }
    await this.scheduleNextBatch();
  }

  /**
   * A caller refreshed this user's expired token: they have a token in use again. Called by the
   * vault once per idle spell; the refresh itself was the proof, so they wait for their moment.
   */
  async rejoin(userId: string): Promise<void> {
    if (this.visiting.has(userId)) this.rejoined.add(userId);
    const row = this.ctx.storage.sql.exec<{ active: number }>('SELECT active FROM users WHERE user_id = ?', userId).toArray()[0];
    if (row?.active === IN_USE) return;
    this.setUser(userId, IN_USE, ON_MOMENT);
    await this.scheduleNextBatch();
  }

  // --- The admin console's view (src/sweep/directory-listing.ts): logins, search, paging. ---

  /** `register`, keeping the user's login for the console's search. */
  async registerWithLogin(userId: string, login: string, validatedAt: number): Promise<void> {
    await this.register(userId, validatedAt);
    recordLogins(this.ctx.storage.sql, [{ userId, login }]);
  }

  /** One page of users, by id or by a search (see `listDirectory`). */
  async listUsers(query: DirectoryQuery): Promise<DirectoryPage> {
    return listDirectory(this.ctx.storage.sql, query);
  }

  // --- End of the console's view. ---

  /**
   * The vault replaced its token early (an operator's refresh) or dropped it (logout, deletion):
   * the copy is forgotten, and the next visit asks the vault.
   */
  async forgetCopy(userId: string): Promise<void> {
    if (this.visiting.has(userId)) this.copyForgotten.add(userId);
    this.clearCopy(userId);
  }

  /**
   * As a lane (an instance named `lane-<n>`, holding no users; see `sweepLane`): validates a chunk
   * of copies for the directory from an invocation of its own, with its own six outgoing
   * connections and subrequest allowance. Stores nothing; the directory records every outcome.
   */
  async laneCheck(copies: CopyToCheck[]): Promise<CopyCheck[]> {
    return checkCopies(getConfig(this.env), copies);
  }

  /** How many users are indexed, in the sweep (in use), and owed a visit now. */
  async stats(): Promise<{ users: number; active: number; due: number; nextBatchAt: number | null }> {
    const state = this.state();
    const nextBatchAt = await this.ctx.storage.getAlarm();
    return { users: state.in_use + state.idle + state.gone, active: state.in_use, due: this.owedCount(state, Date.now()), nextBatchAt };
  }

  /**
   * Runs one batch now, after any batch already running. `force` (the operator's "validate
   * everything now") starts a forced pass over every user in use, in the sweep's order, which the
   * alarm's later batches carry on until done; it costs one row, not one per user.
   */
  async sweep(options: { force?: boolean } = {}): Promise<SweepCounts> {
    return this.exclusive(async () => {
      if (options.force) this.ctx.storage.sql.exec('UPDATE sweep_state SET forced_slot = -1, forced_user = NULL');
      const counts = await observeBatch('run', () => this.runBatch());
      await this.scheduleNextBatch();
      return counts;
    });
  }

  override async alarm(): Promise<void> {
    try {
      checkSweepSettings(this.env);
    } catch (error) {
      // One line per batch, not one per user; the batch waits for the next cron, which says it too.
      if (!(error instanceof ConfigError)) throw error;
      logEvent('sweep.skipped', { reason: error.message });
      return;
    }
    await this.exclusive(async () => {
      // Should this invocation die mid-batch (a reset, a deploy), the sweep resumes within a minute
      // from the cursor saved after the last finished round, even if the runtime's retries give up.
      // The alarm set now is where the next batch will most likely go anyway (never over a minute
      // away), so afterwards it is usually left as it is: one write per batch, not two.
      const batchStartedAt = Date.now();
      await this.ctx.storage.setAlarm(Math.min(batchStartedAt + MAX_TICK_MS, this.plannedNextAt(batchStartedAt)));
      await observeBatch('alarm', () => this.runBatch());
      await this.scheduleNextBatch({ replace: true, batchStartedAt });
    });
  }

  /** One batch at a time: whoever arrives while a batch runs waits for it, then sees its cursor. */
  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.batchQueue.then(run, run);
    this.batchQueue = next.catch(() => undefined);
    return next;
  }

  private async runBatch(): Promise<SweepCounts> {
    const startedAt = Date.now();
    const state = this.state();
    const concurrency = sweepConcurrency(state.in_use);
    let budget = sweepBatchSize(state.in_use);
    const counts = emptySweepCounts();
    // One per batch: it keeps count of the calls to Twitch this invocation makes itself.
    const validator = new CopyValidator(this.env, (userId, options) => this.validateOne(userId, options));
    const notValidated: string[] = [];
    // Set, not incremented, with each round's position: a batch that dies before its first round reuses the number.
    const batch = state.batches + 1;
    let cursor = this.cursorFrom(state, startedAt);
    const momentsFrom = cursor.at;

    /**
     * Visits one round of users at once, then, in one synchronous block (so they commit together),
     * moves the rows that change, updates the batch's evidence row and saves the position reached.
     * A crash mid-round redoes that round only.
     */
    const visitRound = async (round: Visit[], position: 'cursor' | 'forced' | 'none', savePosition: () => void = () => {}) => {
      for (const user of round) this.visiting.add(user.userId);
      const results = await validator.visit(round);
      round.forEach((user, i) => {
        const result = results[i]!;
        this.visiting.delete(user.userId);
        this.recordOutcome(user, result, cursor.at);
        countOutcome(counts, result.outcome);
        if (result.outcome === 'revoked' || result.outcome === 'failed') notValidated.push(`${user.userId}:${result.outcome}`);
      });
      savePosition();
      const sql = this.ctx.storage.sql;
      if (position === 'cursor') sql.exec('UPDATE sweep_state SET cursor_at = ?, cursor_user = ?, batches = ?', cursor.at, cursor.userId, batch);
      else if (position === 'forced') sql.exec('UPDATE sweep_state SET forced_slot = ?, forced_user = ?, batches = ?', forcedSlot, forcedUser, batch);
      else sql.exec('UPDATE sweep_state SET batches = ?', batch);
      this.recordEvidence(batch, startedAt, momentsFrom, cursor, counts, notValidated);
    };

    // 1. Users owed a visit (overdue at registration, retries).
    const owed = this.ctx.storage.sql
      .exec<{ user_id: string; forced: number; login: string | null } & AccessCopyRow>(
        `SELECT user_id, forced, login, sealed_access, copy_generation, copy_expires_at FROM users WHERE active = ${IN_USE} AND next_due_at > ${ON_MOMENT} AND next_due_at <= ?
         ORDER BY next_due_at LIMIT ?`,
        startedAt,
        budget,
      )
      .toArray()
      .map((row): Visit => ({ userId: row.user_id, force: row.forced === 1 || state.forced_slot !== null, owed: true, copy: copyFromRow(row), login: row.login }));
    const visitedOwed = new Set(owed.map((user) => user.userId));
    let forcedSlot: number | null = state.forced_slot;
    let forcedUser: string | null = state.forced_user;
    for (let i = 0; i < owed.length; i += concurrency) await visitRound(owed.slice(i, i + concurrency), 'none');
    budget -= owed.length;

    // 2. A forced pass, if one is under way: every user in use, in (slot, user_id) order.
    if (budget > 0 && state.forced_slot !== null) {
      const forced = this.usersAfter(state.forced_slot, state.forced_user, SWEEP_CYCLE_MS - 1, budget, false);
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
      if (forced.length === 0) this.ctx.storage.sql.exec('UPDATE sweep_state SET forced_slot = NULL, forced_user = NULL');
      budget -= forced.length;
    }

    // 3. Users whose moment has come since the cursor, cycle by cycle.
    while (budget > 0 && cursor.at <= startedAt) {
      const base = cycleStart(cursor.at);
      const segmentEnd = Math.min(startedAt, base + SWEEP_CYCLE_MS - 1);
      const users = this.usersAfter(cursor.at - base, cursor.userId, segmentEnd - base, budget, true);
      // Fewer than asked for: the segment is exhausted, and every moment up to its end is done.
      const exhausted = users.length < budget;
      for (let i = 0; i < users.length; i += concurrency) {
        const round = users.slice(i, i + concurrency);
        const last = round[round.length - 1]!;
        const final = exhausted && i + concurrency >= users.length;
        await visitRound(round.map((row) => ({ userId: row.user_id, force: false, owed: false, copy: copyFromRow(row), login: row.login })), 'cursor', () => {
          cursor = final ? { at: segmentEnd + 1, userId: null } : { at: base + last.slot, userId: last.user_id };
        });
      }
      budget -= users.length;
      if (exhausted && users.length === 0) {
        cursor = { at: segmentEnd + 1, userId: null };
        this.saveCursor(cursor);
      }
    }

    counts.remaining = this.owedCount(this.state(), Date.now());
    return counts;
  }

  /**
   * Users in use after (`slot`, `userId`) up to slot `lastSlot`, in order. `onMomentOnly` leaves
   * out users owed a visit (step 1 takes them).
   */
  private usersAfter(slot: number, userId: string | null, lastSlot: number, limit: number, onMomentOnly: boolean) {
    return this.ctx.storage.sql
      .exec<{ user_id: string; slot: number; next_due_at: number; login: string | null } & AccessCopyRow>(
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

  /** The saved cursor; after a pause longer than a cycle, one cycle back (everyone once, not twice). */
  private cursorFrom(state: StateRow, now: number): Cursor {
    if (now - state.cursor_at > SWEEP_CYCLE_MS) return { at: now - SWEEP_CYCLE_MS, userId: null };
    return { at: state.cursor_at, userId: state.cursor_user };
  }

  private saveCursor(cursor: Cursor): void {
    this.ctx.storage.sql.exec('UPDATE sweep_state SET cursor_at = ?, cursor_user = ?', cursor.at, cursor.userId);
  }

  /** Users owed a visit now: overdue or retried, and those a forced pass has not reached yet. */
  private owedCount(state: StateRow, now: number): number {
    const sql = this.ctx.storage.sql;
    const owed = sql
      .exec<{ owed: number }>(`SELECT COUNT(*) AS owed FROM users WHERE active = ${IN_USE} AND next_due_at > ${ON_MOMENT} AND next_due_at <= ?`, now)
      .one().owed;
    if (state.forced_slot === null) return owed;
    const forced = sql
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

  /**
   * One row per batch, in a ring, brought up to date after each round: when it ran, which moments
   * it covered, its counts, and the users it found revoked or could not validate (to be retried).
   * A user in use whose moment falls in a batch's range and who is not listed was validated by it
   * (or had been proven alive minutes before, or had no token in use: the `skipped` count).
   */
  private recordEvidence(batch: number, startedAt: number, from: number, cursor: Cursor, counts: SweepCounts, notValidated: string[]): void {
    const visited = visitedIn(counts);
    this.ctx.storage.sql.exec(
      `INSERT INTO sweep_evidence (ring, batch, started_at, finished_at, moments_from, moments_to, visited, validated, refreshed,
         revoked, failed, skipped, not_validated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(ring) DO UPDATE SET batch = excluded.batch, started_at = excluded.started_at, finished_at = excluded.finished_at,
         moments_from = excluded.moments_from, moments_to = excluded.moments_to, visited = excluded.visited,
         validated = excluded.validated, refreshed = excluded.refreshed, revoked = excluded.revoked, failed = excluded.failed,
         skipped = excluded.skipped, not_validated = excluded.not_validated`,
      batch % EVIDENCE_KEPT,
      batch,
      startedAt,
      Date.now(),
      from,
      cursor.at,
      visited,
      counts.validated,
      counts.refreshed,
      counts.revoked,
      counts.failed,
      counts.skipped,
      notValidated.join(' '),
    );
  }

  /** The kept evidence, newest first: what each batch validated (see `recordEvidence`). */
  async evidence(limit = 100): Promise<SweepEvidence[]> {
    return this.ctx.storage.sql
      .exec<EvidenceRow>('SELECT * FROM sweep_evidence ORDER BY batch DESC LIMIT ?', limit)
      .toArray()
      .map((row) => ({
        batch: row.batch,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        momentsFrom: row.moments_from,
        momentsTo: row.moments_to,
        visited: row.visited,
        validated: row.validated,
        refreshed: row.refreshed,
        revoked: row.revoked,
        failed: row.failed,
        skipped: row.skipped,
        notValidated: row.not_validated === '' ? [] : row.not_validated.split(' '),
      }));
  }

  /** Wakes the user's vault to validate (or to hand over its copy); a vault that cannot be reached is a failure to retry. */
  private async validateOne(userId: string, options: ValidateOptions): Promise<UserValidation> {
    try {
      return await userVault(this.env, userId).validate(options);
    } catch (error) {
      logEvent('sweep.vault_unreachable', { userId, reason: error instanceof Error ? error.name : 'unknown' });
      return { outcome: 'failed', lastValidatedAt: null };
    }
  }

  /** Writes the user's row only when the visit changes something (see `nextVisit` in schedule.ts). */
  private recordOutcome(user: Visit, result: UserValidation, cursorAt: number): void {
    const now = Date.now();
    const next = nextVisit(result.outcome, now);
    const rejoined = this.rejoined.delete(user.userId);
    const forgotten = this.copyForgotten.delete(user.userId);
    if (next.kind === 'idle' && rejoined) return;
    // A copy handed over before a new login registered the user (or the vault replaced its token) may be stale.
    if (!rejoined && !forgotten && next.kind !== 'idle' && next.kind !== 'gone') this.storeCopy(user, result.copy);
    // A renamed user is found by the new login; compared with the row the batch read, so an
    // unchanged login costs no statement.
    if (result.login && result.login.toLowerCase() !== user.login) recordLogins(this.ctx.storage.sql, [{ userId: user.userId, login: result.login }]);
    if (next.kind === 'moment') {
      if (user.owed) {
        // Back on their moment, unless it comes up within the skip window (or the cursor has yet
        // to reach it): then the one after, owed, so the visit just made is not made twice.
        const slot = slotOf(user.userId);
        let moment = cycleStart(cursorAt) + slot;
        if (moment < cursorAt) moment += SWEEP_CYCLE_MS;
        const dueAt = moment - now < VALIDATION_SKIP_WINDOW_MS ? moment + SWEEP_CYCLE_MS : ON_MOMENT;
        this.ctx.storage.sql.exec('UPDATE users SET next_due_at = ?, forced = 0 WHERE user_id = ?', dueAt, user.userId);
      }
    } else if (next.kind === 'retry') {
      this.ctx.storage.sql.exec('UPDATE users SET next_due_at = ? WHERE user_id = ?', next.at, user.userId);
    } else {
      this.setUser(user.userId, next.kind === 'idle' ? IDLE : GONE, ON_MOMENT);
      // An expired or dead token is worth nothing to keep: the vault hands over the next one.
      this.clearCopy(user.userId);
    }
  }

  /**
   * Keeps a copy the visit brought back, when it is newer than the one held, or the same token
   * sealed anew or with an earlier expiry (Twitch's word); a copy past use is not kept.
   */
  private storeCopy(user: Visit, copy: AccessCopy | undefined): void {
    const held = user.copy;
    if (!copy || (!isUsable(copy, Date.now()) && !held)) return;
    if (held && copy.generation < held.generation) return;
    const sameAsHeld =
      held && copy.generation === held.generation && copy.sealedAccessToken === held.sealedAccessToken && copy.expiresAt >= held.expiresAt - 60_000;
    if (sameAsHeld) return;
    this.ctx.storage.sql.exec(
      // The generation check in SQL too: a later generation stored meanwhile is never overwritten.
      `UPDATE users SET sealed_access = ?, copy_generation = ?, copy_expires_at = ?
       WHERE user_id = ? AND (copy_generation IS NULL OR copy_generation <= ?)`,
      copy.sealedAccessToken,
      copy.generation,
      copy.expiresAt,
      user.userId,
      copy.generation,
    );
  }

  /**
   * Forgets a user's copy (a new login, gone idle or out of the sweep); writes nothing when there is
   * none. The generation stays, so a copy older than the forgotten one is never stored again.
   */
  private clearCopy(userId: string): void {
    this.ctx.storage.sql.exec(
      'UPDATE users SET sealed_access = NULL, copy_expires_at = NULL WHERE user_id = ? AND sealed_access IS NOT NULL',
      userId,
    );
  }

  /** When the next batch would go if the state did not change (see `nextBatchAt` in schedule.ts); Infinity: never. */
  private plannedNextAt(batchStartedAt?: number): number {
    const now = Date.now();
    const state = this.state();
    const earliestOwed = this.ctx.storage.sql
      .exec<{ at: number | null }>(`SELECT MIN(next_due_at) AS at FROM users WHERE active = ${IN_USE} AND next_due_at > ${ON_MOMENT}`)
      .one().at;
    const nextMoment = this.nextMomentAfter(this.cursorFrom(state, now));
    const candidates = [earliestOwed, nextMoment].filter((at): at is number => at !== null);
    const nextDueAt = candidates.length > 0 ? Math.min(...candidates) : null;
    const workWaiting = state.forced_slot !== null || (nextDueAt !== null && nextDueAt <= now);
    return nextBatchAt(now, { activeUsers: state.in_use, workWaiting, nextDueAt }, batchStartedAt) ?? Infinity;
  }

  /**
   * Sets the alarm for the next batch (see `nextBatchAt` in schedule.ts). An earlier alarm already
   * set is kept unless `replace`: the alarm handler replaces its own crash-recovery alarm.
   */
  private async scheduleNextBatch(options: { replace?: boolean; batchStartedAt?: number } = {}): Promise<void> {
    const nextAt = this.plannedNextAt(options.batchStartedAt);
    const scheduled = await this.ctx.storage.getAlarm();
    if (nextAt === Infinity) {
      if (scheduled !== null) await this.ctx.storage.deleteAlarm();
      return;
    }
    if (scheduled === nextAt) return;
    if (options.replace || scheduled === null || scheduled > nextAt) await this.ctx.storage.setAlarm(nextAt);
  }

  /** When the next user on their moment falls due after the cursor (this cycle or the next), or null. */
  private nextMomentAfter(cursor: Cursor): number | null {
    const base = cycleStart(cursor.at);
    const next = this.usersAfter(cursor.at - base, cursor.userId, SWEEP_CYCLE_MS - 1, 1, true)[0];
    if (next) return base + next.slot;
    const first = this.usersAfter(-1, null, SWEEP_CYCLE_MS - 1, 1, true)[0];
    return first ? base + SWEEP_CYCLE_MS + first.slot : null;
  }
}

type EvidenceRow = {
  batch: number;
  started_at: number;
  finished_at: number;
  moments_from: number;
  moments_to: number;
  visited: number;
  validated: number;
  refreshed: number;
  revoked: number;
  failed: number;
  skipped: number;
  not_validated: string;
};

/** One batch's evidence: the moments it covered, its counts and `userId:outcome` of each user not validated. */
export interface SweepEvidence {
  batch: number;
  startedAt: number;
  finishedAt: number;
  momentsFrom: number;
  momentsTo: number;
  visited: number;
  validated: number;
  refreshed: number;
  revoked: number;
  failed: number;
  skipped: number;
  notValidated: string[];
}

function countOutcome(counts: SweepCounts, outcome: ValidationOutcome): void {
  // `handed_over` never reaches here (the validator checks the copy); counted as skipped should it.
  if (outcome === 'inactive' || outcome === 'idle' || outcome === 'handed_over') counts.skipped++;
  else counts[outcome]++;
}
