import { createMiddleware } from 'hono/factory';
import { getConfig } from '../config';
import { utf8 } from '../crypto/encoding';
import type { AppEnv } from '../env';
import { unauthorized } from '../errors';
import { bearerToken } from './session-auth';

const digestsByKeys = new WeakMap<readonly string[], Promise<ArrayBuffer[]>>();

/** SHA-256 digests of the configured keys, computed once per isolate. */
function keyDigests(keys: readonly string[]): Promise<ArrayBuffer[]> {
  let digests = digestsByKeys.get(keys);
  if (!digests) {
    digests = Promise.all(keys.map((key) => crypto.subtle.digest('SHA-256', utf8(key))));
    digestsByKeys.set(keys, digests);
  }
  return digests;
}

/**
 * Requires `Authorization: Bearer <API key>` for server-side callers. Every configured key is
 * compared, in constant time, against the digest of the presented one.
 */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const presented = bearerToken(c.req.header('Authorization'));
  if (!presented || presented.length > 512) throw unauthorized('an API key is required: Authorization: Bearer <API key>');
  const [presentedDigest, digests] = await Promise.all([
    crypto.subtle.digest('SHA-256', utf8(presented)),
    keyDigests(getConfig(c.env).apiKeys),
  ]);
  let matched = false;
  for (const digest of digests) matched = crypto.subtle.timingSafeEqual(presentedDigest, digest) || matched;
  if (!matched) throw unauthorized('the API key is not valid');
  await next();
});
