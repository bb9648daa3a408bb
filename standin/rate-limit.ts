/** The three `Ratelimit-*` header values for one response. */
export interface RateLimitSnapshot {
  limit: number;
  remaining: number;
  /** Epoch seconds at which the bucket is full again. */
  resetAtSeconds: number;
}

const BUCKET_POINTS_PER_MINUTE = 800;
const REFILL_WINDOW_MS = 60_000;

/**
 * A Helix-style token bucket (800 points a minute, refilled continuously) that only feeds the headers:
 * it never refuses a call by itself, because 429s are a test's decision, made with a fault.
 */
export class RateLimitBucket {
  private points = BUCKET_POINTS_PER_MINUTE;
  private refilledAt: number;

  constructor(private readonly now: () => number) {
    this.refilledAt = now();
  }

  /** Spends one point (never below zero) and reports the headers for that call. */
  spendOne(): RateLimitSnapshot {
    this.refill();
    this.points = Math.max(0, this.points - 1);
    return this.snapshot();
  }

  /** Reports the headers without spending, for responses that are not /oauth2 calls. */
  peek(): RateLimitSnapshot {
    this.refill();
    return this.snapshot();
  }

  /** Fills the bucket back up. */
  reset(): void {
    this.points = BUCKET_POINTS_PER_MINUTE;
    this.refilledAt = this.now();
  }

  private refill(): void {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.refilledAt);
    this.points = Math.min(BUCKET_POINTS_PER_MINUTE, this.points + (elapsedMs * BUCKET_POINTS_PER_MINUTE) / REFILL_WINDOW_MS);
    this.refilledAt = now;
  }

  private snapshot(): RateLimitSnapshot {
    const msUntilFull = ((BUCKET_POINTS_PER_MINUTE - this.points) * REFILL_WINDOW_MS) / BUCKET_POINTS_PER_MINUTE;
    return {
      limit: BUCKET_POINTS_PER_MINUTE,
      remaining: Math.floor(this.points),
      resetAtSeconds: Math.ceil((this.now() + msUntilFull) / 1000),
    };
  }
}

/** Writes a snapshot onto response headers with Twitch's header names. */
export function setRateLimitHeaders(headers: Headers, snapshot: RateLimitSnapshot): void {
  headers.set('Ratelimit-Limit', String(snapshot.limit));
  headers.set('Ratelimit-Remaining', String(snapshot.remaining));
  headers.set('Ratelimit-Reset', String(snapshot.resetAtSeconds));
}
