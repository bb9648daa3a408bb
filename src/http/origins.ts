import type { Context } from 'hono';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { BrokerError } from '../errors';

/** The broker's own public origin: PUBLIC_URL when set, else the origin this request came to. */
export function brokerOrigin(c: Context<AppEnv>): string {
  return getConfig(c.env).publicUrl ?? new URL(c.req.url).origin;
}

/**
 * This broker's /authorize asking for `scopes`: where to send a user whose grant should hold them.
 * A path on the broker when its origin is unknown.
 */
export function authorizeUrlFor(brokerOrigin: string | null, scopes: readonly string[]): string {
  const query = new URLSearchParams({ scope: [...new Set(scopes)].join(' ') });
  return `${brokerOrigin ?? ''}/authorize?${query}`;
}

/** True for the broker's own origin and for origins listed in ALLOWED_ORIGINS. */
export function isAllowedOrigin(c: Context<AppEnv>, origin: string | undefined | null): boolean {
  if (!origin) return false;
  return origin === brokerOrigin(c) || getConfig(c.env).allowedOrigins.has(origin);
}

/**
 * Resolves `return_to` to an absolute URL on the broker's origin or an allowed one, or null.
 * Relative paths resolve against the broker. Backslashes, control characters and userinfo are
 * refused outright, since browsers and URL parsers disagree about them.
 */
export function resolveReturnTo(raw: string | undefined, brokerOrigin: string, allowedOrigins: ReadonlySet<string>): string | null {
  if (raw === undefined || raw === '') return `${brokerOrigin}/`;
  if (raw.length > 2048 || /[\\\u0000-\u001f\u007f]/.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw, brokerOrigin);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username || url.password) return null;
  return url.origin === brokerOrigin || allowedOrigins.has(url.origin) ? url.href : null;
}

/**
 * A browser's cross-origin POST carries `Origin`; one from an origin we do not know is refused.
 * `required` refuses a missing Origin too: for cookie-authenticated state changes (CSRF).
 */
export function checkOrigin(c: Context<AppEnv>, required: boolean): void {
  const origin = c.req.header('Origin');
  if (origin === undefined ? required : !isAllowedOrigin(c, origin)) {
    throw new BrokerError(403, 'forbidden_origin', 'this request must come from the broker or an origin listed in ALLOWED_ORIGINS');
  }
}
