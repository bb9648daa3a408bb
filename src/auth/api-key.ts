import { createMiddleware } from 'hono/factory';
import { getConfig, type ApiKeyEntry, type ApiScope, type Config } from '../config';
import { utf8 } from '../crypto/encoding';
import type { AppEnv } from '../env';
import { BrokerError, unauthorized } from '../errors';
import { apiKeySecurity, documented } from '../openapi/describe';
import { bearerToken } from './session-auth';

/** Longest key worth hashing: anything longer is not one of ours. */
const MAX_KEY_LENGTH = 512;

/**
 * The configured caller whose API key is `presented`, or null. Configuration holds only SHA-256
 * digests; the presented key's digest is compared in constant time against every entry, so timing
 * reveals neither which entry matched nor how much of it did.
 */
export async function apiCallerFor(config: Config, presented: string | undefined): Promise<ApiKeyEntry | null> {
  if (!presented || presented.length > MAX_KEY_LENGTH) return null;
  const entries = config.apiKeys;
  const presentedDigest = await crypto.subtle.digest('SHA-256', utf8(presented));
  let matchedIndex = -1;
  entries.forEach((entry, index) => {
    if (crypto.subtle.timingSafeEqual(presentedDigest, entry.digest)) matchedIndex = index;
  });
  return entries[matchedIndex] ?? null;
}

/** The caller, when its key was valid and carries `scope`: else 401 (unknown key) or 403 (scope). */
export function withScope(caller: ApiKeyEntry | null, scope: ApiScope): ApiKeyEntry {
  if (!caller) throw unauthorized('the API key is not valid');
  if (!caller.scopes.has(scope)) throw new BrokerError(403, 'insufficient_scope', `this API key may not be used for ${scope} tokens`);
  return caller;
}

/**
 * Requires `Authorization: Bearer <API key>` carrying `scope`. Unknown key: 401; known key without
 * the scope: 403. The middleware documents its requirement in /openapi.json.
 */
export function requireApiKey(scope: ApiScope) {
  return documented(
    createMiddleware<AppEnv>(async (c, next) => {
      const presented = bearerToken(c.req.header('Authorization'));
      if (!presented || presented.length > MAX_KEY_LENGTH) throw unauthorized('an API key is required: Authorization: Bearer <API key>');
      const caller = withScope(await apiCallerFor(getConfig(c.env), presented), scope);
      c.set('apiCaller', caller.name);
      await next();
    }),
    { security: apiKeySecurity(scope) },
  );
}
