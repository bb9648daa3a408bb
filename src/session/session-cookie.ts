import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../env';
import { SESSION_TTL_SECONDS } from './session-token';

/**
 * Cookies the broker sets. On https they are `__Host-` prefixed (Secure, Path=/, no Domain: only
 * this exact host can set or read them); plain http is for local development only.
 */
const SESSION_COOKIE = 'ttb_session';
const LOGIN_BINDING_COOKIE = 'ttb_login';
/** A login flow must finish within this. */
export const LOGIN_FLOW_TTL_SECONDS = 600;

const isHttps = (c: Context<AppEnv>): boolean => new URL(c.req.url).protocol === 'https:';

function cookieOptions(c: Context<AppEnv>, maxAge: number) {
  return isHttps(c)
    ? ({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', maxAge, prefix: 'host' } as const)
    : ({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge } as const);
}

const prefixOf = (c: Context<AppEnv>) => (isHttps(c) ? 'host' : undefined);

/** Sets the session cookie. */
export function setSessionCookie(c: Context<AppEnv>, token: string): void {
  setCookie(c, SESSION_COOKIE, token, cookieOptions(c, SESSION_TTL_SECONDS));
}

/** The session cookie's value, if any. */
export function readSessionCookie(c: Context<AppEnv>): string | undefined {
  return getCookie(c, SESSION_COOKIE, prefixOf(c));
}

/** Clears the session cookie. */
export function clearSessionCookie(c: Context<AppEnv>): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c, 0));
}

/** Sets the secret that binds a login flow to this browser. */
export function setLoginBindingCookie(c: Context<AppEnv>, secret: string): void {
  setCookie(c, LOGIN_BINDING_COOKIE, secret, cookieOptions(c, LOGIN_FLOW_TTL_SECONDS));
}

/** The login-binding secret, if this browser started a flow. */
export function readLoginBindingCookie(c: Context<AppEnv>): string | undefined {
  return getCookie(c, LOGIN_BINDING_COOKIE, prefixOf(c));
}
