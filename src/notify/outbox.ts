import type { Config } from '../config';
import { logEvent } from '../log';
import type { BrokerEvent } from './broker-event';
import { DurableRetryQueue } from '../vault/durable-retry-queue';
import { brokerSignature } from './signature';

/** One event waiting to reach the app. */
interface PendingEvent {
  event: BrokerEvent;
}

/** How long one delivery may take before it counts as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * The events of one Durable Object (a user's vault, the app-token minter) on their way to
 * NOTIFY_URL: stored first, delivered by the object's alarm, so the request that caused an event
 * never waits for the app. Delivered in order: a failing head is retried (10 s doubling to an
 * hour) before anything queued after it.
 */
export class NotificationOutbox {
  private readonly queue: DurableRetryQueue<PendingEvent>;

  constructor(storage: DurableObjectStorage) {
    this.queue = new DurableRetryQueue(storage, {
      // Keys sort in the order events happened: `notify:` + a zero-padded sequence number.
      keyPrefix: 'notify:',
      order: 'in-order',
      firstRetryMs: 10_000,
      maxRetryMs: 3_600_000,
      // At-least-once for a day; after that an event is dropped, and logged.
      giveUpAfterMs: 24 * 3_600_000,
      // A receiver down for a day should not grow one object's storage without bound.
      maxPending: 500,
    });
  }

  /** Queues an event when notifications are configured; a no-op otherwise. */
  async add(config: Config, event: BrokerEvent, now = Date.now()): Promise<void> {
    if (!config.notify) return;
    const dropped = await this.queue.add([{ event }], {}, now);
    if (dropped > 0) logEvent('notify.dropped', { reason: 'queue full', dropped });
  }

  /** When the head of the queue is due, or null when nothing waits. */
  nextAttemptAt(): Promise<number | null> {
    return this.queue.nextAttemptAt();
  }

  /** Delivers events in order, stopping at the first failure; with NOTIFY_URL unset, forgets them. */
  async deliverDue(config: Config, now = Date.now()): Promise<void> {
    const notify = config.notify;
    if (!notify) {
      await this.queue.clear();
      return;
    }
    const outcomes = await this.queue.runDue(({ event }) => deliver(notify, event), now);
    for (const outcome of outcomes) {
      if (outcome.kind === 'failed') logEvent('notify.failed', { type: outcome.item.event.type, attempts: outcome.attempts, reason: outcome.reason });
      else if (outcome.kind === 'abandoned')
        logEvent('notify.abandoned', { type: outcome.item.event.type, attempts: outcome.attempts, reason: outcome.reason });
    }
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
