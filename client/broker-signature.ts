/**
 * Checks `Broker-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(NOTIFY_SECRET, "<t>.<raw body>")>`
 * on the events the broker POSTs to NOTIFY_URL, in the manner of Stripe's webhook verifier.
 */

/** Options of `verifyBrokerSignature`. */
export interface VerifyBrokerSignatureOptions {
  /** How far the signed time may be from now, in seconds (default 300): older messages are replays. */
  toleranceSeconds?: number;
  /** The current time in epoch milliseconds (default `Date.now()`). */
  now?: number;
}

const encoder = new TextEncoder();

/**
 * Whether `signatureHeader` signs `rawBody` with `secret` at a time within the tolerance. Pass the
 * body exactly as received (text or bytes), not re-serialised JSON. The MAC is compared by Web
 * Crypto's `verify`, in constant time.
 */
export async function verifyBrokerSignature(
  rawBody: string | Uint8Array,
  signatureHeader: string | null | undefined,
  secret: string,
  options: VerifyBrokerSignatureOptions = {},
): Promise<boolean> {
  if (!signatureHeader || !secret) return false;
  const parts = signatureHeader.split(',').map((part) => part.trim());
  const timestamp = parts.find((part) => part.startsWith('t='))?.slice(2) ?? '';
  const macs = parts.filter((part) => /^v1=[0-9a-f]{64}$/.test(part)).map((part) => hexBytes(part.slice(3)));
  if (!/^\d{1,12}$/.test(timestamp) || macs.length === 0) return false;
  const nowSeconds = (options.now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;

  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const body = typeof rawBody === 'string' ? encoder.encode(rawBody) : rawBody;
  const prefix = encoder.encode(`${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  for (const mac of macs) {
    if (await crypto.subtle.verify('HMAC', key, mac, signed)) return true;
  }
  return false;
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}
