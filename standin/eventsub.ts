import { Hono, type Context } from 'hono';
import { bearerTokenFrom, jsonResponse, type StandinEnv } from './http';
import { InvalidInputError, isJsonObject, optionalString, requiredString } from './json-input';
import type { StandinState } from './state';

/**
 * EventSub as Twitch runs it for webhooks: `GET/POST/DELETE /helix/eventsub/subscriptions` with an
 * app token, a signed `webhook_callback_verification` challenge on creation, signed notifications
 * and revocations (HMAC-SHA256 over message id + timestamp + body, `sha256=` hex). Messages go
 * straight to the callback (`npm start`), or, with `delivery: 'outbox'`, wait in an outbox that a
 * test carries to a broker it cannot reach over the network, answering back as the callback did.
 */

const SUPPORTED_TYPES = new Set(['user.authorization.revoke', 'user.authorization.grant']);
const MAX_TOTAL_COST = 10_000;

type SubscriptionStatus =
  | 'enabled'
  | 'webhook_callback_verification_pending'
  | 'webhook_callback_verification_failed'
  | 'authorization_revoked'
  | 'notification_failures_exceeded';

interface Subscription {
  id: string;
  status: SubscriptionStatus;
  type: string;
  version: string;
  condition: { client_id: string };
  created_at: string;
  transport: { method: 'webhook'; callback: string };
  cost: number;
  /** Never shown in answers, as on Twitch. */
  secret: string;
}

/** A signed message on its way to a callback. */
export interface EventSubDelivery {
  id: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface EventSubStore {
  subscriptions: Map<string, Subscription>;
  outbox: Map<string, { delivery: EventSubDelivery; subscriptionId: string; kind: 'verification' | 'other'; challenge?: string }>;
  delivery: 'direct' | 'outbox';
}

const stores = new WeakMap<StandinState, EventSubStore>();

/** The stand-in's EventSub state, kept beside its other state and cleared with it. */
export function eventSubStore(state: StandinState): EventSubStore {
  let store = stores.get(state);
  if (!store) {
    store = { subscriptions: new Map(), outbox: new Map(), delivery: 'direct' };
    stores.set(state, store);
  }
  return store;
}

/** Forgets every subscription and undelivered message (the control API's reset). */
export function resetEventSub(state: StandinState): void {
  stores.delete(state);
}

const publicView = ({ secret: _secret, ...subscription }: Subscription) => subscription;

const helixError = (status: number, error: string, message: string) => jsonResponse({ error, status, message }, status);

/** RFC 3339 with nanoseconds, as Twitch stamps messages. */
const rfc3339Nanos = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)));
  return Array.from(signature, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Builds a signed message for a subscription's callback, exactly as Twitch sends it. */
export async function signedMessage(subscription: Subscription, type: string, payload: Record<string, unknown>, now = new Date()): Promise<EventSubDelivery> {
  const id = crypto.randomUUID();
  const timestamp = rfc3339Nanos(now);
  const body = JSON.stringify({ subscription: publicView(subscription), ...payload });
  return {
    id,
    url: subscription.transport.callback,
    body,
    headers: {
      'Content-Type': 'application/json',
      'Twitch-Eventsub-Message-Id': id,
      'Twitch-Eventsub-Message-Retry': '0',
      'Twitch-Eventsub-Message-Type': type,
      'Twitch-Eventsub-Message-Signature': `sha256=${await hmacHex(subscription.secret, id + timestamp + body)}`,
      'Twitch-Eventsub-Message-Timestamp': timestamp,
      'Twitch-Eventsub-Subscription-Type': subscription.type,
      'Twitch-Eventsub-Subscription-Version': subscription.version,
    },
  };
}

/** What the callback answered; a verification passes on 2xx with the bare challenge as text/plain. */
function applyAnswer(subscription: Subscription, challenge: string | undefined, answer: { status: number; body: string; contentType: string }): void {
  if (challenge === undefined) return;
  const passed = answer.status >= 200 && answer.status < 300 && answer.body === challenge && answer.contentType.toLowerCase().startsWith('text/plain');
  subscription.status = passed ? 'enabled' : 'webhook_callback_verification_failed';
}

async function send(store: EventSubStore, subscription: Subscription, delivery: EventSubDelivery, challenge?: string): Promise<void> {
  if (store.delivery === 'outbox') {
    store.outbox.set(delivery.id, {
      delivery,
      subscriptionId: subscription.id,
      kind: challenge === undefined ? 'other' : 'verification',
      ...(challenge === undefined ? {} : { challenge }),
    });
    return;
  }
  try {
    const response = await fetch(delivery.url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(10_000) });
    applyAnswer(subscription, challenge, { status: response.status, body: await response.text(), contentType: response.headers.get('Content-Type') ?? '' });
  } catch {
    if (challenge !== undefined) subscription.status = 'webhook_callback_verification_failed';
  }
}

/** Sends `user.authorization.revoke` for a user to every enabled subscription of the client. */
export async function notifyAuthorizationRevoked(state: StandinState, clientId: string, userId: string): Promise<number> {
  const store = eventSubStore(state);
  const user = state.findUser(userId);
  let sent = 0;
  for (const subscription of store.subscriptions.values()) {
    if (subscription.type !== 'user.authorization.revoke' || subscription.status !== 'enabled' || subscription.condition.client_id !== clientId) continue;
    const event = { client_id: clientId, user_id: userId, user_login: user?.login ?? null, user_name: user?.displayName ?? null };
    await send(store, subscription, await signedMessage(subscription, 'notification', { event }));
    sent++;
  }
  return sent;
}

/** The app token's client, or the Helix 401 answer when the token or Client-Id is not right. */
function appClient(state: StandinState, c: Context<StandinEnv>): string | Response {
  const presented = bearerTokenFrom(c.req.header('Authorization'));
  const clientId = c.req.header('Client-Id');
  if (presented === 'missing' || presented === 'malformed' || !clientId) {
    return helixError(401, 'Unauthorized', 'OAuth token is missing');
  }
  const access = state.findLiveAccessToken(presented.value);
  if (!access) return helixError(401, 'Unauthorized', 'Invalid OAuth token');
  if (access.clientId !== clientId) return helixError(401, 'Unauthorized', 'Client ID and OAuth token do not match');
  // Webhook subscriptions need an app access token.
  if (access.userId !== null) return helixError(401, 'Unauthorized', 'An app access token is required.');
  return clientId;
}

/** GET/POST/DELETE /helix/eventsub/subscriptions. */
export function eventSubHelixRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.get('/subscriptions', (c) => {
    const clientId = appClient(state, c);
    if (clientId instanceof Response) return clientId;
    const type = c.req.query('type');
    const status = c.req.query('status');
    const data = [...eventSubStore(state).subscriptions.values()]
      .filter((subscription) => subscription.condition.client_id === clientId)
      .filter((subscription) => (type === undefined || subscription.type === type) && (status === undefined || subscription.status === status))
      .map(publicView);
    return jsonResponse({ data, total: data.length, total_cost: 0, max_total_cost: MAX_TOTAL_COST, pagination: {} });
  });

  routes.post('/subscriptions', async (c) => {
    const clientId = appClient(state, c);
    if (clientId instanceof Response) return clientId;
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return helixError(400, 'Bad Request', 'Malformed request body');
    }
    if (!isJsonObject(body) || !isJsonObject(body.condition) || !isJsonObject(body.transport))
      return helixError(400, 'Bad Request', 'Missing required parameter');
    const type = optionalString(body, 'type');
    const version = optionalString(body, 'version');
    if (!type || !SUPPORTED_TYPES.has(type) || version !== '1') return helixError(400, 'Bad Request', 'Invalid combination of subscription type and version');
    if (optionalString(body.condition, 'client_id') !== clientId) return helixError(403, 'Forbidden', 'client_id in condition does not match the token');
    const callback = optionalString(body.transport, 'callback') ?? '';
    const secret = optionalString(body.transport, 'secret') ?? '';
    if (optionalString(body.transport, 'method') !== 'webhook' || !/^https?:\/\//.test(callback)) return helixError(400, 'Bad Request', 'Invalid transport');
    if (secret.length < 10 || secret.length > 100) return helixError(400, 'Bad Request', 'secret must be between 10 and 100 characters');

    const store = eventSubStore(state);
    const duplicate = [...store.subscriptions.values()].some(
      (existing) =>
        existing.type === type &&
        existing.condition.client_id === clientId &&
        existing.transport.callback === callback &&
        (existing.status === 'enabled' || existing.status === 'webhook_callback_verification_pending'),
    );
    if (duplicate) return helixError(409, 'Conflict', 'subscription already exists');

    const subscription: Subscription = {
      id: crypto.randomUUID(),
      status: 'webhook_callback_verification_pending',
      type,
      version,
      condition: { client_id: clientId },
      created_at: new Date().toISOString(),
      transport: { method: 'webhook', callback },
      cost: 0,
      secret,
    };
    store.subscriptions.set(subscription.id, subscription);
    const challenge = crypto.randomUUID().replace(/-/g, '');
    // Twitch answers first and verifies the callback right after.
    const verification = await signedMessage(subscription, 'webhook_callback_verification', { challenge });
    const answer = jsonResponse({ data: [publicView(subscription)], total: store.subscriptions.size, total_cost: 0, max_total_cost: MAX_TOTAL_COST }, 202);
    void send(store, subscription, verification, challenge);
    return answer;
  });

  routes.delete('/subscriptions', (c) => {
    const clientId = appClient(state, c);
    if (clientId instanceof Response) return clientId;
    const store = eventSubStore(state);
    const subscription = store.subscriptions.get(c.req.query('id') ?? '');
    if (!subscription || subscription.condition.client_id !== clientId) return helixError(404, 'Not Found', 'subscription not found');
    store.subscriptions.delete(subscription.id);
    return new Response(null, { status: 204 });
  });

  return routes;
}

/**
 * Control API under /_standin/eventsub: delivery mode, the outbox (for tests), a user disconnecting
 * the app (revokes their tokens and notifies subscribers), and Twitch revoking a subscription.
 */
export function eventSubControlRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.post('/delivery', async (c) => {
    const body: unknown = await c.req.json().catch(() => null);
    if (!isJsonObject(body)) throw new InvalidInputError('body must be a JSON object');
    const mode = requiredString(body, 'mode');
    if (mode !== 'direct' && mode !== 'outbox') throw new InvalidInputError('mode must be direct or outbox');
    eventSubStore(state).delivery = mode;
    return jsonResponse({ mode });
  });

  routes.get('/subscriptions', (_c) => jsonResponse({ data: [...eventSubStore(state).subscriptions.values()].map(publicView) }));

  /** Every undelivered message (the test carries them to the callback and reports the answer). */
  routes.get('/outbox', () => {
    const store = eventSubStore(state);
    const messages = [...store.outbox.values()].map((entry) => entry.delivery);
    return jsonResponse({ messages });
  });

  /** How the callback answered a message taken from the outbox. */
  routes.post('/outbox/:id/answer', async (c) => {
    const store = eventSubStore(state);
    const entry = store.outbox.get(c.req.param('id'));
    if (!entry) return jsonResponse({ status: 404, message: 'no such message' }, 404);
    const body: unknown = await c.req.json().catch(() => null);
    if (!isJsonObject(body)) throw new InvalidInputError('body must be a JSON object');
    const subscription = store.subscriptions.get(entry.subscriptionId);
    if (subscription) {
      applyAnswer(subscription, entry.challenge, {
        status: Number(body.status),
        body: optionalString(body, 'body') ?? '',
        contentType: optionalString(body, 'contentType') ?? '',
      });
    }
    store.outbox.delete(entry.delivery.id);
    return jsonResponse({ subscription: subscription ? publicView(subscription) : null });
  });

  /** The user disconnects the app in their Twitch settings: tokens die, subscribers hear of it. */
  routes.post('/disconnect', async (c) => {
    const body: unknown = await c.req.json().catch(() => null);
    if (!isJsonObject(body)) throw new InvalidInputError('body must be a JSON object');
    const userId = requiredString(body, 'user_id');
    const clientId = optionalString(body, 'client_id') ?? state.listClients()[0]?.clientId ?? '';
    const revoked = state.disconnectUser(userId, clientId);
    const notified = await notifyAuthorizationRevoked(state, clientId, userId);
    return jsonResponse({ revoked, notified });
  });

  /** Twitch revokes a subscription (e.g. `authorization_revoked`) and tells the callback. */
  routes.post('/revoke-subscription', async (c) => {
    const body: unknown = await c.req.json().catch(() => null);
    if (!isJsonObject(body)) throw new InvalidInputError('body must be a JSON object');
    const store = eventSubStore(state);
    const subscription = store.subscriptions.get(requiredString(body, 'id'));
    if (!subscription) return jsonResponse({ status: 404, message: 'no such subscription' }, 404);
    subscription.status = (optionalString(body, 'status') ?? 'authorization_revoked') as SubscriptionStatus;
    await send(store, subscription, await signedMessage(subscription, 'revocation', {}));
    store.subscriptions.delete(subscription.id);
    return jsonResponse({ revoked: publicView(subscription) });
  });

  return routes;
}
