/** One Twitch scope: `channel:read:subscriptions`, `openid`, legacy `user_read`. */
const SCOPE = /^[A-Za-z0-9:_.-]{1,100}$/;
const MAX_SCOPES = 50;

/**
 * Parses a space-separated scope list (`+` already decoded to space by the query parser).
 * Null when any scope is malformed or there are too many; duplicates are dropped.
 */
export function parseScopes(raw: string): string[] | null {
  if (raw.length > 2000) return null;
  const scopes = raw.split(' ').filter(Boolean);
  if (scopes.length > MAX_SCOPES || !scopes.every((scope) => SCOPE.test(scope))) return null;
  return [...new Set(scopes)];
}
