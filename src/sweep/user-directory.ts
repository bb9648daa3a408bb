import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { getConfig } from '../config';
import { ConfigError } from '../errors';
import { logEvent } from '../log';
import { observeBatch } from '../metrics/metrics';
import { sweepLane, userVault } from '../vault/stubs';
import type { AccessCopy } from '../vault/vault-types';
import type { LanePort } from './access-copies';
import { runBatch, type VaultPort, VisitTracking } from './batch-runner';
import { listDirectory, recordLogins, type DirectoryPage, type DirectoryQuery } from './directory-listing';
import { cursorFrom, DirectoryRows } from './directory-rows';
import { IN_USE, migrateDirectory, ON_MOMENT } from './directory-schema';
import { MAX_TICK_MS, nextBatchAt, OVERDUE_AFTER_MS } from './schedule';
import type { SweepCounts } from './sweep-counts';
import { readEvidence, type SweepEvidence } from './sweep-evidence';
import { checkSweepSettings } from './sweep-settings';

export { SWEEP_BATCH_SIZE, SWEEP_CONCURRENCY } from './schedule';
export type { SweepEvidence } from './sweep-evidence';

/**
 * The index of every user with a grant, and the driver of the hourly validation: a thin RPC facade
 * over modules with one job each: the schema (directory-schema.ts), the rows (directory-rows.ts),
 * the evidence ring (sweep-evidence.ts) and the batch runner (batch-runner.ts), which reaches
 * vaults and lanes through ports this class fills with Durable Object RPCs.
 *
 * Each user has a fixed moment in a 54-minute cycle (a hash of the id, `slotOf`): the alarm visits
 * users in batches as the clock passes their moments, keeping one cursor, so a routine validation
 * writes nothing per user; each batch leaves one evidence row. Rows are written only for
 * exceptions: a user to retry, registered overdue, gone idle (no token in use) or gone. A crash
 * mid-batch resumes from the cursor, saved after every round of calls, so at most one round of
 * visits is repeated. Batches never overlap: the cron, `/admin/sweep` and the alarm queue behind
 * one another.
 */
export class UserDirectory extends DurableObject<Env> {
  private batchQueue: Promise<unknown> = Promise.resolve();
  private readonly tracking = new VisitTracking();
  private readonly rows: DirectoryRows;
  /** The vaults, as the batch runner reaches them. */
  private readonly vaults: VaultPort = { validate: (userId, options) => userVault(this.env, userId).validate(options) };
  /** The lanes, as the batch runner reaches them. */
  private readonly lanes: LanePort = { check: (index, copies) => sweepLane(this.env, index).laneCheck(copies) };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.rows = new DirectoryRows(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => migrateDirectory(ctx.storage.sql));
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
      this.tracking.noteRejoined(userId);
      this.rows.setUser(userId, IN_USE, dueAt);
      // A new login replaced the token the copy holds: the next visit asks the vault for the new one.
      this.rows.clearCopy(userId);
    }
    await this.scheduleNextBatch();
  }

  /**
   * A caller refreshed this user's token, expired for SET_ASIDE_AFTER_MS or more: they have a token
   * in use again, whose copy `copy` is. Called by the vault once per long idle spell; the refresh
   * itself was the proof, so they wait for their moment, where the copy spares waking the vault.
   */
  async rejoin(userId: string, copy?: AccessCopy): Promise<void> {
    this.tracking.noteRejoined(userId);
    if (this.rows.rejoin(userId, copy)) await this.scheduleNextBatch();
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
    this.tracking.noteCopyForgotten(userId);
    this.rows.clearCopy(userId);
  }

  /** How many users are indexed, in the sweep (in use), and owed a visit now; and when the next batch runs. */
  async stats(): Promise<{ users: number; active: number; due: number; nextBatchAt: number | null }> {
    const state = this.rows.state();
    const nextBatchAt = await this.ctx.storage.getAlarm();
    return { users: state.in_use + state.idle + state.gone, active: state.in_use, due: this.rows.owedCount(state, Date.now()), nextBatchAt };
  }

  /**
   * Runs one batch now, after any batch already running. `force` (the operator's "validate
   * everything now") starts a forced pass over every user in use, in the sweep's order, which the
   * alarm's later batches carry on until done; it costs one row, not one per user.
   */
  async sweep(options: { force?: boolean } = {}): Promise<SweepCounts> {
    return this.exclusive(async () => {
      if (options.force) this.rows.startForcedPass();
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

  /** The kept evidence, newest first: what each batch validated (see src/sweep/sweep-evidence.ts). */
  async evidence(limit = 100): Promise<SweepEvidence[]> {
    return readEvidence(this.ctx.storage.sql, limit);
  }

  /** One batch at a time: whoever arrives while a batch runs waits for it, then sees its cursor. */
  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.batchQueue.then(run, run);
    this.batchQueue = next.catch(() => undefined);
    return next;
  }

  private runBatch(): Promise<SweepCounts> {
    return runBatch({
      sql: this.ctx.storage.sql,
      rows: this.rows,
      config: getConfig(this.env),
      vaults: this.vaults,
      lanes: this.lanes,
      tracking: this.tracking,
    });
  }

  /** When the next batch would go if the state did not change (see `nextBatchAt` in schedule.ts); Infinity: never. */
  private plannedNextAt(batchStartedAt?: number): number {
    const now = Date.now();
    const state = this.rows.state();
    const earliestOwed = this.rows.earliestOwed();
    const nextMoment = this.rows.nextMomentAfter(cursorFrom(state, now));
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
}
