import { Hono, type Context } from 'hono';
import * as z from 'zod/mini';
import { requireApiKey } from '../auth/api-key';
import { requireSession } from '../auth/session-auth';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { BrokerError, reauthorizationRequired, temporarilyUnavailable, unauthorized } from '../errors';
import { brokerOrigin } from '../http/origins';
import { userIdParam } from '../http/params';
import { parseScopes } from '../http/scopes';
import { validateInput } from '../http/validate-input';
import { getAppToken } from '../vault/app-token-cache';
import { userVault } from '../vault/stubs';
import type { UserAccessToken, UserTokenResult } from '../vault/vault-types';

/** `force_refresh=true`: the caller's Helix call was refused (401) with the token it was given. */
const forceRefresh = z.optional(z.enum(['true', 'false']));
const appTokenQuery = z.object({ force_refresh: forceRefresh });
/** `scope=a+b`: the scopes the caller needs; a grant lacking any is refused with `insufficient_scope`. */
const userTokenQuery = z.object({
  force_refresh: forceRefresh,
  scope: z.optional(z.string().check(z.refine((value) => parseScopes(value) !== null, 'malformed scope list'))),
});

const secondsUntil = (epochMs: number): number => Math.max(0, Math.floor((epochMs - Date.now()) / 1000));
const unixSeconds = (epochMs: number): number => Math.floor(epochMs / 1000);

/** The token, or the error that says why there is none. */
function tokenOrThrow(result: UserTokenResult, whenMissing: BrokerError): UserAccessToken {
  if (result.ok) return result.token;
  switch (result.error) {
    case 'reauthorization_required':
      throw reauthorizationRequired();
    case 'temporarily_unavailable':
      throw temporarilyUnavailable(result.retryAfterSeconds);
    case 'session_revoked':
      throw unauthorized('the session has been revoked');
    case 'not_found':
      throw whenMissing;
  }
}

/**
 * The `/token` body. With `scope=`, a grant lacking any of those scopes is a 403 that names them
 * and where to send the user: this broker's /authorize asking for the stored and the missing scopes.
 */
function userTokenBody(c: Context<AppEnv>, token: UserAccessToken, requiredScope: string | undefined) {
  const missing = (requiredScope ? parseScopes(requiredScope)! : []).filter((scope) => !token.scopes.includes(scope));
  if (missing.length > 0) {
    const authorizeUrl = new URL('/authorize', brokerOrigin(c));
    authorizeUrl.searchParams.set('scope', [...new Set([...token.scopes.filter((scope) => scope !== 'openid'), ...missing])].join(' '));
    throw new BrokerError(403, 'insufficient_scope', `the user's grant lacks ${missing.join(' ')}; send the user to authorize_url`, {}, {
      missing_scopes: missing,
      authorize_url: authorizeUrl.href,
    });
  }
  return {
    access_token: token.accessToken,
    token_type: 'bearer' as const,
    expires_in: secondsUntil(token.expiresAt),
    expires_at: unixSeconds(token.expiresAt),
    obtained_at: unixSeconds(token.obtainedAt),
    scopes: token.scopes,
    user_id: token.userId,
    login: token.login,
    client_id: getConfig(c.env).clientId,
  };
}

export const tokenRoutes = new Hono<AppEnv>()
  // '/token/*' also matches '/token' itself: every token answer, error or not, is no-store.
  .use('/token/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  })

  /** The signed-in user's access token, refreshed when needed. */
  .get('/token', requireSession, validateInput('query', userTokenQuery), async (c) => {
    const session = c.get('session')!;
    const query = c.req.valid('query');
    const result = await userVault(c.env, session.userId).getAccessToken({
      sessionVersion: session.sessionVersion,
      forceRefresh: query.force_refresh === 'true',
    });
    return c.json(userTokenBody(c, tokenOrThrow(result, unauthorized('no grant is stored for this session')), query.scope));
  })

  /** The app access token (client credentials), for server-side callers. */
  .get('/token/app', requireApiKey('app'), validateInput('query', appTokenQuery), async (c) => {
    const result = await getAppToken(c.env, { forceRefresh: c.req.valid('query').force_refresh === 'true' });
    if (!result.ok) throw temporarilyUnavailable(result.retryAfterSeconds);
    return c.json({
      access_token: result.token.accessToken,
      token_type: 'bearer',
      expires_in: secondsUntil(result.token.expiresAt),
      expires_at: unixSeconds(result.token.expiresAt),
      client_id: getConfig(c.env).clientId,
    });
  })

  /** Any stored user's access token, for server-side callers (bots, EventSub handlers). */
  .get('/token/users/:userId', requireApiKey('users'), validateInput('param', userIdParam), validateInput('query', userTokenQuery), async (c) => {
    const { userId } = c.req.valid('param');
    const query = c.req.valid('query');
    const result = await userVault(c.env, userId).getAccessToken({ forceRefresh: query.force_refresh === 'true' });
    return c.json(userTokenBody(c, tokenOrThrow(result, new BrokerError(404, 'not_found', 'no grant is stored for this user')), query.scope));
  });
