import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { ConfigError } from '../errors';
import { logEvent } from '../log';
import { checkSweepSettings } from './sweep-settings';
import { VALIDATION_INTERVAL_MS } from '../vault/timing';
import type { UserValidation, ValidationOutcome } from '../vault/vault-types';

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

/**
 * Users per batch. Each validation is one subrequest (an RPC to that user's vault) from the
 * invocation running the batch; Workers allow 1,000 per invocation, so this keeps a wide margin.
 */
export const SWEEP_BATCH_SIZE = 250;
/** Vault calls in flight at once within a batch. */
const SWEEP_CONCURRENCY = 25;
/** The backlog is spread over this much of each hour rather than drained in a burst. */
const SPREAD_WINDOW_MS = 50 * 60_000;
/** Bounds on the gap between two batches while users are due. */
const MIN_TICK_MS = 1_000;
const MAX_TICK_MS = 60_000;
/** A user whose validation failed (Twitch down) is retried this much later. */
const RETRY_AFTER_FAILURE_MS = 5 * 60_000;

export const USER_DIRECTORY_NAME = 'directory';

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
        active INTEGER NOT NULL DEFAULT 1
      )`);
      ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS users_due ON users (active, next_due_at)');
    });
  }

  /** Adds or re-activates a user, next due an hour after `validatedAt`. */
  async register(userId: string, validatedAt: number): Promise<void> {
    await this.registerMany([userId], validatedAt);
  }

  /** Bulk form of `register`, for imports and tests. */
  async registerMany(userIds: string[], validatedAt: number): Promise<void> {
    const dueAt = validatedAt + VALIDATION_INTERVAL_MS;
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
   * Runs one batch now. `force` first makes every active user due (the operator's "validate
   * everything now"); the alarm then carries on with whatever one batch could not cover.
   */
  async sweep(options: { force?: boolean } = {}): Promise<SweepCounts> {
    if (options.force) {
      this.ctx.storage.sql.exec('UPDATE users SET next_due_at = ? WHERE active = 1', Date.now());
    }
    const counts = await this.runBatch(options.force === true);
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
    const counts = await this.runBatch(false);
    logEvent('sweep.batch', { ...counts });
    await this.scheduleNextBatch();
  }

  private dueUserIds(limit: number): string[] {
    return this.ctx.storage.sql
      .exec<{ user_id: string }>(
        'SELECT user_id FROM users WHERE active = 1 AND next_due_at <= ? ORDER BY next_due_at LIMIT ?',
        Date.now(),
        limit,
      )
      .toArray()
      .map((row) => row.user_id);
  }

  private async runBatch(force: boolean): Promise<SweepCounts> {
    const counts: SweepCounts = { validated: 0, refreshed: 0, revoked: 0, failed: 0, skipped: 0, remaining: 0 };
    const queue = this.dueUserIds(SWEEP_BATCH_SIZE);
    const worker = async () => {
      for (let userId = queue.shift(); userId !== undefined; userId = queue.shift()) {
        const result = await this.validateOne(userId, force);
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
      const vault = this.env.USER_VAULT.get(this.env.USER_VAULT.idFromName(userId));
      return await vault.validate({ force });
    } catch (error) {
      logEvent('sweep.vault_unreachable', { userId, reason: error instanceof Error ? error.name : 'unknown' });
      return { outcome: 'failed', lastValidatedAt: null };
    }
  }

  /** Moves the user's row on: next due an hour after its last validation, or soon after a failure. */
  private recordOutcome(userId: string, result: UserValidation): void {
    const now = Date.now();
    if (result.outcome === 'inactive' || result.outcome === 'revoked') {
      this.ctx.storage.sql.exec('UPDATE users SET active = 0 WHERE user_id = ?', userId);
      return;
    }
    const nextDueAt =
      result.outcome === 'failed'
        ? now + RETRY_AFTER_FAILURE_MS
        : Math.max((result.lastValidatedAt ?? now) + VALIDATION_INTERVAL_MS, now + MIN_TICK_MS);
    this.ctx.storage.sql.exec('UPDATE users SET next_due_at = ? WHERE user_id = ?', nextDueAt, userId);
  }

  /**
   * While users are due, batches are spaced so the backlog drains over the spread window (one
   * batch a second at most, one a minute at least); otherwise the alarm waits for the next due user.
   */
  private async scheduleNextBatch(): Promise<void> {
    const now = Date.now();
    const { active, due } = await this.stats();
    if (active === 0) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    let nextAt: number;
    if (due > 0) {
      const spacing = (SPREAD_WINDOW_MS * SWEEP_BATCH_SIZE) / active;
      nextAt = now + Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, spacing));
    } else {
      const next = this.ctx.storage.sql
        .exec<{ next_due_at: number }>('SELECT MIN(next_due_at) AS next_due_at FROM users WHERE active = 1')
        .one().next_due_at;
      nextAt = Math.max(next, now + MIN_TICK_MS);
    }
    const scheduled = await this.ctx.storage.getAlarm();
    if (scheduled === null || scheduled > nextAt) await this.ctx.storage.setAlarm(nextAt);
  }
}

function countOutcome(counts: SweepCounts, outcome: ValidationOutcome): void {
  if (outcome === 'inactive') counts.skipped++;
  else counts[outcome]++;
}
