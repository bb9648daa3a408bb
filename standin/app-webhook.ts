import { Hono } from 'hono';
import { jsonResponse, type StandinEnv } from './http';
import { InvalidInputError, isJsonObject, optionalNumber } from './json-input';
import type { StandinState } from './state';

/**
 * Not Twitch: a stand-in for the app's own webhook receiver (the broker's NOTIFY_URL), so tests and
 * `npm start` can watch the events the broker sends. It records each delivery as received (headers
 * and raw body) and can be told to fail the next N deliveries.
 */

interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
}

interface ReceiverState {
  received: Received[];
  failNext: number;
  failStatus: number;
}

const receivers = new WeakMap<StandinState, ReceiverState>();

function receiverOf(state: StandinState): ReceiverState {
  let receiver = receivers.get(state);
  if (!receiver) {
    receiver = { received: [], failNext: 0, failStatus: 500 };
    receivers.set(state, receiver);
  }
  return receiver;
}

/** Forgets deliveries and failure settings (the control API's reset). */
export function resetAppWebhook(state: StandinState): void {
  receivers.delete(state);
}

/** POST /_standin/app-webhook (the receiver), GET …/received, POST …/fail. */
export function appWebhookRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.post('/', async (c) => {
    const receiver = receiverOf(state);
    const status = receiver.failNext > 0 ? receiver.failStatus : 200;
    if (receiver.failNext > 0) receiver.failNext--;
    receiver.received.push({ headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text(), status });
    return jsonResponse({ received: status === 200 }, status);
  });

  routes.get('/received', () => jsonResponse({ received: receiverOf(state).received }));

  routes.post('/fail', async (c) => {
    const body: unknown = await c.req.json().catch(() => null);
    if (!isJsonObject(body)) throw new InvalidInputError('body must be a JSON object');
    const receiver = receiverOf(state);
    receiver.failNext = optionalNumber(body, 'times') ?? 1;
    receiver.failStatus = optionalNumber(body, 'status') ?? 500;
    return jsonResponse({ failNext: receiver.failNext });
  });

  return routes;
}
