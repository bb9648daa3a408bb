import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import { utf8 } from './encoding';

/**
 * Sealing tokens at rest: compact JWE, `dir` + `A256GCM`, with the key id and the value's purpose
 * (for example `user:123:refresh`) in the authenticated header. A sealed value copied to another
 * user's record, or to another field, fails to unseal.
 */

interface SealingKey {
  kid: string;
  key: CryptoKey;
}

const keyrings = new WeakMap<readonly Uint8Array[], Promise<SealingKey[]>>();
const textDecoder = new TextDecoder();

/** Imports the keys once per isolate: the key id is the first 8 bytes of SHA-256(key), in hex. */
function keyring(rawKeys: readonly Uint8Array[]): Promise<SealingKey[]> {
  let ring = keyrings.get(rawKeys);
  if (!ring) {
    ring = Promise.all(
      rawKeys.map(async (raw) => {
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
        const kid = Array.from(digest.slice(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join('');
        const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
        return { kid, key };
      }),
    );
    keyrings.set(rawKeys, ring);
  }
  return ring;
}

/**
 * What `unseal` says when no configured key has the sealing key's id. It crosses Durable Object RPC
 * as a plain message (RPC drops error classes), so the Worker recognises the mistake by this text.
 */
export const UNKNOWN_SEALING_KEY = 'sealed with a key TOKEN_ENCRYPTION_KEY does not hold';

/** The ids of the configured keys, newest first. */
export async function configuredKeyIds(rawKeys: readonly Uint8Array[]): Promise<string[]> {
  return (await keyring(rawKeys)).map((key) => key.kid);
}

/** The id of the key `sealed` was sealed with. */
export const sealingKeyId = (sealed: string): string => String(decodeProtectedHeader(sealed).kid);

/** Seals `plaintext` for `purpose` with the newest key. */
export async function seal(plaintext: string, purpose: string, rawKeys: readonly Uint8Array[]): Promise<string> {
  const [newest] = await keyring(rawKeys);
  if (!newest) throw new Error('no sealing key');
  return new CompactEncrypt(utf8(plaintext)).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: newest.kid, purpose }).encrypt(newest.key);
}

/** Unseals a value sealed for `purpose` with any configured key; throws if it was tampered with. */
export async function unseal(sealed: string, purpose: string, rawKeys: readonly Uint8Array[]): Promise<string> {
  const header = decodeProtectedHeader(sealed);
  const ring = await keyring(rawKeys);
  const match = ring.find((candidate) => candidate.kid === header.kid);
  if (!match) throw new Error(`${UNKNOWN_SEALING_KEY} (key id ${String(header.kid)})`);
  if (header.purpose !== purpose) throw new Error('sealed value used for the wrong purpose');
  const { plaintext } = await compactDecrypt(sealed, match.key, {
    keyManagementAlgorithms: ['dir'],
    contentEncryptionAlgorithms: ['A256GCM'],
  });
  return textDecoder.decode(plaintext);
}

/** True when `sealed` was sealed with a key other than the newest: it should be re-sealed on write. */
export async function isSealedWithOldKey(sealed: string, rawKeys: readonly Uint8Array[]): Promise<boolean> {
  const [newest] = await keyring(rawKeys);
  return decodeProtectedHeader(sealed).kid !== newest?.kid;
}
