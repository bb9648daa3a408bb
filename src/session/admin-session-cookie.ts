import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../env';
import { ADMIN_SESSION_TTL_SECONDS } from './admin-session-token';

/**
 * The admin console's cookie: `__Host-ttb_admin` on https (Secure, Path=/, no Domain), `ttb_admin`
 * on plain http (local development), like the user session's. SameSite=Strict: no other site can
 * make a browser send it, not even a link; the console's forms are CSRF-checked besides.
 */
const ADMIN_COOKIE = 'ttb_admin';

const isHttps = (c: Context<AppEnv>): boolean => new URL(c.req.url).protocol === 'https:';

function cookieOptions(c: Context<AppEnv>, maxAge: number) {
  return isHttps(c)
    ? ({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/', maxAge, prefix: 'host' } as const)
    : ({ httpOnly: true, sameSite: 'Strict', path: '/', maxAge } as const);
}

/** Sets the admin session cookie. */
export function setAdminSessionCookie(c: Context<AppEnv>, token: string): void {
  setCookie(c, ADMIN_COOKIE, token, cookieOptions(c, ADMIN_SESSION_TTL_SECONDS));
}

/** The admin session cookie's value, if any. */
export function readAdminSessionCookie(c: Context<AppEnv>): string | undefined {
  return getCookie(c, ADMIN_COOKIE, isHttps(c) ? 'host' : undefined);
}

/** Clears the admin session cookie. */
export function clearAdminSessionCookie(c: Context<AppEnv>): void {
  deleteCookie(c, ADMIN_COOKIE, cookieOptions(c, 0));
}
