/** PKCE (RFC 7636, S256) with Web Crypto only, so it runs in browsers, Workers, Node 20+, Deno and Bun. */

/** A fresh code verifier: 32 random bytes, base64url (43 characters). */
export function newCodeVerifier(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** BASE64URL(SHA-256(verifier)), the `code_challenge` for `code_challenge_method=S256`. */
export async function codeChallengeOf(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
