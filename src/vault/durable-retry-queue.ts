import { randomToken } from '../crypto/encoding';

/**
 * A queue kept in a Durable Object's storage whose entries are worked off by the object's alarm
 * and retried with backoff while they fail: the vault's revocations at Twitch and every object's
 * events for the app (NOTIFY_URL) are two uses of it. Entries are stored as their own keys, so an
 * entry added while the alarm awaits the network is never overwritten, and the stored shape is the
 * item's fields beside the queue's own (`queuedAt`, `attempts`, `nextAttemptAt`).
 */

/** How one queue retries, orders and bounds its entries. */
export interface RetryPolicy {
  /** Storage key prefix of the entries, e.g. `revocation:`. */
  keyPrefix: string;
  /**
   * `in-order`: entries keep the order they were added in and a failing head holds back what
   * follows (events, which the app must see in order). `independent`: each entry is retried on its
   * own schedule (revocations).
   */
  order: 'in-order' | 'independent';
  /** The first retry after a failure, doubling up to `maxRetryMs`. */
  firstRetryMs: number;
  maxRetryMs: number;
  /** An entry still failing this long after it was queued is dropped (and reported). */
  giveUpAfterMs: number;
  /** At most this many entries; adding more drops the oldest (and reports them). */
  maxPending: number;
}

/** What the queue keeps per entry, beside the item's own fields. */
interface Bookkeeping {
  queuedAt: number;
  attempts: number;
  nextAttemptAt: number;
}

/** How a `runDue` pass went for one entry, for the caller's log line. */
export type EntryOutcome<Item> =
  | { kind: 'done'; item: Item; attempts: number }
  | { kind: 'failed'; item: Item; attempts: number; reason: string }
  | { kind: 'abandoned'; item: Item; attempts: number; reason: string };

/** Where `in-order` keys keep their running number (`<prefix minus ':'>-sequence`). */
const sequenceKeyOf = (prefix: string) => `${prefix.replace(/:$/, '')}-sequence`;

/** A durable retry queue over one object's storage (see the top of this file). */
export class DurableRetryQueue<Item extends object> {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly policy: RetryPolicy,
  ) {}

  /**
   * Queues items, due at once, or one first-retry delay from now when the caller has just tried
   * and failed (`alreadyTried`). Returns how many of the oldest entries were dropped to stay within
   * `maxPending`.
   */
  async add(items: Item[], options: { alreadyTried?: boolean } = {}, now = Date.now()): Promise<number> {
    if (items.length === 0) return 0;
    const bookkeeping: Bookkeeping = {
      queuedAt: now,
      attempts: options.alreadyTried ? 1 : 0,
      nextAttemptAt: options.alreadyTried ? now + this.policy.firstRetryMs : now,
    };
    const entries: Record<string, unknown> = {};
    if (this.policy.order === 'in-order') {
      const sequenceKey = sequenceKeyOf(this.policy.keyPrefix);
      let sequence = (await this.storage.get<number>(sequenceKey)) ?? 0;
      // Zero-padded so that storage's key order is the order of adding.
      for (const item of items) entries[`${this.policy.keyPrefix}${String(++sequence).padStart(12, '0')}`] = { ...item, ...bookkeeping };
      entries[sequenceKey] = sequence;
    } else {
      for (const item of items) entries[`${this.policy.keyPrefix}${randomToken(12)}`] = { ...item, ...bookkeeping };
    }
    await this.storage.put(entries);
    return this.dropBeyondLimit();
  }

  /** When the queue next wants the alarm, or null when it is empty. */
  async nextAttemptAt(): Promise<number | null> {
    if (this.policy.order === 'in-order') {
      const [head] = (await this.list({ limit: 1 })).values();
      return head ? head.nextAttemptAt : null;
    }
    const pending = [...(await this.list()).values()];
    return pending.length === 0 ? null : Math.min(...pending.map((entry) => entry.nextAttemptAt));
  }

  /**
   * Works off the due entries with `attempt` (null: done; a string: why it failed). The alarm runs
   * for the earliest entry (an in-order queue's head), so that one counts as due even when the alarm
   * fires a little early. An `in-order` queue stops at its first failure or at an entry not yet due.
   * Returns what happened to each entry it tried.
   */
  async runDue(attempt: (item: Item) => Promise<string | null>, now = Date.now()): Promise<EntryOutcome<Item>[]> {
    const entries = await this.list();
    const inOrder = this.policy.order === 'in-order';
    const earliest = Math.min(...[...entries.values()].map((entry) => entry.nextAttemptAt));
    const outcomes: EntryOutcome<Item>[] = [];
    let first = true;
    for (const [key, entry] of entries) {
      const due = inOrder ? first || entry.nextAttemptAt <= now : entry.nextAttemptAt <= Math.max(now, earliest);
      first = false;
      if (!due) {
        if (inOrder) break;
        continue;
      }
      const { queuedAt, attempts: previousAttempts, nextAttemptAt: _due, ...fields } = entry;
      const item = fields as unknown as Item;
      const failure = await attempt(item);
      const attempts = previousAttempts + 1;
      if (failure === null) {
        await this.storage.delete(key);
        outcomes.push({ kind: 'done', item, attempts });
        continue;
      }
      if (now - queuedAt >= this.policy.giveUpAfterMs) {
        await this.storage.delete(key);
        outcomes.push({ kind: 'abandoned', item, attempts, reason: failure });
        continue;
      }
      const retryMs = Math.min(this.policy.maxRetryMs, this.policy.firstRetryMs * 2 ** (attempts - 1));
      await this.storage.put(key, { ...entry, attempts, nextAttemptAt: now + retryMs });
      outcomes.push({ kind: 'failed', item, attempts, reason: failure });
      if (inOrder) break;
    }
    return outcomes;
  }

  /** Drops every entry without trying it (returns how many there were). */
  async clear(): Promise<number> {
    const keys = [...(await this.list()).keys()];
    if (keys.length > 0) await this.storage.delete(keys);
    return keys.length;
  }

  /** Drops the oldest entries beyond `maxPending`; returns how many. */
  private async dropBeyondLimit(): Promise<number> {
    const pending = [...(await this.list())];
    if (pending.length <= this.policy.maxPending) return 0;
    // In-order keys are already oldest first; random keys are sorted by when they were queued.
    if (this.policy.order === 'independent') pending.sort(([, a], [, b]) => a.queuedAt - b.queuedAt);
    const oldest = pending.slice(0, pending.length - this.policy.maxPending).map(([key]) => key);
    await this.storage.delete(oldest);
    return oldest.length;
  }

  private list(options: { limit?: number } = {}): Promise<Map<string, Item & Bookkeeping>> {
    return this.storage.list<Item & Bookkeeping>({ prefix: this.policy.keyPrefix, ...options });
  }
}
