import type { Config } from '../config';
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

const STORAGE_KEY = 'revocations';
/** The first retry after a failed revocation, doubling up to an hour. */
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 3_600_000;
/** After a day Twitch has long expired the access tokens; a refresh token still alive is given up on, and logged. */
const GIVE_UP_AFTER_MS = 24 * 3_600_000;
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
    const sealed = await Promise.all(tokens.map((token) => seal(token, this.purpose(), config.tokenKeys)));
    const pending = await this.list();
    const attempts = options.alreadyTried ? 1 : 0;
    const nextAttemptAt = options.alreadyTried ? now + FIRST_RETRY_MS : now;
    pending.push(...sealed.map((sealedToken) => ({ sealedToken, queuedAt: now, attempts, nextAttemptAt })));
    await this.storage.put(STORAGE_KEY, pending);
  }

  /** When the queue next wants the alarm, or null when it is empty. */
  async nextAttemptAt(): Promise<number | null> {
    const pending = await this.list();
    return pending.length === 0 ? null : Math.min(...pending.map((entry) => entry.nextAttemptAt));
  }

  /** Revokes every due token; failures are rescheduled, tokens past a day are dropped. */
  async runDue(config: Config, userId: string, now = Date.now()): Promise<void> {
    const pending = await this.list();
    const kept: PendingRevocation[] = [];
    for (const entry of pending) {
      if (entry.nextAttemptAt > now) {
        kept.push(entry);
        continue;
      }
      try {
        await revokeToken(config, await unseal(entry.sealedToken, this.purpose(), config.tokenKeys), REVOKE_BUDGET);
        logEvent('user.token_revoked', { userId, attempts: entry.attempts + 1 });
      } catch (error) {
        const attempts = entry.attempts + 1;
        if (now - entry.queuedAt >= GIVE_UP_AFTER_MS) {
          logEvent('user.token_revoke_abandoned', { userId, attempts, reason: describeFailure(error) });
          continue;
        }
        const retryMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1));
        kept.push({ ...entry, attempts, nextAttemptAt: now + retryMs });
        logEvent('user.token_revoke_failed', { userId, attempts, reason: describeFailure(error) });
      }
    }
    if (kept.length === 0) await this.storage.delete(STORAGE_KEY);
    else await this.storage.put(STORAGE_KEY, kept);
  }

  private async list(): Promise<PendingRevocation[]> {
    return (await this.storage.get<PendingRevocation[]>(STORAGE_KEY)) ?? [];
  }
}
