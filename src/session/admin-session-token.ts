import { SignJWT, base64url, errors as joseErrors, jwtVerify } from 'jose';
import type { ApiKeyEntry } from '../config';
import { randomToken, utf8 } from '../crypto/encoding';

/**
 * The admin console's session: a short-lived HS256 JWT in an HttpOnly cookie, made when an API key
 * of scope `admin` signs in (the key itself is never kept). Its keys are derived from
 * SESSION_SECRET for this purpose alone, and it carries its own audience, so a user's session
 * token never passes as an admin session, nor the other way round. It names the API key that
 * signed in and binds to that key's digest, so removing or replacing the key ends the session.
 */

/** What a verified admin session says. */
export interface AdminSessionClaims {
  /** The configured name of the API key that signed in. */
  keyName: string;
  /** Binds the session to that key's digest (an HMAC of it, not the digest itself). */
  keyBinding: string;
  sessionId: string;
  expiresAt: number;
}

/** 30 minutes: long enough for an investigation, short enough that a forgotten tab soon stops working. */
export const ADMIN_SESSION_TTL_SECONDS = 30 * 60;
const ISSUER = 'twitch-token-broker';
const AUDIENCE = 'twitch-token-broker:admin-console';
const CLOCK_TOLERANCE_SECONDS = 30;

/** One derived key per purpose, so a value made for one purpose is worthless for another. */
type Purpose = 'admin-console session v1' | 'admin-console csrf v1' | 'admin-console key binding v1';

const derivedKeys = new Map<string, Promise<CryptoKey>>();

/** HMAC-SHA256(SESSION_SECRET, purpose) as an HMAC key of its own: imported once per isolate. */
function derivedKey(secret: string, purpose: Purpose): Promise<CryptoKey> {
  const cacheKey = `${purpose}\u0000${secret}`;
  let key = derivedKeys.get(cacheKey);
  if (!key) {
    key = (async () => {
      const root = await crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      const bytes = await crypto.subtle.sign('HMAC', root, utf8(purpose));
      return crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    })();
    derivedKeys.set(cacheKey, key);
  }
  return key;
}

async function mac(secret: string, purpose: Purpose, data: Uint8Array): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.sign('HMAC', await derivedKey(secret, purpose), data)));
}

/** The binding of a configured key: changes whenever the key's digest does. */
export const keyBindingOf = (secret: string, entry: ApiKeyEntry): Promise<string> => mac(secret, 'admin-console key binding v1', entry.digest);

/** Signs a new admin session for the API key `entry`. */
export async function signAdminSession(secret: string, entry: ApiKeyEntry, now = Date.now()): Promise<{ token: string; claims: AdminSessionClaims }> {
  const issuedAt = Math.floor(now / 1000);
  const claims: AdminSessionClaims = {
    keyName: entry.name,
    keyBinding: await keyBindingOf(secret, entry),
    sessionId: randomToken(16),
    expiresAt: (issuedAt + ADMIN_SESSION_TTL_SECONDS) * 1000,
  };
  const token = await new SignJWT({ sid: claims.sessionId, kb: claims.keyBinding })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(entry.name)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ADMIN_SESSION_TTL_SECONDS)
    .sign(await derivedKey(secret, 'admin-console session v1'));
  return { token, claims };
}

/** Verifies an admin session token; null for anything forged, expired, malformed, or not an admin session. */
export async function verifyAdminSession(secret: string, token: string, now = Date.now()): Promise<AdminSessionClaims | null> {
  if (token.length > 2048) return null;
  try {
    const { payload } = await jwtVerify(token, await derivedKey(secret, 'admin-console session v1'), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['sub', 'iat', 'exp', 'sid', 'kb'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now),
    });
    const { sub, sid, kb, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof kb !== 'string' || typeof exp !== 'number') return null;
    if (typeof iat !== 'number' || iat > now / 1000 + CLOCK_TOLERANCE_SECONDS) return null;
    return { keyName: sub, keyBinding: kb, sessionId: sid, expiresAt: exp * 1000 };
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return null;
    throw error;
  }
}

/** The CSRF token of an admin session: every state-changing console form carries it. */
export const csrfTokenFor = (secret: string, sessionId: string): Promise<string> => mac(secret, 'admin-console csrf v1', utf8(sessionId));

/** Whether `presented` is the CSRF token of `sessionId`, compared in constant time. */
export async function csrfTokenMatches(secret: string, sessionId: string, presented: string | undefined): Promise<boolean> {
  if (!presented || presented.length > 100) return false;
  const expected = utf8(await csrfTokenFor(secret, sessionId));
  const given = utf8(presented);
  return expected.length === given.length && crypto.subtle.timingSafeEqual(expected, given);
}
