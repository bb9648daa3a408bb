/**
 * Keeps each token until shortly before it expires and lets concurrent callers share one request.
 *
 * Why two minutes: twurple treats a token as expired one minute before its end and would then ask
 * for a forced refresh, so the cache lets go of a token before that; and the broker itself only
 * refreshes a token with under five minutes left, so a margin under five minutes never makes every
 * call go to the broker to be handed the same token again.
 */
export const CACHE_MARGIN_MS = 2 * 60_000;
/** Entries kept before expired ones are pruned (a bot serving many users). */
const PRUNE_ABOVE = 1000;

/** A token body as the broker sends it. */
export interface ExpiringBody {
  expires_in: number;
  expires_at: number;
}

interface CacheEntry<T> {
  body: T;
  /** Local epoch ms after which the entry is not served: timed from `expires_in` on this machine's
   * clock (not from `expires_at`), so a client whose clock is off still lets go in time. */
  goodUntil: number;
}

/** Token bodies by key (`app`, `user:<id>`, `session`), with single flight per request. */
export class TokenCache<T extends ExpiringBody> {
  private readonly entries = new Map<string, CacheEntry<T>>();
  private readonly flights = new Map<string, Promise<T>>();

  /** The cached body for `key`, if it is still good and `accepts` it. */
  get(key: string, accepts: (body: T) => boolean = () => true): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() >= entry.goodUntil) {
      this.entries.delete(key);
      return undefined;
    }
    return accepts(entry.body) ? entry.body : undefined;
  }

  /** The last body seen for `key`, even if it is no longer served. */
  peek(key: string): T | undefined {
    return this.entries.get(key)?.body;
  }

  /**
   * Runs `load` unless a request with the same `flightKey` is already running, in which case the
   * caller shares its answer; the answer is cached under `key`.
   */
  load(key: string, flightKey: string, load: () => Promise<T>): Promise<T> {
    const running = this.flights.get(flightKey);
    if (running) return running;
    // Started inside an async function, so a loader that throws still gives every caller a rejection.
    const flight = (async () => load())()
      .then((body) => {
        this.store(key, body);
        return body;
      })
      .finally(() => this.flights.delete(flightKey));
    this.flights.set(flightKey, flight);
    return flight;
  }

  /** Forgets one key, or everything. */
  clear(key?: string): void {
    if (key === undefined) this.entries.clear();
    else this.entries.delete(key);
  }

  private store(key: string, body: T): void {
    const current = this.entries.get(key);
    // A slow ordinary answer must not replace the newer token a forced refresh brought meanwhile.
    if (current && current.body.expires_at > body.expires_at) return;
    this.entries.set(key, { body, goodUntil: Date.now() + body.expires_in * 1000 - CACHE_MARGIN_MS });
    if (this.entries.size > PRUNE_ABOVE) {
      const now = Date.now();
      for (const [name, entry] of this.entries) if (now >= entry.goodUntil) this.entries.delete(name);
    }
  }
}
