import { Hono } from 'hono';
import { escapeHtml, jsonResponse, paramValue, parseScopes, twitchError, type StandinEnv } from './http';
import { InvalidInputError, isJsonObject, optionalNumber, optionalString, requiredString } from './json-input';
import type { StandinState } from './state';
import { userTokenBody } from './token';

/**
 * The Device Code Grant Flow as Twitch documents it: POST /oauth2/device (client_id, scopes) hands
 * out a device code and a user code; the user approves at `verification_uri`; the device polls
 * POST /oauth2/token with grant_type urn:ietf:params:oauth:grant-type:device_code and gets
 * `authorization_pending` until then. Twitch documents only that message; `slow_down` (polled
 * faster than `interval`), `expired_token` and `access_denied` follow RFC 8628, since brokers must
 * handle them defensively. A device code redeems once.
 */

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  intervalSeconds: number;
  lastPollAt: number | null;
  status: 'pending' | 'approved' | 'denied' | 'redeemed';
  userId: string | null;
}

interface DeviceStore {
  byDeviceCode: Map<string, DeviceAuthorization>;
  intervalSeconds: number;
  expiresInSeconds: number;
}

const stores = new WeakMap<StandinState, DeviceStore>();

function storeOf(state: StandinState): DeviceStore {
  let store = stores.get(state);
  if (!store) {
    store = { byDeviceCode: new Map(), intervalSeconds: 5, expiresInSeconds: 1800 };
    stores.set(state, store);
  }
  return store;
}

/** Forgets device authorizations and settings (the control API's reset). */
export function resetDeviceFlow(state: StandinState): void {
  stores.delete(state);
}

const randomCode = (alphabet: string, length: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => alphabet[byte % alphabet.length]).join('');

function byUserCode(state: StandinState, userCode: string): DeviceAuthorization | undefined {
  return [...storeOf(state).byDeviceCode.values()].find((authorization) => authorization.userCode === userCode.toUpperCase());
}

/** The user's decision at the activation page (or through the control API). */
function decide(state: StandinState, userCode: string, decision: 'allow' | 'deny', userId: string | undefined): DeviceAuthorization | string {
  const authorization = byUserCode(state, userCode);
  if (authorization?.status !== 'pending' || state.now() >= authorization.expiresAt) return 'unknown or expired code';
  if (decision === 'deny') {
    authorization.status = 'denied';
    return authorization;
  }
  const user = userId === undefined ? undefined : (state.findUser(userId) ?? state.addUsers([{ id: userId, login: `user_${userId}` }])[0]);
  if (!user) return 'user_id is required to approve';
  authorization.status = 'approved';
  authorization.userId = user.id;
  return authorization;
}

/** POST /oauth2/device, the device grant on POST /oauth2/token, and the activation page. */
export function deviceRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.post('/device', (c) => {
    const params = c.get('oauthParams');
    const clientId = paramValue(params, 'client_id');
    if (clientId === undefined) return twitchError(400, 'missing client_id');
    if (state.findClient(clientId) === undefined) return twitchError(400, 'invalid client');
    const store = storeOf(state);
    const authorization: DeviceAuthorization = {
      deviceCode: randomCode('abcdefghijklmnopqrstuvwxyz0123456789', 40),
      userCode: randomCode('ABCDEFGHJKLMNPQRSTUVWXYZ', 8),
      clientId,
      scopes: parseScopes(paramValue(params, 'scopes')),
      expiresAt: state.now() + store.expiresInSeconds * 1000,
      intervalSeconds: store.intervalSeconds,
      lastPollAt: null,
      status: 'pending',
      userId: null,
    };
    store.byDeviceCode.set(authorization.deviceCode, authorization);
    return jsonResponse({
      device_code: authorization.deviceCode,
      expires_in: store.expiresInSeconds,
      interval: authorization.intervalSeconds,
      user_code: authorization.userCode,
      verification_uri: `${new URL(c.req.url).origin}/activate?device-code=${authorization.userCode}`,
    });
  });

  // The device grant; other grants fall through to the token router.
  routes.post('/token', async (c, next) => {
    const params = c.get('oauthParams');
    if (paramValue(params, 'grant_type') !== DEVICE_GRANT_TYPE) return next();
    const clientId = paramValue(params, 'client_id');
    if (clientId === undefined) return twitchError(400, 'missing client_id');
    const authorization = storeOf(state).byDeviceCode.get(paramValue(params, 'device_code') ?? '');
    if (!authorization || authorization.clientId !== clientId || authorization.status === 'redeemed') return twitchError(400, 'invalid device code');
    const now = state.now();
    if (now >= authorization.expiresAt) return twitchError(400, 'expired_token');
    if (authorization.status === 'denied') return twitchError(400, 'access_denied');
    const tooSoon = authorization.lastPollAt !== null && now - authorization.lastPollAt < authorization.intervalSeconds * 1000;
    authorization.lastPollAt = now;
    if (authorization.status === 'pending') {
      if (tooSoon) {
        authorization.intervalSeconds += 5;
        return twitchError(400, 'slow_down');
      }
      return twitchError(400, 'authorization_pending');
    }
    authorization.status = 'redeemed';
    return jsonResponse(userTokenBody(state.issueUserGrant(clientId, authorization.userId!, authorization.scopes)));
  });

  return routes;
}

/** GET/POST /activate: where the user types or confirms the code and approves as a stand-in user. */
export function activationRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();
  routes.get('/activate', (c) => {
    const userCode = escapeHtml(c.req.query('device-code') ?? '');
    const users = state
      .listUsers()
      .slice(0, 20)
      .map((user) => `<option value="${escapeHtml(user.id)}">${escapeHtml(user.login)}</option>`)
      .join('');
    return c.html(`<!doctype html><meta charset="utf-8"><title>Activate a device (Twitch stand-in)</title>
<h1>Activate a device</h1><form method="post" action="/activate">
<p><label>Code <input name="device-code" value="${userCode}"></label></p>
<p><label>Log in as <select name="user_id">${users}</select></label></p>
<p><button name="decision" value="allow">Authorize</button> <button name="decision" value="deny">Cancel</button></p></form>`);
  });
  routes.post('/activate', async (c) => {
    const form = await c.req.parseBody();
    const outcome = decide(
      state,
      String(form['device-code'] ?? ''),
      form.decision === 'deny' ? 'deny' : 'allow',
      typeof form.user_id === 'string' ? form.user_id : undefined,
    );
    if (typeof outcome === 'string') return c.html(`<p>${escapeHtml(outcome)}</p>`, 400);
    return c.html(`<p>${outcome.status === 'approved' ? 'Device authorized. You can close this page.' : 'Cancelled.'}</p>`);
  });
  return routes;
}

/** Control API under /_standin/device: approve or deny a user code, set interval and lifetime. */
export function deviceControlRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();
  const readBody = async (request: Request): Promise<Record<string, unknown>> => {
    const body: unknown = await request.json().catch(() => null);
    if (!isJsonObject(body)) throw new InvalidInputError('body must be a JSON object');
    return body;
  };
  routes.post('/approve', async (c) => {
    const body = await readBody(c.req.raw);
    const outcome = decide(state, requiredString(body, 'user_code'), 'allow', optionalString(body, 'user_id'));
    return typeof outcome === 'string' ? twitchError(404, outcome) : jsonResponse({ approved: outcome.userId });
  });
  routes.post('/deny', async (c) => {
    const outcome = decide(state, requiredString(await readBody(c.req.raw), 'user_code'), 'deny', undefined);
    return typeof outcome === 'string' ? twitchError(404, outcome) : jsonResponse({ denied: true });
  });
  routes.post('/config', async (c) => {
    const body = await readBody(c.req.raw);
    const store = storeOf(state);
    store.intervalSeconds = optionalNumber(body, 'interval') ?? store.intervalSeconds;
    store.expiresInSeconds = optionalNumber(body, 'expiresIn') ?? store.expiresInSeconds;
    return jsonResponse({ interval: store.intervalSeconds, expiresIn: store.expiresInSeconds });
  });
  return routes;
}
