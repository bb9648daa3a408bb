import { createMiddleware } from 'hono/factory';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { unauthorized } from '../errors';
import { documented, sessionSecurity } from '../openapi/describe';
import { readSessionCookie } from '../session/session-cookie';
import { verifySession } from '../session/session-token';

/** The bearer credential from `Authorization: Bearer <token>`, if present. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer[ ]+([^\s]+)\s*$/i);
  return match?.[1];
}

/**
 * Requires a valid session, from `Authorization: Bearer <session token>` (cross-site frontends)
 * or the session cookie. Only signature and expiry are checked here; the user's vault checks the
 * session version, so revoked sessions fail there. Documents its requirement in /openapi.json.
 */
export const requireSession = documented(
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('Authorization');
    const fromHeader = bearerToken(header);
    if (header !== undefined && fromHeader === undefined) throw unauthorized('Authorization must be "Bearer <session token>"');
    const token = fromHeader ?? readSessionCookie(c);
    if (!token) throw unauthorized('no session: log in through /authorize');
    const claims = await verifySession(getConfig(c.env).sessionSecret, token);
    if (!claims) throw unauthorized('the session is invalid or has expired');
    c.set('session', claims);
    c.set('sessionTransport', fromHeader ? 'bearer' : 'cookie');
    await next();
  }),
  { security: sessionSecurity },
);
