import { paced } from '../twitch/call-pace';

/** After a failed refresh the vault waits this long (with jitter) before asking Twitch again... */
export const REFRESH_BACKOFF_FIRST_MS = 2_000;
/** ...doubling on each further failure up to this. */
export const REFRESH_BACKOFF_MAX_MS = 60_000;

/**
 * When a user's refresh may next go to Twitch. Without it, every caller arriving after a failure
 * starts a refresh of its own, and an outage multiplies into a storm of token calls. Kept in the
 * vault's memory: an evicted vault forgets it and tries once more, which is harmless.
 */
export class RefreshBackoff {
  private failures = 0;
  private notBefore = 0;

  /** Milliseconds until the next attempt may go to Twitch; 0 when it may go now. */
  remainingMs(now = Date.now()): number {
    return Math.max(0, this.notBefore - now);
  }

  /**
   * Records a failed attempt. The wait is between half and all of the doubling ceiling ("equal
   * jitter", so many vaults failing together do not return in step), and never shorter than the
   * wait Twitch itself asked for (a 429's `Ratelimit-Reset`).
   */
  failed(twitchWaitMs = 0, now = Date.now(), random = Math.random()): void {
    const ceilingMs = Math.min(REFRESH_BACKOFF_MAX_MS, REFRESH_BACKOFF_FIRST_MS * 2 ** this.failures);
    this.failures++;
    // Our own wait runs at the call pace (1 in the broker; see call-pace.ts); Twitch's is its own.
    this.notBefore = now + Math.max(paced(ceilingMs / 2 + (random * ceilingMs) / 2), twitchWaitMs);
  }

  /** A refresh went through: the next failure starts from the first step again. */
  succeeded(): void {
    this.failures = 0;
    this.notBefore = 0;
  }
}
