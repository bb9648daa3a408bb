import type { Config } from '../config';
import { seal, unseal } from '../crypto/seal';
import { logEvent } from '../log';
import { revokeToken } from '../twitch/identity';
import { describeFailure } from '../twitch/twitch-error';
import { REQUEST_BUDGET } from '../twitch/twitch-fetch';
import { DurableRetryQueue } from './durable-retry-queue';

/** One token waiting to be revoked at Twitch, sealed like every token at rest. */
interface PendingRevocation {
  sealedToken: string;
}

/** One revocation is idempotent, so it may be retried, but the alarm should not linger on one token. */
const REVOKE_BUDGET = { ...REQUEST_BUDGET, maxAttempts: 2 };

/**
 * Tokens the vault no longer wants (a replaced grant, a narrower login's pair, a pair that lost a
 * race) waiting to be revoked at Twitch. Revoking happens in the vault's alarm, off the response
 * path, and is retried with backoff while Twitch fails: each live token counts towards Twitch's
 * cap of about 50 per user and client, and a leaked one stays usable until revoked.
 */
export class RevocationQueue {
  private readonly queue: DurableRetryQueue<PendingRevocation>;

  constructor(
    storage: DurableObjectStorage,
    private readonly purpose: () => string,
  ) {
    this.queue = new DurableRetryQueue(storage, {
      keyPrefix: 'revocation:',
      order: 'independent',
      // A minute, doubling up to an hour.
      firstRetryMs: 60_000,
      maxRetryMs: 3_600_000,
      // After a day Twitch has long expired the access tokens; a refresh token still alive is given up on, and logged.
      giveUpAfterMs: 24 * 3_600_000,
      // A bound on what one user's queue holds through a long outage; the oldest entries go first.
      maxPending: 200,
    });
  }

  /**
   * Queues `tokens` (sealed), due at once, or after the first retry delay when the caller has just
   * tried and failed (`alreadyTried`).
   */
  async add(config: Config, tokens: string[], options: { alreadyTried?: boolean } = {}, now = Date.now()): Promise<void> {
    const sealed = await Promise.all(tokens.map(async (token) => ({ sealedToken: await seal(token, this.purpose(), config.tokenKeys) })));
    const dropped = await this.queue.add(sealed, options, now);
    if (dropped > 0) logEvent('user.token_revoke_abandoned', { dropped, reason: 'queue full' });
  }

  /** When the queue next wants the alarm, or null when it is empty. */
  nextAttemptAt(): Promise<number | null> {
    return this.queue.nextAttemptAt();
  }

  /** Revokes every due token; failures are rescheduled, tokens past a day are dropped. */
  async runDue(config: Config, userId: string, now = Date.now()): Promise<void> {
    const outcomes = await this.queue.runDue(async ({ sealedToken }) => {
      try {
        await revokeToken(config, await unseal(sealedToken, this.purpose(), config.tokenKeys), REVOKE_BUDGET);
        return null;
      } catch (error) {
        return describeFailure(error);
      }
    }, now);
    for (const outcome of outcomes) {
      if (outcome.kind === 'done') logEvent('user.token_revoked', { userId, attempts: outcome.attempts });
      else if (outcome.kind === 'failed') logEvent('user.token_revoke_failed', { userId, attempts: outcome.attempts, reason: outcome.reason });
      else logEvent('user.token_revoke_abandoned', { userId, attempts: outcome.attempts, reason: outcome.reason });
    }
  }
}
