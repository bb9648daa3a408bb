import type { Config } from '../config';
import { BrokerError, invalidRequest } from '../errors';

/**
 * Where a `/helix/*` request may go, decided on the path exactly as it arrived (still
 * percent-encoded). Hono's `c.req.path` is already decoded, and `fetch` re-parses whatever URL it is
 * given: `%5C` would become `\` and then `/`, `%09` a tab that is dropped, and `..` would be
 * resolved, walking a checked path out of its prefix (or out of /helix). So every segment must be a
 * plain word, the target is built with `new URL()`, and the check and the allowlist apply to the
 * pathname that URL really has.
 */

/** A Helix path segment: letters, digits and `_ - . ~`, not starting with a dot. Helix's own paths are words; ids go in the query. */
const PLAIN_SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9_.~-]*$/;

/** Why a segment is refused, in words a caller can act on. */
function segmentProblem(segment: string): string {
  if (segment === '') return 'an empty segment (//)';
  if (segment === '.' || segment === '..') return `a "${segment}" segment`;
  if (/%(2e|2f|5c)/i.test(segment)) return 'an encoded ".", "/" or "\\"';
  if (segment.includes('%')) return 'a percent-encoded character';
  if (segment.includes('\\')) return 'a backslash';
  if (/[\x00-\x1f\x7f]/.test(segment)) return 'a control character';
  return 'a character other than letters, digits and "_ - . ~" (or a leading dot)';
}

/** The upstream URL of a proxied call and its path below `/helix` (what HELIX_PROXY_ALLOW is matched against). */
export interface HelixTarget {
  url: URL;
  path: string;
}

/**
 * Builds the upstream URL for a request to `/helix/<path>` from its raw URL, or throws a 400
 * `invalid_request` naming what was refused. The result's pathname always starts with the API
 * base's path followed by `/helix/`.
 */
export function helixTarget(requestUrl: string, apiBaseUrl: string): HelixTarget {
  const { pathname, search } = new URL(requestUrl);
  if (!pathname.startsWith('/helix/')) throw invalidRequest('the Helix proxy serves paths below /helix/ only');
  const below = pathname.slice('/helix'.length);
  const segments = below.slice(1).split('/');
  for (const [index, segment] of segments.entries()) {
    // One trailing slash is harmless (`/helix/users/`); Helix decides what it means.
    if (segment === '' && index > 0 && index === segments.length - 1) continue;
    if (!PLAIN_SEGMENT.test(segment))
      throw invalidRequest(`the Helix path has ${segmentProblem(segment)}; it must be plain segments like /helix/chat/messages`);
  }
  const url = new URL(apiBaseUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const expected = `${basePath}/helix${below}`;
  url.pathname = expected;
  url.search = search;
  url.hash = '';
  // Belt and braces: whatever the URL parser did, the path sent is the path checked.
  if (url.pathname !== expected || !url.pathname.startsWith(`${basePath}/helix/`)) {
    throw invalidRequest('the Helix path does not stay below /helix/');
  }
  return { url, path: url.pathname.slice(`${basePath}/helix`.length) };
}

/** `HELIX_PROXY_ALLOW` as `(method, path prefix)` rules over the final path; GET on any path is always allowed. */
export function helixWriteAllowed(config: Pick<Config, 'helixProxyAllow'>, method: string, path: string): boolean {
  if (method === 'GET') return true;
  return config.helixProxyAllow.some(
    (rule) => rule.method === method && (path === rule.prefix || path.startsWith(rule.prefix.endsWith('/') ? rule.prefix : `${rule.prefix}/`)),
  );
}

/** 403 for a write HELIX_PROXY_ALLOW does not list. */
export const helixWriteForbidden = (method: string, path: string): BrokerError =>
  new BrokerError(403, 'forbidden', `the Helix proxy does not allow ${method} ${path} (see HELIX_PROXY_ALLOW)`);
