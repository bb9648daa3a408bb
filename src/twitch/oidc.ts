import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { Config } from '../config';
import { TwitchError } from './twitch-error';

/** Who an id_token says the user is. */
export interface IdTokenIdentity {
  userId: string;
  preferredUsername: string | null;
}

// One JWKS per URL per isolate: jose caches the keys and refetches only for an unknown `kid`.
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function keySet(authBaseUrl: string): ReturnType<typeof createRemoteJWKSet> {
  const url = `${authBaseUrl}/oauth2/keys`;
  let keys = keySets.get(url);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(url), { timeoutDuration: 3_000, cooldownDuration: 30_000 });
    keySets.set(url, keys);
  }
  return keys;
}

/**
 * Verifies Twitch's OIDC id_token: RS256 against Twitch's JWKS (key chosen by `kid`), issuer,
 * audience = our client id, expiry, and the nonce we sent. A token that fails any check is a
 * `rejected` TwitchError; keys that cannot be fetched are `unavailable`.
 */
export async function verifyIdToken(config: Config, idToken: string, expectedNonce: string): Promise<IdTokenIdentity> {
  let payload;
  try {
    ({ payload } = await jwtVerify(idToken, keySet(config.authBaseUrl), {
      algorithms: ['RS256'],
      issuer: config.oidcIssuer,
      audience: config.clientId,
      requiredClaims: ['sub', 'exp', 'iat'],
      clockTolerance: 30,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWKSTimeout || (error instanceof Error && error.name === 'TypeError')) {
      throw new TwitchError('unavailable', 0, 'could not fetch the OIDC signing keys');
    }
    throw new TwitchError('rejected', 400, `id_token refused (${error instanceof joseErrors.JOSEError ? error.code : 'invalid'})`);
  }
  if (payload.nonce !== expectedNonce) throw new TwitchError('rejected', 400, 'id_token refused (nonce mismatch)');
  if (typeof payload.sub !== 'string' || !/^[0-9]{1,20}$/.test(payload.sub)) {
    throw new TwitchError('rejected', 400, 'id_token refused (malformed subject)');
  }
  const preferredUsername = payload.preferred_username;
  return { userId: payload.sub, preferredUsername: typeof preferredUsername === 'string' ? preferredUsername : null };
}
