import { utf8 } from '../crypto/encoding';

/**
 * `Broker-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(NOTIFY_SECRET, "<t>.<raw body>")>`, in
 * the manner of Stripe's webhooks: the timestamp is signed with the body, so a receiver can refuse
 * old replays. The client SDK's `verifyBrokerSignature` checks it.
 */
export async function brokerSignature(secret: string, body: string, unixSeconds: number): Promise<string> {
  const key = await crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(`${unixSeconds}.${body}`)));
  return `t=${unixSeconds},v1=${Array.from(mac, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}
