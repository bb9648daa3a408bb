import type { Config } from '../config';
import { randomToken } from '../crypto/encoding';
import { seal, unseal } from '../crypto/seal';
import { logEvent } from '../log';
import { revokeToken } from '../twitch/identity';
import { describeFailure } from '../twitch/twitch-error';
import { REQUEST_BUDGET } from '../twitch/twitch-fetch';

/** One token waiting to be revoked at Twitch, sealed like every token at rest. */
interface PendingRevocation {
  sealedToken: string;
  queuedAt: number;
  attempts: number;
  nextAttemptAt: number;
}

/** Each entry has a key of its own, so an entry added while the alarm awaits Twitch is never overwritten. */
const KEY_PREFIX = 'revocation:';
/** The first retry after a failed revocation, doubling up to an hour. */
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 3_600_000;
/** After a day Twitch has long expired the access tokens; a refresh token still alive is given up on, and logged. */
const GIVE_UP_AFTER_MS = 24 * 3_600_000;
/** A bound on what one user's queue holds through a long outage; the oldest entries go first. */
const MAX_PENDING = 200;
/** One revocation is idempotent, so it may be retried, but the alarm should not linger on one token. */
const REVOKE_BUDGET = { ...REQUEST_BUDGET, maxAttempts: 2 };

/**
 * Tokens the vault no longer wants (a replaced grant, a narrower login's pair, a pair that lost a
 * race) waiting to be revoked at Twitch. Revoking happens in the vault's alarm, off the response
 * path, and is retried with backoff while Twitch fails: each live token counts towards Twitch's
 * cap of about 50 per user and client, and a leaked one stays usable until revoked.
 */
export class RevocationQueue {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly purpose: () => string,
  ) {}

  /**
   * Queues `tokens` (sealed), due at once, or after the first retry delay when the caller has just
   * tried and failed (`alreadyTried`).
   */
  async add(config: Config, tokens: string[], options: { alreadyTried?: boolean } = {}, now = Date.now()): Promise<void> {
    if (tokens.length === 0) return;
    const entries: Record<string, PendingRevocation> = {};
    for (const token of tokens) {
      entries[`${KEY_PREFIX}${randomToken(12)}`] = {
        sealedToken: await seal(token, this.purpose(), config.tokenKeys),
        queuedAt: now,
        attempts: options.alreadyTried ? 1 : 0,
        nextAttemptAt: options.alreadyTried ? now + FIRST_RETRY_MS : now,
      };
    }
    await this.storage.put(entries);
    await this.trim();
  }

  /** When the queue next wants the alarm, or null when it is empty. */
  async nextAttemptAt(): Promise<number | null> {
    const pending = [...(await this.list()).values()];
    return pending.length === 0 ? null : Math.min(...pending.map((entry) => entry.nextAttemptAt));
  }

  /**
   * Revokes every due token; failures are rescheduled, tokens past a day are dropped. The alarm runs
   * for the earliest entry, so that one counts as due even if the alarm fires a little early.
   */
  async runDue(config: Config, userId: string, now = Date.now()): Promise<void> {
    const entries = await this.list();
    const dueBy = Math.max(now, Math.min(...[...entries.values()].map((entry) => entry.nextAttemptAt)));
    for (const [key, entry] of entries) {
      if (entry.nextAttemptAt > dueBy) continue;
      try {
        await revokeToken(config, await unseal(entry.sealedToken, this.purpose(), config.tokenKeys), REVOKE_BUDGET);
        await this.storage.delete(key);
        logEvent('user.token_revoked', { userId, attempts: entry.attempts + 1 });
      } catch (error) {
        const attempts = entry.attempts + 1;
        if (now - entry.queuedAt >= GIVE_UP_AFTER_MS) {
          await this.storage.delete(key);
          logEvent('user.token_revoke_abandoned', { userId, attempts, reason: describeFailure(error) });
          continue;
        }
        const retryMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1));
        await this.storage.put(key, { ...entry, attempts, nextAttemptAt: now + retryMs });
        logEvent('user.token_revoke_failed', { userId, attempts, reason: describeFailure(error) });
      }
    }
  }

  /** Drops the oldest entries beyond MAX_PENDING (logged), so the queue cannot grow without bound. */
  private async trim(): Promise<void> {
    const pending = [...(await this.list())];
    if (pending.length <= MAX_PENDING) return;
    const oldest = pending.sort(([, a], [, b]) => a.queuedAt - b.queuedAt).slice(0, pending.length - MAX_PENDING);
    await this.storage.delete(oldest.map(([key]) => key));
    logEvent('user.token_revoke_abandoned', { dropped: oldest.length, reason: 'queue full' });
  }

  private list(): Promise<Map<string, PendingRevocation>> {
    return this.storage.list<PendingRevocation>({ prefix: KEY_PREFIX });
  }
}
