import { Hono, type Context } from 'hono';
import * as z from 'zod/mini';
import { requireSession } from '../auth/session-auth';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { BrokerError, invalidRequest, unauthorized } from '../errors';
import { limitLoginRate } from '../http/login-rate-limiter';
import { checkOrigin } from '../http/origins';
import { validateInput } from '../http/validate-input';
import { clearSessionCookie } from '../session/session-cookie';
import { signSession } from '../session/session-token';
import { oneTimeStore, userVault } from '../vault/stubs';
import type { UserVault } from '../vault/user-vault';

const sessionCodeBody = z.object({
  session_code: z.string().check(z.minLength(1), z.maxLength(100), z.regex(/^[A-Za-z0-9_\-]+$/)),
});

export const sessionRoutes = new Hono<AppEnv>()
  /** Exchanges the one-time `session_code` from the login redirect for a bearer session token. */
  .post('/session', limitLoginRate, async (c, next) => {
    checkOrigin(c, false);
    if (!(c.req.header('Content-Type') ?? '').toLowerCase().startsWith('application/json')) {
      throw new BrokerError(415, 'invalid_request', 'send JSON: {"session_code": "..."}');
    }
    await next();
  }, validateInput('json', sessionCodeBody), async (c) => {
    const { session_code: code } = c.req.valid('json');
    const taken = await oneTimeStore(c.env, `session:${code}`).take();
    if (!taken.ok || taken.value.kind !== 'session_code') {
      throw invalidRequest('session_code is unknown, expired or already used');
    }
    const { userId, sessionVersion } = taken.value;
    const session = await signSession(getConfig(c.env).sessionSecret, userId, sessionVersion);
    c.header('Cache-Control', 'no-store');
    return c.json({
      session_token: session.token,
      token_type: 'bearer',
      expires_in: Math.floor((session.claims.expiresAt - Date.now()) / 1000),
      user_id: userId,
    });
  })

  /** Logs out: revokes the tokens at Twitch, forgets the grant, ends every session of the user. */
  .post('/logout', requireSession, async (c) => {
    await endSessions(c, (vault, version) => vault.logout(version));
    return c.json({ logged_out: true });
  })

  /** Ends every session of the signed-in user (all devices), keeping the grant. */
  .post('/sessions/revoke-all', requireSession, async (c) => {
    await endSessions(c, (vault, version) => vault.revokeSessions(version));
    return c.json({ sessions_revoked: true });
  });

/**
 * The shared half of logout and revoke-all: Origin check for cookie sessions, the vault action
 * (which refuses an already revoked session), and clearing the cookie.
 */
async function endSessions(
  c: Context<AppEnv>,
  action: (vault: DurableObjectStub<UserVault>, sessionVersion: number) => Promise<string>,
): Promise<void> {
  checkOrigin(c, c.get('sessionTransport') === 'cookie');
  const session = c.get('session')!;
  const outcome = await action(userVault(c.env, session.userId), session.sessionVersion);
  clearSessionCookie(c);
  if (outcome === 'session_revoked') throw unauthorized('the session has been revoked');
}
