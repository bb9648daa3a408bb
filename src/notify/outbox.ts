import type { Config } from '../config';
import { logEvent } from '../log';
import type { BrokerEvent } from './broker-event';
import { brokerSignature } from './signature';

/** One event waiting to reach the app. */
interface PendingEvent {
  event: BrokerEvent;
  queuedAt: number;
  attempts: number;
  nextAttemptAt: number;
}

/** Keys sort in the order events happened: `notify:` + a zero-padded sequence number. */
const KEY_PREFIX = 'notify:';
const SEQUENCE_KEY = 'notify-sequence';
const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 3_600_000;
/** At-least-once for a day; after that an event is dropped, and logged. */
const GIVE_UP_AFTER_MS = 24 * 3_600_000;
/** How long one delivery may take before it counts as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** A receiver down for a day should not grow one object's storage without bound. */
const MAX_PENDING = 500;

/**
 * The events of one Durable Object (a user's vault, the app-token minter) on their way to
 * NOTIFY_URL: stored first, delivered by the object's alarm, so the request that caused an event
 * never waits for the app. Delivered in order: a failing head is retried (10 s doubling to an
 * hour) before anything queued after it.
 */
export class NotificationOutbox {
  constructor(private readonly storage: DurableObjectStorage) {}

  /** Queues an event when notifications are configured; a no-op otherwise. */
  async add(config: Config, event: BrokerEvent, now = Date.now()): Promise<void> {
    if (!config.notify) return;
    const sequence = ((await this.storage.get<number>(SEQUENCE_KEY)) ?? 0) + 1;
    await this.storage.put<unknown>({
      [SEQUENCE_KEY]: sequence,
      [`${KEY_PREFIX}${String(sequence).padStart(12, '0')}`]: { event, queuedAt: now, attempts: 0, nextAttemptAt: now } satisfies PendingEvent,
    });
    const pending = await this.list();
    if (pending.size > MAX_PENDING) {
      const [oldestKey] = pending.keys();
      await this.storage.delete(oldestKey!);
      logEvent('notify.dropped', { reason: 'queue full' });
    }
  }

  /** When the head of the queue is due, or null when nothing waits. */
  async nextAttemptAt(): Promise<number | null> {
    const [head] = (await this.list({ limit: 1 })).values();
    return head ? head.nextAttemptAt : null;
  }

  /**
   * Delivers events in order, stopping at the first failure. The alarm runs for the head of the
   * queue, so the head is always tried (even if the alarm fires a little early).
   */
  async deliverDue(config: Config, now = Date.now()): Promise<void> {
    const notify = config.notify;
    let first = true;
    for (const [key, pending] of await this.list()) {
      if (!notify) {
        await this.storage.delete(key);
        continue;
      }
      if (!first && pending.nextAttemptAt > now) return;
      first = false;
      const failure = await deliver(notify, pending.event);
      if (failure === null) {
        await this.storage.delete(key);
        continue;
      }
      const attempts = pending.attempts + 1;
      if (now - pending.queuedAt >= GIVE_UP_AFTER_MS) {
        await this.storage.delete(key);
        logEvent('notify.abandoned', { type: pending.event.type, attempts, reason: failure });
        continue;
      }
      await this.storage.put(key, { ...pending, attempts, nextAttemptAt: now + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1)) });
      logEvent('notify.failed', { type: pending.event.type, attempts, reason: failure });
      return;
    }
  }

  private list(options: { limit?: number } = {}): Promise<Map<string, PendingEvent>> {
    return this.storage.list<PendingEvent>({ prefix: KEY_PREFIX, ...options });
  }
}

/** POSTs one signed event; null when the app took it (2xx), else why not. */
async function deliver(notify: { url: string; secret: string }, event: BrokerEvent): Promise<string | null> {
  const body = JSON.stringify(event);
  const signal = AbortSignal.timeout(DELIVERY_TIMEOUT_MS);
  try {
    const response = await fetch(notify.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Broker-Signature': await brokerSignature(notify.secret, body, Math.floor(Date.now() / 1000)),
      },
      body,
      signal,
    });
    await response.body?.cancel();
    return response.ok ? null : `HTTP ${response.status}`;
  } catch (error) {
    return error instanceof Error ? error.name : 'unknown';
  }
}
