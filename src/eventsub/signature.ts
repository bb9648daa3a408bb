import { utf8 } from '../crypto/encoding';

/**
 * Twitch's EventSub webhook signature: `sha256=` + hex HMAC-SHA256(secret, message id + timestamp +
 * raw body). Checked over the raw bytes received, never re-serialised JSON, in constant time.
 */

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(secret, key);
  }
  return key;
}

/** Whether `signature` is Twitch's signature of this message under `secret`. */
export async function eventSubSignatureValid(secret: string, message: { id: string; timestamp: string; body: string }, signature: string): Promise<boolean> {
  const match = /^sha256=([0-9a-f]{64})$/.exec(signature);
  if (!match) return false;
  const presented = new Uint8Array(32);
  for (let i = 0; i < 32; i++) presented[i] = parseInt(match[1]!.slice(i * 2, i * 2 + 2), 16);
  const expected = await crypto.subtle.sign('HMAC', await hmacKey(secret), utf8(message.id + message.timestamp + message.body));
  return crypto.subtle.timingSafeEqual(expected, presented);
}
