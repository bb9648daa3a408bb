import * as z from 'zod/mini';
import type { Config } from '../config';
import { measuredRefresh } from '../metrics/metrics';
import { TwitchError } from './twitch-error';
import { BACKGROUND_BUDGET, callTwitch, type CallBudget, REQUEST_BUDGET } from './twitch-fetch';

/**
 * The Twitch identity client (id.twitch.tv /oauth2): each function builds one request and
 * processes its answer into a checked shape. Failures are TwitchErrors, never raw responses.
 */

/** A user grant as Twitch issues it (code exchange or refresh). */
export interface UserTokenGrant {
  accessToken: string;
  refreshToken: string;
  /** Absolute epoch ms. */
  expiresAt: number;
  scopes: string[];
  /** Present when the grant includes `openid`. */
  idToken: string | null;
}

/** An app access token from the client-credentials grant. */
export interface AppToken {
  accessToken: string;
  expiresAt: number;
}

/** What /oauth2/validate says about a live token. */
export interface TokenInfo {
  clientId: string;
  userId: string | null;
  login: string | null;
  scopes: string[];
  /** Absolute epoch ms; null when Twitch says the token never expires (expires_in 0). */
  expiresAt: number | null;
}

// Twitch returns `scope` as an array, but one documented example shows a bare string.
const scopeField = z.optional(z.union([z.array(z.string()), z.string(), z.null()]));
const userTokenBody = z.object({
  access_token: z.string().check(z.minLength(1)),
  refresh_token: z.string().check(z.minLength(1)),
  expires_in: z.optional(z.number()),
  scope: scopeField,
  id_token: z.optional(z.string()),
});
const appTokenBody = z.object({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.number(),
});
const validateBody = z.object({
  client_id: z.string(),
  login: z.optional(z.nullable(z.string())),
  user_id: z.optional(z.nullable(z.string())),
  scopes: z.optional(z.nullable(z.array(z.string()))),
  expires_in: z.number(),
});

/** When Twitch leaves `expires_in` out of a refresh answer: assume one hour, refresh early rather than late. */
const FALLBACK_EXPIRES_IN_SECONDS = 3600;

function parseAnswer<T>(schema: z.ZodMiniType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new TwitchError('unavailable', 200, `unexpected ${what} body`, 5, true);
  return parsed.data;
}

const normalizeScopes = (scope: string[] | string | null | undefined): string[] =>
  Array.isArray(scope) ? scope : (scope ?? '').split(/[\s+]+/).filter(Boolean);

function tokenRequest(config: Config, params: Record<string, string>): () => Request {
  const body = new URLSearchParams({ client_id: config.clientId, client_secret: config.clientSecret, ...params });
  return () =>
    new Request(`${config.authBaseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: body.toString(),
    });
}

function toUserGrant(body: z.infer<typeof userTokenBody>, now: number): UserTokenGrant {
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    expiresAt: now + (body.expires_in ?? FALLBACK_EXPIRES_IN_SECONDS) * 1000,
    scopes: normalizeScopes(body.scope),
    idToken: body.id_token ?? null,
  };
}

/** Exchanges an authorization code (authorization_code grant). */
export async function exchangeCode(config: Config, code: string, redirectUri: string): Promise<UserTokenGrant> {
  const now = Date.now();
  // A code is single-use: a retry after an ambiguous failure would only earn "invalid code".
  const answer = await callTwitch(tokenRequest(config, { grant_type: 'authorization_code', code, redirect_uri: redirectUri }), {
    ...REQUEST_BUDGET,
    retryAmbiguous: false,
  });
  return toUserGrant(parseAnswer(userTokenBody, answer.body, 'token'), now);
}

/** A refresh tries twice at most per call: the vault's own backoff spaces out further tries. */
const REFRESH_MAX_ATTEMPTS = 2;

/** Refreshes a user grant (refresh_token grant). Never retried after an ambiguous failure. */
export async function refreshUserToken(config: Config, refreshToken: string, budget: CallBudget): Promise<UserTokenGrant> {
  return measuredRefresh(budget === BACKGROUND_BUDGET ? 'background' : 'request', async () => {
    const now = Date.now();
    const answer = await callTwitch(tokenRequest(config, { grant_type: 'refresh_token', refresh_token: refreshToken }), {
      ...budget,
      retryAmbiguous: false,
      maxAttempts: REFRESH_MAX_ATTEMPTS,
    });
    return toUserGrant(parseAnswer(userTokenBody, answer.body, 'token'), now);
  });
}

/** Mints an app access token (client_credentials grant). */
export async function mintAppToken(config: Config, budget: CallBudget): Promise<AppToken> {
  const now = Date.now();
  const answer = await callTwitch(tokenRequest(config, { grant_type: 'client_credentials' }), budget);
  const body = parseAnswer(appTokenBody, answer.body, 'token');
  return { accessToken: body.access_token, expiresAt: now + body.expires_in * 1000 };
}

/**
 * Validates a token. Resolves null when Twitch says the token is invalid (401): that is an answer,
 * not a failure. Throws TwitchError only when Twitch could not answer.
 */
export async function validateToken(config: Config, accessToken: string, budget: CallBudget): Promise<TokenInfo | null> {
  const now = Date.now();
  try {
    const answer = await callTwitch(
      () =>
        new Request(`${config.authBaseUrl}/oauth2/validate`, {
          headers: { Authorization: `OAuth ${accessToken}`, Accept: 'application/json' },
        }),
      budget,
    );
    const body = parseAnswer(validateBody, answer.body, 'validate');
    return {
      clientId: body.client_id,
      userId: body.user_id ?? null,
      login: body.login ?? null,
      scopes: body.scopes ?? [],
      expiresAt: body.expires_in > 0 ? now + body.expires_in * 1000 : null,
    };
  } catch (error) {
    if (error instanceof TwitchError && error.kind === 'rejected' && error.status === 401) return null;
    throw error;
  }
}

/** Revokes a token at Twitch. A token Twitch no longer knows (400 "Invalid token") counts as revoked. */
export async function revokeToken(config: Config, token: string, budget: CallBudget = REQUEST_BUDGET): Promise<void> {
  const body = new URLSearchParams({ client_id: config.clientId, token });
  try {
    await callTwitch(
      () =>
        new Request(`${config.authBaseUrl}/oauth2/revoke`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: body.toString(),
        }),
      budget,
    );
  } catch (error) {
    if (error instanceof TwitchError && error.kind === 'rejected' && error.status === 400) return;
    throw error;
  }
}

/** What POST /oauth2/device hands out: the user code to show, and the device code to poll with. */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  /** Absolute epoch ms. */
  expiresAt: number;
  intervalSeconds: number;
}

const deviceBody = z.object({
  device_code: z.string().check(z.minLength(1)),
  user_code: z.string().check(z.minLength(1)),
  verification_uri: z.string().check(z.minLength(1)),
  expires_in: z.number(),
  interval: z.optional(z.number()),
});

/** Starts the Device Code Grant Flow (`scopes`, plural, as Twitch names it there). */
export async function startDeviceAuthorization(config: Config, scopes: readonly string[], budget: CallBudget = REQUEST_BUDGET): Promise<DeviceAuthorization> {
  const now = Date.now();
  const body = new URLSearchParams({ client_id: config.clientId, scopes: scopes.join(' ') });
  const answer = await callTwitch(
    () =>
      new Request(`${config.authBaseUrl}/oauth2/device`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: body.toString(),
      }),
    budget,
  );
  const parsed = parseAnswer(deviceBody, answer.body, 'device');
  return {
    deviceCode: parsed.device_code,
    userCode: parsed.user_code,
    verificationUri: parsed.verification_uri,
    expiresAt: now + parsed.expires_in * 1000,
    intervalSeconds: Math.max(1, parsed.interval ?? 5),
  };
}

/**
 * Polls the device grant once. Resolves the grant once the user approved; a TwitchError otherwise,
 * whose message is Twitch's (`authorization_pending`, `slow_down`, `expired_token`,
 * `access_denied`, `invalid device code`). A device code redeems once: never retried.
 */
export async function pollDeviceToken(
  config: Config,
  deviceCode: string,
  scopes: readonly string[],
  budget: CallBudget = REQUEST_BUDGET,
): Promise<UserTokenGrant> {
  const now = Date.now();
  const body = new URLSearchParams({
    client_id: config.clientId,
    device_code: deviceCode,
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    scopes: scopes.join(' '),
  });
  const answer = await callTwitch(
    () =>
      new Request(`${config.authBaseUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: body.toString(),
      }),
    { ...budget, retryAmbiguous: false },
  );
  return toUserGrant(parseAnswer(userTokenBody, answer.body, 'token'), now);
}

/** The URL the browser is sent to for consent. */
export function authorizeUrl(
  config: Config,
  params: { redirectUri: string; scopes: readonly string[]; state: string; forceVerify: boolean; nonce: string | null },
): string {
  const url = new URL(`${config.authBaseUrl}/oauth2/authorize`);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', params.scopes.join(' '));
  url.searchParams.set('state', params.state);
  if (params.forceVerify) url.searchParams.set('force_verify', 'true');
  if (params.nonce) url.searchParams.set('nonce', params.nonce);
  return url.href;
}
