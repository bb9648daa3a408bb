import { base64url } from 'jose';

const textEncoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export const utf8 = (text: string): Uint8Array => textEncoder.encode(text);

/** Decodes standard or URL-safe base64 (padding optional); null when it is not base64. */
export function decodeBase64(text: string): Uint8Array | null {
  const urlSafe = text.trim().replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(urlSafe)) return null;
  try {
    return base64url.decode(urlSafe);
  } catch {
    return null;
  }
}

/** Random bytes as unpadded base64url: unguessable identifiers (state, session ids, codes). */
export function randomToken(byteLength = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(byteLength)));
}

/** SHA-256 of a string as lowercase hex: stored in place of secrets that only need comparing. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Compares two secrets in constant time by comparing their SHA-256 digests. */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [digestA, digestB] = await Promise.all([crypto.subtle.digest('SHA-256', utf8(a)), crypto.subtle.digest('SHA-256', utf8(b))]);
  return crypto.subtle.timingSafeEqual(digestA, digestB);
}
