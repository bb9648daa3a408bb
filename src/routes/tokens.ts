import { Hono } from 'hono';
import * as z from 'zod/mini';
import { requireApiKey } from '../auth/api-key';
import { requireSession } from '../auth/session-auth';
import type { AppEnv } from '../env';
import { BrokerError, reauthorizationRequired, temporarilyUnavailable, unauthorized } from '../errors';
import { userIdParam } from '../http/params';
import { validateInput } from '../http/validate-input';
import { getAppToken } from '../vault/app-token-cache';
import { userVault } from '../vault/stubs';
import type { UserTokenResult } from '../vault/vault-types';

/** `force_refresh=true`: the caller's Helix call was refused with the app token it was given. */
const appTokenQuery = z.object({ force_refresh: z.optional(z.enum(['true', 'false'])) });

const secondsUntil = (epochMs: number): number => Math.max(0, Math.floor((epochMs - Date.now()) / 1000));

/** The `/token` body, or the error for why there is none. */
function userTokenBody(result: UserTokenResult, whenMissing: BrokerError) {
  if (result.ok) {
    const { token } = result;
    return {
      access_token: token.accessToken,
      token_type: 'bearer' as const,
      expires_in: secondsUntil(token.expiresAt),
      scopes: token.scopes,
      user_id: token.userId,
      login: token.login,
    };
  }
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

export const tokenRoutes = new Hono<AppEnv>()
  // '/token/*' also matches '/token' itself: every token answer, error or not, is no-store.
  .use('/token/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  })

  /** The signed-in user's access token, refreshed when needed. */
  .get('/token', requireSession, async (c) => {
    const session = c.get('session')!;
    const result = await userVault(c.env, session.userId).getAccessToken({ sessionVersion: session.sessionVersion });
    return c.json(userTokenBody(result, unauthorized('no grant is stored for this session')));
  })

  /** The app access token (client credentials), for server-side callers. */
  .get('/token/app', requireApiKey('app'), validateInput('query', appTokenQuery), async (c) => {
    const result = await getAppToken(c.env, { forceRefresh: c.req.valid('query').force_refresh === 'true' });
    if (!result.ok) throw temporarilyUnavailable(result.retryAfterSeconds);
    return c.json({ access_token: result.token.accessToken, token_type: 'bearer', expires_in: secondsUntil(result.token.expiresAt) });
  })

  /** Any stored user's access token, for server-side callers (bots, EventSub handlers). */
  .get('/token/users/:userId', requireApiKey('users'), validateInput('param', userIdParam), async (c) => {
    const { userId } = c.req.valid('param');
    const result = await userVault(c.env, userId).getAccessToken();
    return c.json(userTokenBody(result, new BrokerError(404, 'not_found', 'no grant is stored for this user')));
  });
