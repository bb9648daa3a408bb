import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { ConfigError } from '../errors';
import { logEvent } from '../log';
import { userVault } from '../vault/stubs';
import type { UserValidation, ValidationOutcome } from '../vault/vault-types';
import { MAX_TICK_MS, nextBatchAt, nextDueAt, SWEEP_BATCH_SIZE, VALIDATION_DUE_AFTER_MS } from './schedule';
import { checkSweepSettings } from './sweep-settings';

export { SWEEP_BATCH_SIZE } from './schedule';

/** Counts of what one batch of validations came to. */
export interface SweepCounts {
  validated: number;
  refreshed: number;
  revoked: number;
  failed: number;
  skipped: number;
  /** Active users still due after this batch (the alarm works through them). */
  remaining: number;
}

/** Vault calls in flight at once within a batch. */
export const SWEEP_CONCURRENCY = 25;


/**
 * The index of every user with a grant, and the driver of the hourly validation. Each user row
 * carries when it is next due; an alarm takes due users in batches, validates them through their
 * vaults and moves each row on as soon as that user is done, so a crash mid-batch resumes with
 * exactly the users not yet done.
 */
export class UserDirectory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS users (
        user_id TEXT PRIMARY KEY,
        next_due_at INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        forced INTEGER NOT NULL DEFAULT 0
      )`);
      // `forced` came after the first version of the table: add it to tables made before.
      const columns = ctx.storage.sql.exec<{ name: string }>('PRAGMA table_info(users)').toArray();
      if (!columns.some((column) => column.name === 'forced')) {
        ctx.storage.sql.exec('ALTER TABLE users ADD COLUMN forced INTEGER NOT NULL DEFAULT 0');
      }
      ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS users_due ON users (active, next_due_at)');
    });
  }

  /** Adds or re-activates a user, next due shortly before an hour after `validatedAt`. */
  async register(userId: string, validatedAt: number): Promise<void> {
    await this.registerMany([userId], validatedAt);
  }

  /** Bulk form of `register`, for imports and tests. */
  async registerMany(userIds: string[], validatedAt: number): Promise<void> {
    const dueAt = validatedAt + VALIDATION_DUE_AFTER_MS;
    for (const userId of userIds) {
      this.ctx.storage.sql.exec(
        `INSERT INTO users (user_id, next_due_at, active) VALUES (?, ?, 1)
         ON CONFLICT(user_id) DO UPDATE SET next_due_at = excluded.next_due_at, active = 1`,
        userId,
        dueAt,
      );
    }
    await this.scheduleNextBatch();
  }

  /** How many users are indexed, active, and due now. */
  async stats(): Promise<{ users: number; active: number; due: number }> {
    const row = this.ctx.storage.sql
      .exec<{ users: number; active: number; due: number }>(
        'SELECT COUNT(*) AS users, COALESCE(SUM(active), 0) AS active, COALESCE(SUM(active = 1 AND next_due_at <= ?), 0) AS due FROM users',
        Date.now(),
      )
      .one();
    return row;
  }

  /**
   * Runs one batch now. `force` first makes every active user due and marks them forced (the
   * operator's "validate everything now"): the mark survives until that user is done, so the
   * alarm's later batches validate them too instead of skipping users validated within the hour.
   */
  async sweep(options: { force?: boolean } = {}): Promise<SweepCounts> {
    if (options.force) {
      this.ctx.storage.sql.exec('UPDATE users SET next_due_at = ?, forced = 1 WHERE active = 1', Date.now());
    }
    const counts = await this.runBatch();
    await this.scheduleNextBatch();
    return counts;
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
    // Should this invocation die mid-batch (a reset, a deploy), the sweep resumes within a minute
    // with exactly the users whose rows have not moved on, even if the runtime's retries give up.
    const batchStartedAt = Date.now();
    await this.ctx.storage.setAlarm(batchStartedAt + MAX_TICK_MS);
    const counts = await this.runBatch();
    logEvent('sweep.batch', { ...counts });
    await this.scheduleNextBatch({ replace: true, batchStartedAt });
  }

  private dueUsers(limit: number): { user_id: string; forced: number }[] {
    return this.ctx.storage.sql
      .exec<{ user_id: string; forced: number }>(
        'SELECT user_id, forced FROM users WHERE active = 1 AND next_due_at <= ? ORDER BY next_due_at LIMIT ?',
        Date.now(),
        limit,
      )
      .toArray();
  }

  private async runBatch(): Promise<SweepCounts> {
    const counts: SweepCounts = { validated: 0, refreshed: 0, revoked: 0, failed: 0, skipped: 0, remaining: 0 };
    const queue = this.dueUsers(SWEEP_BATCH_SIZE);
    const worker = async () => {
      for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
        const userId = row.user_id;
        const result = await this.validateOne(userId, row.forced === 1);
        this.recordOutcome(userId, result);
        countOutcome(counts, result.outcome);
      }
    };
    await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, worker));
    counts.remaining = this.ctx.storage.sql
      .exec<{ due: number }>('SELECT COUNT(*) AS due FROM users WHERE active = 1 AND next_due_at <= ?', Date.now())
      .one().due;
    return counts;
  }

  private async validateOne(userId: string, force: boolean): Promise<UserValidation> {
    try {
      return await userVault(this.env, userId).validate({ force });
    } catch (error) {
      logEvent('sweep.vault_unreachable', { userId, reason: error instanceof Error ? error.name : 'unknown' });
      return { outcome: 'failed', lastValidatedAt: null };
    }
  }

  /** Moves the user's row on (see `nextDueAt` in schedule.ts), or out of the sweep. */
  private recordOutcome(userId: string, result: UserValidation): void {
    const dueAt = nextDueAt(result.outcome, result.lastValidatedAt, Date.now());
    if (dueAt === null) this.ctx.storage.sql.exec('UPDATE users SET active = 0, forced = 0 WHERE user_id = ?', userId);
    else this.ctx.storage.sql.exec('UPDATE users SET next_due_at = ?, forced = 0 WHERE user_id = ?', dueAt, userId);
  }

  /**
   * Sets the alarm for the next batch (see `nextBatchAt` in schedule.ts). An earlier alarm already
   * set is kept unless `replace`: the alarm handler replaces its own crash-recovery alarm.
   */
  private async scheduleNextBatch(options: { replace?: boolean; batchStartedAt?: number } = {}): Promise<void> {
    const { active, due } = await this.stats();
    const earliestDueAt = this.ctx.storage.sql
      .exec<{ next_due_at: number | null }>('SELECT MIN(next_due_at) AS next_due_at FROM users WHERE active = 1')
      .one().next_due_at;
    const nextAt = nextBatchAt(Date.now(), { activeUsers: active, dueUsers: due, earliestDueAt }, options.batchStartedAt);
    if (nextAt === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const scheduled = await this.ctx.storage.getAlarm();
    if (options.replace || scheduled === null || scheduled > nextAt) await this.ctx.storage.setAlarm(nextAt);
  }
}

function countOutcome(counts: SweepCounts, outcome: ValidationOutcome): void {
  if (outcome === 'inactive') counts.skipped++;
  else counts[outcome]++;
}
