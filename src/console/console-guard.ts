import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { BrokerError } from '../errors';
import { brokerOrigin } from '../http/origins';
import { clearAdminSessionCookie, readAdminSessionCookie } from '../session/admin-session-cookie';
import { csrfTokenMatches, keyBindingOf, verifyAdminSession, type AdminSessionClaims } from '../session/admin-session-token';

/**
 * What stands between a browser and the console: its response headers, the admin session, and the
 * CSRF checks on every state-changing form.
 */

/**
 * No script may run, no style but the console's own sheet (style attributes are blocked too), no
 * frame may hold the console, forms post only to it. `default-src 'none'` covers everything else.
 */
export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers on every console response, errors included. */
export const consoleHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  c.res.headers.set('Content-Security-Policy', CONSOLE_CSP);
  c.res.headers.set('X-Frame-Options', 'DENY');
  // Not no-referrer: under it browsers send `Origin: null` with the console's own form posts, which
  // the Origin check below must then refuse. same-origin still tells no other site anything.
  c.res.headers.set('Referrer-Policy', 'same-origin');
  if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
});

/** Thrown when the console needs a (new) sign-in: the console answers with the sign-in page, 401. */
export class SignInRequired extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SignInRequired';
  }
}

/**
 * The admin session from the cookie: valid, unexpired, and made by an API key that is still
 * configured, unchanged, with scope `admin` (checked on every request, so removing the key from
 * API_KEYS ends its sessions at once). Nothing else is accepted: not an API key in a header, a
 * query or a form, nor a user's session.
 */
export async function verifiedAdminSession(c: Context<AppEnv>): Promise<AdminSessionClaims> {
  const token = readAdminSessionCookie(c);
  if (!token) throw new SignInRequired('Sign in with an API key of scope admin.');
  const config = getConfig(c.env);
  const claims = await verifyAdminSession(config.sessionSecret, token);
  const entry = claims ? config.apiKeys.find((candidate) => candidate.name === claims.keyName) : undefined;
  const stillValid = claims && entry?.scopes.has('admin') && (await keyBindingOf(config.sessionSecret, entry)) === claims.keyBinding;
  if (!claims || !stillValid) {
    clearAdminSessionCookie(c);
    throw new SignInRequired(claims ? 'The API key you signed in with is no longer configured for admin.' : 'Your admin session has ended. Sign in again.');
  }
  return claims;
}

/** `verifiedAdminSession` as middleware. */
export const requireAdminSession = createMiddleware<AppEnv>(async (c, next) => {
  c.set('adminSession', await verifiedAdminSession(c));
  await next();
});

/**
 * A state-changing console request must come from the console itself: `Sec-Fetch-Site`, when the
 * browser sends it, must say same-origin, and `Origin` must be the broker's (ALLOWED_ORIGINS are
 * app frontends and get no say here).
 */
export const requireSameOrigin = createMiddleware<AppEnv>(async (c, next) => {
  const site = c.req.header('Sec-Fetch-Site');
  const origin = c.req.header('Origin');
  const ownOrigins = [new URL(c.req.url).origin, brokerOrigin(c)];
  if ((site !== undefined && site !== 'same-origin') || !origin || !ownOrigins.includes(origin)) {
    throw new BrokerError(403, 'forbidden_origin', 'This form must be sent from the admin console itself.');
  }
  await next();
});

/** Checks the form's `csrf` field against the signed-in admin session (after `requireAdminSession`). */
export async function checkCsrfToken(sessionSecret: string, sessionId: string, presented: unknown): Promise<void> {
  if (!(await csrfTokenMatches(sessionSecret, sessionId, typeof presented === 'string' ? presented : undefined))) {
    throw new BrokerError(403, 'invalid_csrf_token', 'This form is out of date or was not made by the console. Reload the page and try again.');
  }
}

/**
 * The console's pages and forms: `/admin` and everything under `/admin/console/`. They are HTML for
 * a browser, not API: /openapi.json leaves them out (docs/admin-console.md lists them).
 */
export const CONSOLE_PATH = /^\/admin(?:$|\/console\/)/;

/** Whether `path` is one of the console's. */
export const isConsolePath = (path: string): boolean => CONSOLE_PATH.test(path);
