import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { randomToken, utf8 } from '../crypto/encoding';

/** What a verified session says: whose it is, which session, and the user's session version. */
export interface SessionClaims {
  userId: string;
  sessionId: string;
  /** Sessions are revoked by bumping the user's version in their vault; older tokens then fail. */
  sessionVersion: number;
  expiresAt: number;
}

const ISSUER = 'twitch-token-broker';
const AUDIENCE = 'twitch-token-broker:session';
/** How long a session lasts. Revocation does not wait for this: see `sessionVersion`. */
export const SESSION_TTL_SECONDS = 7 * 24 * 3600;
/** Tolerated clock skew between isolates when checking exp and iat. */
const CLOCK_TOLERANCE_SECONDS = 30;

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** Imports the HMAC key once per isolate and secret. */
function sessionKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** Signs a new session for `userId` at `sessionVersion`. */
export async function signSession(secret: string, userId: string, sessionVersion: number, now = Date.now()): Promise<{ token: string; claims: SessionClaims }> {
  const issuedAt = Math.floor(now / 1000);
  const claims: SessionClaims = {
    userId,
    sessionId: randomToken(16),
    sessionVersion,
    expiresAt: (issuedAt + SESSION_TTL_SECONDS) * 1000,
  };
  const token = await new SignJWT({ sid: claims.sessionId, sv: sessionVersion })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(userId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + SESSION_TTL_SECONDS)
    .sign(await sessionKey(secret));
  return { token, claims };
}

/** Verifies a session token; null for anything forged, expired, malformed or from the future. */
export async function verifySession(secret: string, token: string, now = Date.now()): Promise<SessionClaims | null> {
  if (token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, await sessionKey(secret), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['sub', 'iat', 'exp', 'sid', 'sv'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now),
    });
    const { sub, sid, sv, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof sv !== 'number' || typeof exp !== 'number') return null;
    // jose accepts an iat in the future; a token "issued" later than now was not issued by us.
    if (typeof iat !== 'number' || iat > now / 1000 + CLOCK_TOLERANCE_SECONDS) return null;
    return { userId: sub, sessionId: sid, sessionVersion: sv, expiresAt: exp * 1000 };
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return null;
    throw error;
  }
}
