import { base64url } from 'jose';
import { utf8 } from '../crypto/encoding';

/**
 * PKCE (RFC 7636, S256 only) for session codes: the frontend keeps a random verifier and sends
 * only its SHA-256 to /authorize, so a session code read from a URL is useless without it.
 */

/** base64url(SHA-256(verifier)): always 43 characters. */
export const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
export const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Whether `verifier` hashes to `challenge`, compared in constant time. */
export async function verifierMatches(verifier: string, challenge: string): Promise<boolean> {
  const computed = utf8(base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(verifier)))));
  const expected = utf8(challenge);
  return computed.length === expected.length && crypto.subtle.timingSafeEqual(computed, expected);
}
