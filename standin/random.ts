const LOWERCASE_ALPHANUMERICS = 'abcdefghijklmnopqrstuvwxyz0123456789';
// The largest multiple of 36 below 256: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_BYTE_LIMIT = 252;

/** Returns `length` random characters from [a-z0-9], the alphabet of Twitch's tokens and codes. */
export function randomLowercaseAlphanumerics(length: number): string {
  const characters: string[] = [];
  while (characters.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length + 8))) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      characters.push(LOWERCASE_ALPHANUMERICS.charAt(byte % LOWERCASE_ALPHANUMERICS.length));
      if (characters.length === length) break;
    }
  }
  return characters.join('');
}
